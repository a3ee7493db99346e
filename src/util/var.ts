/**
 * A value that changes over time and tells its observers (Finagle's `Var`, reduced to what we use).
 *
 * A Var may be lazy: `activate` runs when the first observer arrives and its returned function runs
 * when the last one leaves, so a namer's watch lives exactly as long as someone routes through it.
 */
export interface Closable {
  close(): void;
}

export type Observer<T> = (value: T) => void;

export class Var<T> {
  private current: T;
  private readonly observers = new Set<Observer<T>>();
  private deactivate: (() => void) | undefined;

  constructor(
    initial: T,
    private readonly activate?: (self: Var<T>) => (() => void) | void,
  ) {
    this.current = initial;
  }

  /** The value now; never subscribes. */
  get sample(): T {
    return this.current;
  }

  /** Replace the value; observers hear of it only when it is a different object. */
  set(value: T): void {
    if (Object.is(value, this.current)) return;
    this.current = value;
    for (const observer of [...this.observers]) observer(value);
  }

  /** Call `observer` now with the current value and on every change until closed. */
  observe(observer: Observer<T>): Closable {
    // Wrap so the same function may observe twice and each close removes only its own entry.
    // An activation that sets the value synchronously has already told this observer; it is not
    // told the same value twice.
    let told = false;
    let last: T | undefined;
    const entry: Observer<T> = (v) => {
      told = true;
      last = v;
      observer(v);
    };
    this.observers.add(entry);
    if (this.observers.size === 1 && this.activate) this.deactivate = this.activate(this) ?? undefined;
    if (!told || !Object.is(last, this.current)) entry(this.current);
    return {
      close: () => {
        if (!this.observers.delete(entry)) return;
        if (this.observers.size === 0 && this.deactivate) {
          const stop = this.deactivate;
          this.deactivate = undefined;
          stop();
        }
      },
    };
  }

  get observed(): boolean {
    return this.observers.size > 0;
  }

  /** How many observers it has (a cache that observes what it holds tells its own from others'). */
  get observerCount(): number {
    return this.observers.size;
  }

  static value<T>(value: T): Var<T> {
    return new Var(value);
  }
}
