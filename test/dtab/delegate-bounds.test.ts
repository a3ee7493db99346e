import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameInterpreter, parseDtab, parsePath } from '../../src/dtab/index.js';
import { DELEGATION_MAX_DENTRY_SCANS, delegate, DelegateLookupsError, DelegateTreeSizeError } from '../../src/dtab/delegate.js';
import { routeDelegation } from '../../src/dtab/delegation-routing.js';
import { FakeNamer } from '../support/fake-namer.js';
import { Path } from '../../src/dtab/path.js';
import { globalNamer } from '../../src/namers/global.js';
import { PENDING } from '../../src/util/activity.js';

const interpreter = () => new NameInterpreter({ global: globalNamer() });

// The delegation tree's size is bounded where it is built: lookups alone do not bound it (one
// dentry's alternatives make a node each, and every node repeats its dentry's text).

const alternatives = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(' | ');
const padding = (n: number) => Array.from({ length: n }, (_, i) => `/c${i} => /d;`).join('');

test('a tree past maxNodes is refused at the bound: the namers behind the rest are never asked', async () => {
  const namer = new FakeNamer(Path.of('n'));
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: Path.of('n'), kind: 'test', namer }] });
  const dtab = parseDtab(`/a => ${alternatives(100, (i) => `/n/${i}`)}`);
  await assert.rejects(delegate(interpreter, dtab, parsePath('/a'), { maxNodes: 20 }), (e: Error) =>
    e instanceof DelegateTreeSizeError && e.bound === 'nodes' && e.limit === 20 &&
    e.message === "Delegating /a makes a tree of more than 20 nodes: the dtab's alternatives and unions multiply");
  assert.ok(namer.lookups.length < 20, `${namer.lookups.length} namer lookups`);
});

test('a tree past maxBytes is refused before it is built: one dentry of 1,500 alternatives, each node repeating it', async () => {
  // The auditor's dtab: 14 KB that made an 18.7 MB answer.
  const dtab = parseDtab(padding(1500) + `/a => ${alternatives(1500, (i) => `/b${i}`)};`);
  await assert.rejects(delegate(interpreter(), dtab, parsePath('/a')), (e: Error) => e instanceof DelegateTreeSizeError && e.bound === 'bytes' && e.limit === 256 * 1024);
  // 16,000 `~` in 32 KB: 16,000 nodes of a 32 KB dentry, past what a string can hold.
  const negs = parseDtab(`/a => ${alternatives(16_000, () => '~')}`);
  await assert.rejects(delegate(interpreter(), negs, parsePath('/a')), (e: Error) => e instanceof DelegateTreeSizeError);
});

test('a bound reached in one branch of an Alt ends the whole delegation, not only that branch', async () => {
  // Each branch's subtree alone is under the bound; together they are not.
  const dtab = parseDtab(`/a => /x | /y; /x => ${alternatives(15, () => '~')}; /y => ${alternatives(15, () => '~')}`);
  await assert.rejects(delegate(interpreter(), dtab, parsePath('/a'), { maxNodes: 25 }), DelegateTreeSizeError);
});

test('an answer the bounds take is no larger than maxBytes, routing included', async () => {
  const maxBytes = 64 * 1024;
  for (const n of [10, 50, 100, 200, 400]) {
    for (const dtab of [`/a => ${alternatives(n, () => '~')}`, `/a => ${alternatives(n, (i) => `/b${i}`)}`, `/a => ${alternatives(n, () => '/b')}; /b => /c | /d`]) {
      try {
        const answer = JSON.stringify(routeDelegation(await delegate(interpreter(), parseDtab(dtab), parsePath('/a'), { maxBytes })));
        assert.ok(answer.length <= maxBytes, `${n} alternatives: ${answer.length} bytes`);
      } catch (e) {
        if (!(e instanceof DelegateTreeSizeError)) throw e;
      }
    }
  }
});

test('lookups through a long dtab are bounded by the dentries they scan, not only by their count', async () => {
  // 80 lookups through 1,580 dentries: 126,400 dentries scanned. Binding allows 2,000 lookups.
  const chain = Array.from({ length: 80 }, (_, i) => `/x${i} => /x${i + 1};`).join('');
  const dtab = parseDtab(padding(1500) + chain);
  const allowed = Math.floor(DELEGATION_MAX_DENTRY_SCANS / dtab.size);
  await assert.rejects(delegate(interpreter(), dtab, parsePath('/x0')), (e: Error) =>
    e instanceof DelegateLookupsError &&
    e.message === `Delegation needs more than ${allowed} lookups through 1580 dentries: the dtab's alternatives and unions multiply`);
  // The same chain through a short dtab is explained.
  const tree = await delegate(interpreter(), parseDtab(chain), parsePath('/x0'));
  assert.equal(tree.type, 'delegate');
});

test("a bound reached while a namer's answer is made into nodes ends the delegation, not as that lookup's exception", async () => {
  // Nodes: /a's step and its leaf, /$/inet/…'s step, then the global namer's answer: the 4th.
  const dtab = parseDtab('/a => /$/inet/127.0.0.1/1');
  await assert.rejects(delegate(interpreter(), dtab, parsePath('/a'), { maxNodes: 3 }), DelegateTreeSizeError);
  assert.equal((await delegate(interpreter(), dtab, parsePath('/a'), { maxNodes: 4 })).type, 'delegate');
});

test("a bound reached in one branch abandons the other branches' waits for namers at once: nothing stays observed until the deadline", async () => {
  const namer = new FakeNamer(Path.of('n'), PENDING);
  const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: Path.of('n'), kind: 'test', namer }] });
  const dtab = parseDtab(`/a => /n/slow | /b; /b => ${alternatives(20, () => '~')}`);
  await assert.rejects(delegate(interpreter, dtab, parsePath('/a'), { maxNodes: 10, timeoutMs: 60_000 }), DelegateTreeSizeError);
  assert.deepEqual(namer.lookups, ['/slow'], 'the sibling branch waited on its namer');
  await new Promise(setImmediate);
  assert.equal(namer.active, 0, 'its answer is no longer observed');
});
