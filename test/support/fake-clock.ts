import type { Clock } from '../../src/util/clock.js';

/** A Clock that moves only when told: `advance` runs the timers that fall due, in time order. */
export class FakeClock implements Clock {
  private time = 0;
  private readonly timers = new Set<{ next: number; ms: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  every(ms: number, fn: () => void): () => void {
    const timer = { next: this.time + ms, ms, fn };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  /** How many repeating timers are running (a table with no entries should run none). */
  get running(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let due: { next: number; ms: number; fn: () => void } | undefined;
      for (const t of this.timers) if (t.next <= end && (due === undefined || t.next < due.next)) due = t;
      if (due === undefined) break;
      this.time = due.next;
      due.next += due.ms;
      due.fn();
    }
    this.time = end;
  }
}
