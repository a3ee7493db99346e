import type { Activity } from '../../src/util/activity.js';
import type { Var, Closable } from '../../src/util/var.js';
import type { Addr, BoundName, Name } from '../../src/dtab/name.js';
import type { NameTree } from '../../src/dtab/nametree.js';
import { Logger } from '../../src/util/log.js';

/** Observe a Var for the duration of a test, recording every value it takes. */
export class Watching<T> {
  readonly values: T[] = [];
  private readonly handle: Closable;
  constructor(readonly v: Var<T>) {
    this.handle = v.observe((x) => this.values.push(x));
  }
  get current(): T {
    return this.values[this.values.length - 1]!;
  }
  close(): void {
    this.handle.close();
  }
}

/** The bound leaf of an ok Activity state, or undefined. */
export function boundOf(activity: Activity<NameTree<Name>>): BoundName | undefined {
  const s = activity.sample;
  if (s.status !== 'ok' || s.value.kind !== 'leaf') return undefined;
  const n = s.value.value;
  return n.kind === 'bound' ? n : undefined;
}

export function isNeg(activity: Activity<NameTree<Name>>): boolean {
  const s = activity.sample;
  return s.status === 'ok' && s.value.kind === 'neg';
}

/** `host:port` strings of a bound Addr, sorted; undefined when not bound. */
export function hostPorts(addr: Addr): string[] | undefined {
  if (addr.type !== 'bound') return undefined;
  return addr.addrs.map((a) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`)).sort();
}

/** A logger whose lines tests can read. */
export function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = Logger.create({ level: 'debug', format: 'json', sink: { write: (l) => void lines.push(l) } });
  return { log, lines };
}

export function sameSet(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return !!a && a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}
