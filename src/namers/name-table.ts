import { IdleTable } from '../util/idle-table.js';
import { realClock, type Clock } from '../util/clock.js';
import type { Addr } from '../dtab/name.js';
import type { Path } from '../dtab/path.js';
import { LiveName, type NameHolder, type NameSource } from './live-name.js';
import type { NamerReadiness } from './namer.js';
import { Refused, askUntilRoom } from './ask-until-room.js';
import { OVER_RATE, type CreationRate } from './creation-rate.js';

export interface NameTableOptions {
  /** Keep discovering this long after the last user leaves (a Neg name: at most NEGATIVE_IDLE_TTL_MS). */
  idleTtlMs: number;
  /** Most names at once: idle ones make room, then new names are refused. Default: no limit. */
  maxNames?: number;
  /** Called each time a new name finds the table full (metrics). */
  onFull?: () => void;
  /** Why a name was refused (the table is full of names in use), as its failed address set says. */
  refusal?: (key: string) => string;
  /** How fast new names may start discovery; a name over the rate stays pending until it may. Default: no limit. */
  rate?: CreationRate;
  /** Called each time a new name is held back by `rate` (metrics). */
  onRate?: () => void;
  /** Why a name is held back by `rate`, as its last error says. */
  rateRefusal?: (key: string) => string;
  clock?: Clock;
}

/**
 * A namer's discovered names by key (`host/port`, a file, `namespace/port/service`): one LiveName
 * each, in the one idle table, and the namer's state, readiness and close over them. Names come from
 * requests (`l5d-dtab` can name anything), so the table is what bounds them.
 */
export class NameTable {
  private readonly table: IdleTable<string, LiveName>;
  private readonly clock: Clock;
  private closed = false;

  constructor(private readonly options: NameTableOptions) {
    this.clock = options.clock ?? realClock;
    this.table = new IdleTable<string, LiveName>({
      idleTtlMs: options.idleTtlMs,
      isTransient: (name) => name.state === 'neg',
      maxEntries: options.maxNames,
      onFull: options.onFull,
      dispose: (name) => name.close(),
      clock: options.clock,
    });
  }

  /**
   * The name of `key`, made with `source` when new; with every name in use, a refused name that is
   * not kept: a failed address set naming the limit until the table has room. A new name over the
   * `rate` is refused the same way but stays pending meanwhile (its last error says why).
   *
   * Whoever asked may keep the refused name long after (the global namer's answers, a cached
   * binding renewed by use), and one client's flood of names must not leave another's name refused
   * once the flood is gone. So while observed, the refused name asks the table again (when discovery
   * starts, then after a short backoff); once it gets the table's name for `key` it follows it
   * (existence and address set) for as long as it is observed itself.
   */
  get(key: string, id: Path, source: NameSource): LiveName {
    const make = (e: NameHolder) => new LiveName(id, source, e);
    const first = this.ask(key, make, false);
    if (!(first instanceof Refused)) return first;
    return new LiveName(id, (sink) =>
      askUntilRoom({
        sink,
        // Whichever refused the name first counted it: asking again is not counted.
        ask: () => this.ask(key, make, true),
        admitted: (name) => {
          const following = name.addr.observe((addr) => follow(sink, name, addr));
          return () => following.close();
        },
        closed: () => this.closed,
        clock: this.clock,
      }),
    );
  }

  /**
   * The table's name for `key`, or why not. A new name takes a token of the rate first, and gives it
   * back when the table refuses it: only names that start discovery spend the rate.
   */
  private ask(key: string, make: (e: NameHolder) => LiveName, again: boolean): LiveName | Refused {
    const rate = this.options.rate;
    const get = () => (again ? this.table.getAgain(key, make) : this.table.get(key, make))?.value;
    const name = rate !== undefined && this.table.peek(key) === undefined ? rate.admit(get) : get();
    if (name === OVER_RATE) {
      if (!again) this.options.onRate?.();
      return new Refused(this.options.rateRefusal?.(key) ?? `new names are over the namer's rate: not discovering ${key} yet`, true);
    }
    if (name !== undefined) return name;
    return new Refused(this.options.refusal?.(key) ?? `too many names in use (${this.options.maxNames}): not discovering ${key}`, false);
  }

  get size(): number {
    return this.table.size;
  }

  /** Every name with its key; reading keeps nothing alive. */
  *entries(): IterableIterator<[string, LiveName]> {
    for (const entry of this.table.values()) yield [entry.key, entry.value];
  }

  /**
   * Not ready while a name in use (discovery running) has never had its first answer; the reason
   * names each such name (`label key`) and its last error.
   */
  ready(label: string): NamerReadiness {
    const waiting: string[] = [];
    for (const [key, name] of this.entries()) {
      if (name.active && name.state === 'pending') waiting.push(`${label} ${key}: ${name.lastError ?? 'waiting for the first answer'}`);
    }
    return waiting.length === 0 ? { ready: true } : { ready: false, reason: waiting.join('; ') };
  }

  state(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, name] of this.entries()) out[key] = { state: name.state, addr: name.addr.sample, lastError: name.lastError };
    return out;
  }

  /** Each name's existence, endpoints (`host`, `port` and their discovery metadata) and last error, for namer state pages. */
  endpointsState(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, name] of this.entries()) {
      const addr = name.addr.sample;
      out[key] = {
        state: name.state,
        addrs: addr.type === 'bound' ? addr.addrs.map((a) => ({ host: a.host, port: a.port, ...a.meta })) : addr.type,
        lastError: name.lastError,
      };
    }
    return out;
  }

  close(): void {
    this.closed = true;
    this.table.close();
  }
}

/** A refused name, once the table had room, says what the table's name says. */
function follow(sink: LiveName, name: LiveName, addr: Addr): void {
  sink.lastError = name.lastError;
  if (addr.type === 'failed') sink.fail(addr.cause);
  else if (addr.type === 'bound') sink.update('bound', addr.addrs, addr.meta);
  else sink.update(addr.type);
}
