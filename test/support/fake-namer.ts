// The one namer tests control: its answers are set by the test and change while bindings watch them.
import { Var } from '../../src/util/var.js';
import { PENDING, failed, ok, type Activity, type ActivityState } from '../../src/util/activity.js';
import type { Namer } from '../../src/namers/namer.js';
import { Neg, leaf, type NameTree } from '../../src/dtab/nametree.js';
import type { Addr, BoundName, Name } from '../../src/dtab/name.js';
import { Path } from '../../src/dtab/path.js';
import { parsePath } from '../../src/dtab/parse.js';

type Answer = ActivityState<NameTree<Name>>;

/**
 * What a name nobody set answers: a fixed state (Neg by default, PENDING for a slow namer);
 * `serve`, a name bound to `<prefix>/<first segment>` (the rest is its residual) whose address set
 * the test publishes with `serve(name, ports)` — pending until then, as discovery would be; or
 * `error`, a failure naming the full path (Linkerd's test ErrorNamer).
 */
export type Unset = Answer | 'serve' | 'error';

export class FakeNamer implements Namer {
  private readonly answers = new Map<string, Activity<NameTree<Name>>>();
  private readonly addrs = new Map<string, Var<Addr>>();
  /** How many of its answers are observed right now (watches a real namer would hold open). */
  active = 0;
  /** Every path looked up, in order. */
  readonly lookups: string[] = [];

  constructor(
    readonly prefix: Path = Path.of('#', 'test'),
    private readonly unset: Unset = ok(Neg),
  ) {}

  lookup(path: Path): Activity<NameTree<Name>> {
    const key = path.show();
    this.lookups.push(key);
    return this.answers.get(key) ?? this.activity(key, this.unsetAnswer(path));
  }

  /** Answer `name` (a path, or one bare segment) with `state` from now on. */
  set(name: string, state: Answer): void {
    const key = keyOf(name);
    const a = this.answers.get(key);
    if (a === undefined) this.activity(key, state);
    else a.set(state);
  }

  /** Answer `name` with one bound name (id = prefix ++ name) at the given `host:port` addresses. */
  bind(name: string, ...addrs: string[]): BoundName {
    const bound = boundName(this.prefix.concat(parsePath(keyOf(name))), addrs);
    this.set(name, ok(leaf(bound)));
    return bound;
  }

  pending(name: string): void {
    this.set(name, PENDING);
  }

  fail(name: string, message: string): void {
    this.set(name, failed(new Error(message)));
  }

  /** The live address set of a served name (`serve` mode). */
  addr(name: string): Var<Addr> {
    let v = this.addrs.get(name);
    if (!v) this.addrs.set(name, (v = new Var<Addr>({ type: 'pending' })));
    return v;
  }

  /** Publish a served name's endpoints on 127.0.0.1, as discovery would. */
  serve(name: string, ports: number[]): void {
    this.addr(name).set({ type: 'bound', addrs: ports.map((port) => ({ host: '127.0.0.1', port, weight: 1, meta: {} })), meta: {} });
  }

  private unsetAnswer(path: Path): Answer {
    if (this.unset === 'error') return failed(new Error(`error naming ${this.prefix.concat(path).show()}`));
    if (this.unset !== 'serve') return this.unset;
    const name = path.segments[0] ?? '';
    return ok(leaf<Name>({ kind: 'bound', id: this.prefix.concat(Path.of(name)), addr: this.addr(name), residual: path.drop(1) }));
  }

  private activity(key: string, initial: Answer): Activity<NameTree<Name>> {
    const a = new Var<Answer>(initial, () => {
      this.active++;
      return () => {
        this.active--;
      };
    });
    this.answers.set(key, a);
    return a;
  }
}

function keyOf(name: string): string {
  return (name.startsWith('/') ? parsePath(name) : Path.of(name)).show();
}

export function boundName(id: Path, addrs: string[], residual: Path = Path.empty): BoundName {
  return { kind: 'bound', id, residual, addr: Var.value<Addr>(addrOf(addrs)) };
}

export function addrOf(addrs: string[]): Addr {
  return {
    type: 'bound',
    addrs: addrs.map((a) => {
      const i = a.lastIndexOf(':');
      return { host: a.slice(0, i), port: Number(a.slice(i + 1)), weight: 1, meta: {} };
    }),
    meta: {},
  };
}
