import { Backoff } from '../util/backoff.js';
import type { Clock } from '../util/clock.js';
import type { LiveName } from './live-name.js';

/** How soon, then how often at most, a refused name asks its table again. */
export const REFUSED_RETRY_MIN_MS = 1000;
export const REFUSED_RETRY_MAX_MS = 5000;

/**
 * Why a name is not admitted now. A full table (`pending` false) may stay full for long: the name
 * fails, saying why. A creation rate (`pending` true) admits it within seconds: it stays pending,
 * its last error saying why, so callers wait for the answer rather than fail.
 */
export class Refused {
  constructor(
    readonly why: string,
    readonly pending: boolean,
  ) {}
}

export interface AskUntilRoomOptions<T> {
  /** The name that waits for room. */
  sink: LiveName;
  /**
   * Ask the table; Refused while it has no room (or no new entry may start yet). `again` on every ask
   * after the first: the refusal was counted already, so the table must not report it (IdleTable.getAgain).
   */
  ask(again: boolean): T | Refused;
  /** The table had room: feed `sink` from `value` until the returned function is called. `again`: `sink` was refused until now. */
  admitted(value: T, again: boolean): () => void;
  /** The table is closed and will never have room: stop asking. */
  closed?(): boolean;
  clock: Clock;
}

/**
 * A name's discovery (a NameSource's body) through a bounded table: ask at once, and while the table
 * refuses, say why on the name and ask again after a jittered backoff (REFUSED_RETRY_MIN_MS doubling
 * to REFUSED_RETRY_MAX_MS), so a flood's refusal does not outlast the flood. Returns the discovery's
 * stop: no timer runs, and nothing the table gave is held, once the name is unobserved.
 */
export function askUntilRoom<T>(options: AskUntilRoomOptions<T>): () => void {
  const { sink, clock } = options;
  const backoff = new Backoff(REFUSED_RETRY_MIN_MS, REFUSED_RETRY_MAX_MS);
  let again = false;
  let stopped = false;
  let cancel: (() => void) | undefined;
  let stopUsing: (() => void) | undefined;
  const attempt = () => {
    cancel = undefined;
    if (stopped) return;
    if (options.closed?.()) return refuse(sink, CLOSED);
    const value = options.ask(again);
    if (value instanceof Refused) {
      refuse(sink, value);
      again = true;
      cancel = clock.after(backoff.next(), attempt);
      return;
    }
    const using = options.admitted(value, again);
    // The name's first answer may have made its last user leave, stopping this before it knew what to stop.
    if (stopped) using();
    else stopUsing = using;
  };
  attempt();
  return () => {
    stopped = true;
    cancel?.();
    stopUsing?.();
    stopUsing = undefined;
  };
}

const CLOSED = new Refused('the namer is closed', false);

/** The name says why it waits now: failed by a full table, pending (again) while only the rate holds it. */
function refuse(sink: LiveName, refused: Refused): void {
  if (refused.pending) {
    if (sink.state !== 'pending') sink.update('pending');
    sink.lastError = refused.why;
  } else if (sink.addr.sample.type !== 'failed' || sink.lastError !== refused.why) sink.fail(refused.why);
}
