import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DtabFile } from '../../src/config/dtab-file.js';
import { Dtab, parseDtab } from '../../src/dtab/index.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { eventually } from '../support/eventually.js';

const BASE_TEXT = '/k8s => /#/io.l5d.k8s;';
const BASE = parseDtab(BASE_TEXT);

interface Harness {
  dir: string;
  file: DtabFile;
  metrics: Metrics;
  lines: string[];
  seen: Dtab[];
  close(): void;
}

async function harness(path: (dir: string) => string, before: (dir: string) => void): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-dtab-file-'));
  before(dir);
  const metrics = new Metrics({ processMetrics: false });
  const lines: string[] = [];
  const log = Logger.create({ format: 'json', level: 'debug', sink: { write: (l) => void lines.push(l) } });
  const file = new DtabFile({ path: path(dir), base: BASE, baseText: BASE_TEXT, router: 'r1', metrics, log, pollIntervalMs: 100 });
  await file.start();
  const seen: Dtab[] = [];
  const observer = file.dtab.observe((d) => seen.push(d));
  return {
    dir,
    file,
    metrics,
    lines,
    seen,
    close() {
      observer.close();
      file.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Wait (bounded) until the effective dtab shows `expected`; returns how long it took. */
async function until(h: Harness, expected: string, limitMs = 3000): Promise<number> {
  const start = Date.now();
  await eventually(`the effective dtab ${JSON.stringify(expected)}`, () => h.file.dtab.sample.show() === expected, limitMs);
  return Date.now() - start;
}

async function reloads(metrics: Metrics, result: 'success' | 'failure'): Promise<number> {
  const { values } = await metrics.dtabReloads.get();
  return values.find((v) => v.labels.result === result && v.labels.router === 'r1')?.value ?? 0;
}

const effective = (fileText: string) => parseDtab(fileText).concat(BASE).show();
const A = '/svc/a => /k8s/default/grpc/a;\n';
const B = '/svc/b => /k8s/default/grpc/b;\n';

test('the file dtab goes before the router dtab, and in-place edits reload', async () => {
  const h = await harness((d) => join(d, 'dtab'), (d) => writeFileSync(join(d, 'dtab'), A));
  try {
    assert.equal(h.file.dtab.sample.show(), '/svc/a=>/k8s/default/grpc/a;/k8s=>/#/io.l5d.k8s');
    const status = h.file.status();
    assert.equal(status.base, BASE_TEXT);
    assert.equal(status.file?.path, join(h.dir, 'dtab'));
    assert.equal(status.file?.dtab, A);
    assert.ok(status.file?.lastReload && !Number.isNaN(Date.parse(status.file.lastReload)));
    assert.equal(status.file?.lastError, undefined);
    assert.equal(status.effective, effective(A));

    writeFileSync(join(h.dir, 'dtab'), B);
    await until(h, effective(B));
    assert.equal(await reloads(h.metrics, 'success'), 2);
    // Observers only ever see whole dtabs: the old one, then the new one.
    assert.deepEqual(h.seen.map((d) => d.show()), [effective(A), effective(B)]);
  } finally {
    h.close();
  }
});

test('an editor writing a temp file and renaming it over the dtab', async () => {
  const h = await harness((d) => join(d, 'dtab'), (d) => writeFileSync(join(d, 'dtab'), A));
  try {
    writeFileSync(join(h.dir, '.dtab.swp'), B);
    renameSync(join(h.dir, '.dtab.swp'), join(h.dir, 'dtab'));
    await until(h, effective(B));
    // And again: the watch must survive the inode it started on being replaced.
    writeFileSync(join(h.dir, 'dtab~'), A);
    renameSync(join(h.dir, 'dtab~'), join(h.dir, 'dtab'));
    await until(h, effective(A));
  } finally {
    h.close();
  }
});

/** A ConfigMap volume as the kubelet lays it out: dtab -> ..data/dtab, ..data -> ..<timestamp>. */
function configMapVolume(dir: string, version: string, content: string): void {
  mkdirSync(join(dir, version));
  writeFileSync(join(dir, version, 'dtab'), content);
  symlinkSync(version, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data')); // the atomic swap
}

test('the Kubernetes ConfigMap ..data symlink swap', async () => {
  const h = await harness(
    (d) => join(d, 'dtab'),
    (d) => {
      configMapVolume(d, '..2026_11_22_20_00_00.1', A);
      symlinkSync('..data/dtab', join(d, 'dtab'));
    },
  );
  try {
    assert.equal(h.file.dtab.sample.show(), effective(A));
    configMapVolume(h.dir, '..2026_11_22_20_01_00.2', B);
    rmSync(join(h.dir, '..2026_11_22_20_00_00.1'), { recursive: true });
    await until(h, effective(B));
    configMapVolume(h.dir, '..2026_11_22_20_02_00.3', A);
    rmSync(join(h.dir, '..2026_11_22_20_01_00.2'), { recursive: true });
    await until(h, effective(A));
    assert.equal(await reloads(h.metrics, 'failure'), 0);
  } finally {
    h.close();
  }
});

test('a briefly missing file keeps the last good dtab and is not a failure', async () => {
  const h = await harness((d) => join(d, 'dtab'), (d) => writeFileSync(join(d, 'dtab'), A));
  try {
    unlinkSync(join(h.dir, 'dtab'));
    await sleep(400); // several polls and watch events while it is gone
    assert.equal(h.file.dtab.sample.show(), effective(A));
    assert.equal(await reloads(h.metrics, 'failure'), 0);
    assert.equal(h.file.status().file?.lastError, undefined);
    writeFileSync(join(h.dir, 'dtab'), B);
    await until(h, effective(B));
  } finally {
    h.close();
  }
});

test('a broken edit keeps the last good dtab, logs FILE:LINE:COL, counts a failure; fixing it recovers', async () => {
  const h = await harness((d) => join(d, 'dtab'), (d) => writeFileSync(join(d, 'dtab'), A));
  const path = join(h.dir, 'dtab');
  try {
    writeFileSync(path, '# canary\n/svc/a => /k8s/default/grpc/a;\n/svc/b => /k8s/default/grpc/b &;\n');
    const start = Date.now();
    while ((await reloads(h.metrics, 'failure')) === 0) {
      assert.ok(Date.now() - start < 3000, 'no failed reload was counted');
      await sleep(20);
    }
    assert.equal(h.file.dtab.sample.show(), effective(A));
    const error = h.file.status().file?.lastError;
    assert.ok(error, 'status shows the error');
    assert.equal(error.line, 3);
    assert.equal(error.column, 32);
    assert.match(error.message, /^expected .* but found ';'$/);
    const logged = h.lines.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.level === 'error');
    assert.equal(logged.length, 1);
    assert.ok(logged[0]!.msg.startsWith(`${path}:3:32: expected `), logged[0]!.msg);
    // The same broken text is not reported again on every poll.
    await sleep(300);
    assert.equal(await reloads(h.metrics, 'failure'), 1);

    writeFileSync(path, B);
    await until(h, effective(B));
    assert.equal(h.file.status().file?.lastError, undefined);
    assert.equal(h.file.status().file?.dtab, B);
  } finally {
    h.close();
  }
});

test('a broken file at start refuses to start; a missing one starts with the router dtab and waits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-dtab-file-'));
  const metrics = new Metrics({ processMetrics: false });
  try {
    const path = join(dir, 'dtab');
    writeFileSync(path, '/svc => /a;\n/svc =>\n');
    const broken = new DtabFile({ path, base: BASE, baseText: BASE_TEXT, router: 'r1', metrics, log: Logger.silent() });
    await assert.rejects(broken.start(), (err: Error) => err.message.startsWith(`${path}:3:1: expected `));
    broken.close();

    const missing = join(dir, 'later');
    const waiting = new DtabFile({ path: missing, base: BASE, baseText: BASE_TEXT, router: 'r1', metrics, log: Logger.silent(), pollIntervalMs: 100 });
    await waiting.start();
    const start0 = Date.now();
    try {
      assert.equal(waiting.dtab.sample.show(), BASE.show());
      // A broken file appearing later is counted like any broken edit, then a good one loads.
      writeFileSync(missing, '/svc =>;\n');
      while ((await reloads(metrics, 'failure')) < 2) {
        assert.ok(Date.now() - start0 < 3000, 'the broken file that appeared was not reported');
        await sleep(20);
      }
      assert.equal(waiting.status().file?.lastError?.line, 1);
      writeFileSync(missing, A);
      const start = Date.now();
      while (waiting.dtab.sample.show() !== effective(A)) {
        assert.ok(Date.now() - start < 3000, 'the file that appeared was not loaded');
        await sleep(20);
      }
    } finally {
      waiting.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
