import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { delegate, DelegateLookupsError, DelegateTreeSizeError, type DelegateNode } from '../../src/dtab/delegate.js';
import { routeDelegation } from '../../src/dtab/delegation-routing.js';
import { NameInterpreter, NamerMaxLookupsError } from '../../src/dtab/interpreter.js';
import type { Addr, BoundName } from '../../src/dtab/name.js';
import type { NameTree } from '../../src/dtab/nametree.js';
import { parseDtab, parsePath } from '../../src/dtab/parse.js';
import { unionShares } from '../../src/dtab/route.js';
import type { ActivityState } from '../../src/util/activity.js';
import { Var } from '../../src/util/var.js';
import { globalNamer } from '../../src/namers/global.js';

/**
 * What the admin says routing does (routeDelegation over a delegation) is what binding and the
 * per-call pick do, over random dtabs mixing Alt, Union (zero weights too), `~`, `!`, `$`,
 * `/$/fail`, `/$/nil`, unknown global namers, names nothing binds, and bound names whose
 * address set is Neg. Both sides are reduced to where a name's calls go and in what share: a
 * bound id, 'no route', or 'binding failed'.
 */

const NEG_ADDR = Var.value<Addr>({ type: 'neg' });
const global = globalNamer({
  resolveHost: (host, port) => (host === 'nx.invalid' ? NEG_ADDR : Var.value<Addr>({ type: 'bound', addrs: [{ host, port, weight: 1, meta: {} }], meta: {} })),
});
const interpreter = new NameInterpreter({ global });

const TERMINALS = ['/$/inet/127.0.0.1/7001', '/$/inet/127.0.0.1/7002', '/$/inet/nx.invalid/80', '/$/nil', '/$/fail', '/$/nope', '/nowhere', '~', '!', '$'];

/** A name tree in dtab syntax over the terminals and `refs` (the names a dentry may point on to). */
function treeText(refs: string[]): fc.Arbitrary<string> {
  const leaf = fc.constantFrom(...TERMINALS, ...refs);
  const { node } = fc.letrec<{ node: string; alt: string; union: string }>((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('alt'), tie('union')),
    alt: fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((ts) => `(${ts.join(' | ')})`),
    union: fc.array(fc.tuple(fc.constantFrom(0, 0.5, 1, 3), tie('node')), { minLength: 2, maxLength: 3 }).map((ws) => `(${ws.map(([w, t]) => `${w} * ${t}`).join(' & ')})`),
  }));
  return node;
}

// Later names only point at earlier-listed ones' successors, so no dtab loops.
const dtabText = fc
  .tuple(treeText([]), treeText(['/x3']), treeText(['/x2', '/x3']), fc.array(treeText(['/x1', '/x2', '/x3']), { minLength: 1, maxLength: 2 }))
  .map(([x3, x2, x1, s]) => [`/x3 => ${x3}`, `/x2 => ${x2}`, `/x1 => ${x1}`, ...s.map((t) => `/s => ${t}`)].join(';\n'));

type Shares = Map<string, number>;

function add(m: Shares, key: string, share: number): void {
  if (share > 0) m.set(key, (m.get(key) ?? 0) + share);
}

/** Where binding plus the per-call pick send calls. */
function fromBinding(state: ActivityState<NameTree<BoundName>>): Shares {
  const out: Shares = new Map();
  if (state.status === 'failed') add(out, 'binding failed', 1);
  else if (state.status === 'ok') walk(state.value, 1);
  return out;
  function walk(t: NameTree<BoundName>, share: number): void {
    switch (t.kind) {
      case 'leaf':
        return add(out, t.value.id.show(), share);
      case 'union': {
        const shares = unionShares(t.trees.map((w) => w.weight));
        t.trees.forEach((w, i) => walk(w.tree, share * shares[i]!));
        return;
      }
      case 'alt':
        throw new Error('a bound tree holds no Alt');
      default:
        return add(out, 'no route', share);
    }
  }
}

/** Where the annotated delegation says calls go. */
function fromDelegation(root: DelegateNode): Shares {
  const out: Shares = new Map();
  const walk = (n: DelegateNode): void => {
    const r = n.routing!;
    if (!r.chosen) return;
    const kids = n.type === 'delegate' ? [n.delegate] : n.type === 'alt' ? n.alt : n.type === 'union' ? n.union.map((w) => w.tree) : [];
    const chosen = kids.filter((k) => k.routing!.chosen);
    if (chosen.length > 0) return chosen.forEach(walk);
    if (n.type === 'leaf') add(out, n.bound.id, r.share);
    else add(out, r.fails === 'binding failed' ? 'binding failed' : 'no route', r.share);
  };
  walk(root);
  return out;
}

function near(a: Shares, b: Shares): boolean {
  const keys = new Set([...a.keys(), ...b.keys()]);
  for (const k of keys) if (Math.abs((a.get(k) ?? 0) - (b.get(k) ?? 0)) > 1e-9) return false;
  return true;
}

test('routeDelegation says where calls go exactly as binding and the pick send them', async () => {
  await fc.assert(
    fc.asyncProperty(dtabText, async (text) => {
      const dtab = parseDtab(text);
      const path = parsePath('/s/a');
      let state: ActivityState<NameTree<BoundName>> | undefined;
      interpreter.bind(dtab, path).observe((s) => (state = s)).close();
      assert.notEqual(state!.status, 'pending');
      // Past their lookup bounds the two are not compared: binding refuses the name, and
      // delegation, which explores every alternative, may refuse a name binding takes (or its tree's size).
      fc.pre(!(state!.status === 'failed' && state!.error instanceof NamerMaxLookupsError));
      const bound = fromBinding(state!);
      let tree;
      try {
        tree = await delegate(interpreter, dtab, path);
      } catch (e) {
        fc.pre(!(e instanceof DelegateLookupsError || e instanceof DelegateTreeSizeError));
        throw e;
      }
      const said = fromDelegation(routeDelegation(tree));
      assert.ok(near(bound, said), `dtab:\n${text}\nbinding: ${JSON.stringify([...bound])}\ndelegation: ${JSON.stringify([...said])}`);
    }),
    { numRuns: 300 },
  );
});
