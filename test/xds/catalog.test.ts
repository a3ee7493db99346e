import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceCatalog } from '../../src/xds/catalog.js';
import { NameInterpreter } from '../../src/dtab/interpreter.js';
import type { PrefixedNamer } from '../../src/dtab/namer.js';
import { Dtab } from '../../src/dtab/dtab.js';
import { Path } from '../../src/dtab/path.js';
import { leaf, type NameTree } from '../../src/dtab/nametree.js';
import type { Addr, Name } from '../../src/dtab/name.js';
import { PENDING, ok, type ActivityState } from '../../src/util/activity.js';
import { globalNamer } from '../../src/namers/global.js';
import { Var } from '../../src/util/var.js';
import { eventually } from '../support/eventually.js';

/** A namer whose names never answer (`/#/never/…`: discovery refused or still asking), counting the ones observed. */
function neverNamer(observed: Set<string>): PrefixedNamer {
  return {
    prefix: Path.of('#', 'never'),
    kind: 'never',
    namer: {
      lookup: (path) =>
        new Var<ActivityState<NameTree<Name>>>(PENDING, () => {
          observed.add(path.show());
          return () => observed.delete(path.show());
        }),
    },
  };
}

/** A namer whose names are bound to a failed address set (`/#/refused/…`: a namer table refused them). */
function refusedNamer(observed: Set<string>): PrefixedNamer {
  return {
    prefix: Path.of('#', 'refused'),
    kind: 'refused',
    namer: {
      lookup: (path) => {
        const id = Path.of('#', 'refused').concat(path);
        const addr = new Var<Addr>({ type: 'failed', cause: 'too many names in use' }, () => {
          observed.add(path.show());
          return () => observed.delete(path.show());
        });
        return Var.value<ActivityState<NameTree<Name>>>(ok(leaf<Name>({ kind: 'bound', id, addr, residual: Path.empty })));
      },
    },
  };
}

test('names nobody can follow (no answer yet, or bound to nothing) are let go the transient TTL after their last stream, not the idle TTL', async () => {
  const observed = new Set<string>();
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [neverNamer(observed), refusedNamer(observed)] });
  const catalog = new ResourceCatalog({
    interpreter,
    dtab: Var.value(Dtab.empty),
    dstPrefix: Path.of('svc'),
    bindingTimeoutMs: 20,
    idleTtlMs: 600_000,
    transientIdleTtlMs: 40,
    maxNames: 100,
    onFull: () => {},
  });
  try {
    const ids = [Path.of('#', 'never', 'a'), Path.of('#', 'never', 'b'), Path.of('#', 'refused', 'c')].map((id) => ({ id }));
    const entries = ids.map((key) => catalog.acquire(key)!);
    // Each stream that asks follows the source: that is what keeps the namers' discovery observed.
    const follows = entries.map((e) => e.value.source.observe(() => {}));
    assert.equal(catalog.size, 3);
    await eventually('every name is asked of its namer', () => observed.size === 3, 2000);
    // The refused name is bound, with no endpoints; the others stay pending.
    await eventually('the refused name is published', () => entries[2]!.value.source.resource('cluster') !== 'pending', 2000);
    assert.equal(entries[0]!.value.source.resource('cluster'), 'pending');
    for (const f of follows) f.close();
    for (const e of entries) e.release();
    await eventually('the catalog let go of them within the transient TTL', () => catalog.size === 0, 2000);
    assert.equal(observed.size, 0, 'their discovery stopped');
  } finally {
    catalog.close();
  }
});
