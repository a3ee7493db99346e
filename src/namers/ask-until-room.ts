import { Backoff } from '../util/backoff.js';
import type { Clock } from '../util/clock.js';
import type { LiveName } from './live-name.js';

/** How soon, then how often at most, a refused name asks its table again. */
export const REFUSED_RETRY_MIN_MS = 1000;
export const REFUSED_RETRY_MAX_MS = 5000;

export interface AskUntilRoomOptions<T> {
  /** The name that waits for room: it fails with `why` while refused. */
  sink: LiveName;
  /** The refusal, as the failed address set says it (which limit, which name). */
  why: string;
  /**
   * Ask the table; undefined while it is full of things in use. `again` on every ask after the
   * first: the refusal was counted already, so the table must not report it (IdleTable.getAgain).
   */
  ask(again: boolean): T | undefined;
  /** The table had room: feed `sink` from `value` until the returned function is called. `again`: `sink` was refused until now. */
  admitted(value: T, again: boolean): () => void;
  /** The table is closed and will never have room: stop asking. */
  closed?(): boolean;
  clock: Clock;
}

/**
 * A name's discovery (a NameSource's body) through a bounded table: ask at once, and while the table
 * refuses, fail the name saying why and ask again after a jittered backoff (REFUSED_RETRY_MIN_MS
 * doubling to REFUSED_RETRY_MAX_MS), so a flood's refusal does not outlast the flood. Returns the
 * discovery's stop: no timer runs, and nothing the table gave is held, once the name is unobserved.
 */
export function askUntilRoom<T>(options: AskUntilRoomOptions<T>): () => void {
  const { sink, why, clock } = options;
  const backoff = new Backoff(REFUSED_RETRY_MIN_MS, REFUSED_RETRY_MAX_MS);
  let again = false;
  let stopped = false;
  let cancel: (() => void) | undefined;
  let stopUsing: (() => void) | undefined;
  const attempt = () => {
    cancel = undefined;
    if (stopped) return;
    const closed = options.closed?.() ?? false;
    const value = closed ? undefined : options.ask(again);
    if (value === undefined) {
      if (sink.addr.sample.type !== 'failed' || sink.lastError !== why) sink.fail(why);
      again = true;
      if (!closed) cancel = clock.after(backoff.next(), attempt);
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
