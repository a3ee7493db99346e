// An in-memory namer for tests: answers are set by the test and change while bindings watch them.
import { Var } from '../../src/util/var.js';
import { PENDING, failed, ok, type Activity, type ActivityState } from '../../src/util/activity.js';
import type { Namer } from '../../src/namers/namer.js';
import { Neg, leaf, type NameTree } from '../../src/dtab/nametree.js';
import type { Addr, BoundName, Name } from '../../src/dtab/name.js';
import { Path } from '../../src/dtab/path.js';
import { parsePath } from '../../src/dtab/parse.js';

export class MemoryNamer implements Namer {
  private readonly answers = new Map<string, Activity<NameTree<Name>>>();
  /** How many of its answers are observed right now (watches a real namer would hold open). */
  active = 0;
  lookups: string[] = [];

  constructor(
    readonly prefix: Path,
    /** The answer for a name nobody set. */
    private readonly fallback: ActivityState<NameTree<Name>> = ok(Neg),
  ) {}

  lookup(path: Path): Activity<NameTree<Name>> {
    this.lookups.push(path.show());
    return this.activity(path.show());
  }

  private activity(key: string): Activity<NameTree<Name>> {
    let a = this.answers.get(key);
    if (a === undefined) {
      a = new Var<ActivityState<NameTree<Name>>>(this.fallback, () => {
        this.active++;
        return () => {
          this.active--;
        };
      });
      this.answers.set(key, a);
    }
    return a;
  }

  set(name: string, state: ActivityState<NameTree<Name>>): void {
    this.activity(parsePath(name).show()).set(state);
  }

  /** Answer `name` with one bound name (id = prefix ++ name) at the given addresses. */
  bind(name: string, ...addrs: string[]): BoundName {
    const bound = boundName(this.prefix.concat(parsePath(name)), addrs);
    this.set(name, ok(leaf(bound)));
    return bound;
  }

  pending(name: string): void {
    this.set(name, PENDING);
  }

  fail(name: string, message: string): void {
    this.set(name, failed(new Error(message)));
  }
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

/** A namer whose every lookup fails with `error naming <full path>` (Linkerd's test ErrorNamer). */
export class ErrorNamer implements Namer {
  constructor(readonly prefix: Path) {}
  lookup(path: Path): Activity<NameTree<Name>> {
    return new Var<ActivityState<NameTree<Name>>>(failed(new Error(`error naming ${this.prefix.concat(path).show()}`)));
  }
}
