import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MISSING, watchFile, watchedDirectories } from '../../src/util/file-watch.js';
import { eventually } from '../support/eventually.js';

test('watchFile: every watch of one directory shares one directory watch, missing names answer at once, changes are told', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-file-watch-'));
  const before = watchedDirectories();
  const stamps = new Map<string, string[]>();
  const stops: (() => void)[] = [];
  try {
    writeFileSync(join(dir, 'present'), 'a');
    // A client can name any file: 1,000 names that do not exist, and one that does.
    for (const name of ['present', ...Array.from({ length: 1000 }, (_, i) => `absent-${i}`)]) {
      stamps.set(name, []);
      stops.push(watchFile(join(dir, name), (s) => stamps.get(name)!.push(s), { pollMs: 50 }));
    }
    assert.equal(watchedDirectories(), before + 1, 'one directory watch for 1,001 files');
    assert.deepEqual(stamps.get('absent-7'), [MISSING], 'a missing name is answered before watchFile returns');
    assert.equal(stamps.get('present')!.length, 1);
    assert.notEqual(stamps.get('present')![0], MISSING);

    // Created by a rename (as editors and the kubelet do), then changed in place, then removed.
    writeFileSync(join(dir, '.tmp'), '10.0.0.1 80\n');
    renameSync(join(dir, '.tmp'), join(dir, 'absent-7'));
    await eventually('the created file is told', () => stamps.get('absent-7')!.length === 2);
    assert.notEqual(stamps.get('absent-7')![1], MISSING);
    writeFileSync(join(dir, 'present'), 'longer');
    await eventually('the changed file is told', () => stamps.get('present')!.length === 2);
    rmSync(join(dir, 'present'));
    await eventually('the removed file is told', () => stamps.get('present')![2] === MISSING);
    assert.deepEqual(stamps.get('absent-8'), [MISSING], 'the other watches heard nothing');
  } finally {
    for (const stop of stops) stop();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(watchedDirectories(), before, 'the directory watch goes with its last file watch');
});

test('watchFile: a file in a directory that does not exist yet is missing, and found once the directory and file appear', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kgr-file-watch-'));
  const seen: string[] = [];
  const stop = watchFile(join(root, 'later', 'svc'), (s) => seen.push(s), { pollMs: 20 });
  try {
    assert.deepEqual(seen, [MISSING]);
    mkdirSync(join(root, 'later'));
    writeFileSync(join(root, 'later', 'svc'), '10.0.0.1 80\n');
    await eventually('found by the poll', () => seen.length === 2);
    assert.notEqual(seen[1], MISSING);
  } finally {
    stop();
    rmSync(root, { recursive: true, force: true });
  }
});
