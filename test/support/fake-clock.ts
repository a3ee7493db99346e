import type { Clock } from '../../src/util/clock.js';

interface Timer {
  next: number;
  /** Repeat interval; 0 for a one-shot timer. */
  ms: number;
  fn: () => void;
}

/** A Clock that moves only when told: `advance` runs the timers that fall due, in time order. */
export class FakeClock implements Clock {
  private readonly timers = new Set<Timer>();

  constructor(private time = 0) {}

  now(): number {
    return this.time;
  }

  every(ms: number, fn: () => void): () => void {
    return this.add({ next: this.time + ms, ms: Math.max(1, ms), fn });
  }

  after(ms: number, fn: () => void): () => void {
    return this.add({ next: this.time + Math.max(0, ms), ms: 0, fn });
  }

  /** How many timers are pending (a table with no entries should run none). */
  get running(): number {
    return this.timers.size;
  }

  /** Move time forward by `ms`, running every timer due on the way (timers they set included). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let due: Timer | undefined;
      for (const t of this.timers) if (t.next <= end && (due === undefined || t.next < due.next)) due = t;
      if (due === undefined) break;
      this.time = due.next;
      if (due.ms === 0) this.timers.delete(due);
      else due.next += due.ms;
      due.fn();
    }
    this.time = end;
  }

  private add(timer: Timer): () => void {
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }
}
