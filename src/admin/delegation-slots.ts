import { HoldsPerClient } from '../util/holds-per-client.js';
import { HttpError } from './http.js';

/** Defaults: `admin.maxDelegations`, `admin.maxDelegationsPerClient`. */
export const DELEGATIONS_IN_FLIGHT = 4;
export const DELEGATIONS_IN_FLIGHT_PER_CLIENT = 2;

/**
 * Delegations in flight, bounded in all (`admin.maxDelegations`) and per client address
 * (`admin.maxDelegationsPerClient`): a delegation waits up to 2 s for namers holding its tree, so
 * one pod's connections (16 by `admin.maxConnectionsPerClient`) must not each hold one.
 */
export class DelegationSlots {
  private inFlight = 0;
  private readonly perClient: HoldsPerClient;

  constructor(
    private readonly max: number,
    private readonly maxPerClient: number,
    /** Called with the config key of a bound that refused a delegation. */
    private readonly reached: (key: string) => void,
  ) {
    this.perClient = new HoldsPerClient(maxPerClient);
  }

  /** `work` in a slot of `address`; a 429 naming the bound when there is none. */
  async run<T>(address: string, work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.max) throw this.refuse('admin.maxDelegations', `${inFlight(this.max)} in flight`);
    if (this.perClient.acquire(address) === undefined) {
      throw this.refuse('admin.maxDelegationsPerClient', `${inFlight(this.maxPerClient)} in flight from ${address}`);
    }
    this.inFlight++;
    try {
      return await work();
    } finally {
      this.inFlight--;
      this.perClient.release(address);
    }
  }

  private refuse(key: string, what: string): HttpError {
    this.reached(key);
    return new HttpError(429, `Too many delegations: ${what} (${key}); ask again once it is answered`, { 'retry-after': '1' });
  }
}

const inFlight = (n: number) => (n === 1 ? '1 delegation is' : `${n} delegations are`);
