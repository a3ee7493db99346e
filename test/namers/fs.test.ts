import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsNamer, parseServiceFile } from '../../src/namers/fs.js';
import { Path } from '../../src/dtab/path.js';
import { Watching, boundOf, isNeg, hostPorts, sameSet, capturingLogger } from './helpers.js';
import { eventually } from '../support/eventually.js';

const p = (text: string) => new Path(text.split('/').filter(Boolean));

test('parseServiceFile: hosts, ports, weights, comments and blank lines', () => {
  const addrs = parseServiceFile('# echo servers\n10.0.0.1 8080\n\n  echo.local\t9090 * 2.5  # weighted\n::1 70\n', 'svc');
  assert.deepEqual(
    addrs.map((a) => [a.host, a.port, a.weight]),
    [['10.0.0.1', 8080, 1], ['echo.local', 9090, 2.5], ['::1', 70, 1]],
  );
});

const bad: Array<[string, RegExp]> = [
  ['10.0.0.1 8080\n10.0.0.2\n', /^svc:2:9: expected "host port" or "host port \* weight", got "10.0.0.2"$/],
  ['10.0.0.1 80800\n', /^svc:1:10: port "80800" must be a number in 1..65535$/],
  ['10.0.0.1 http\n', /^svc:1:10: port "http"/],
  ['10.0.0.1 80 x 2\n', /^svc:1:13: expected "\*" before the weight, got "x"$/],
  ['10.0.0.1 80 * 0\n', /^svc:1:15: weight "0" must be a positive number$/],
  ['10.0.0.1 80 * 1 extra\n', /^svc:1:\d+: expected "host port"/],
  ['host/x 80\n', /^svc:1:1: "host\/x" is not a host name/],
];
for (const [text, message] of bad) {
  test(`parseServiceFile rejects ${JSON.stringify(text)}`, () => {
    assert.throws(() => parseServiceFile(text, "svc"), (e: Error) => message.test(e.message));
  });
}

test('io.l5d.fs: files are services, watched; malformed keeps the last good set; missing is Neg', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kgr-fs-'));
  const { log, lines } = capturingLogger();
  const namer = new FsNamer(Path.of('#', 'io.l5d.fs'), root, log);
  try {
    writeFileSync(join(root, 'echo'), '127.0.0.1 8080\n127.0.0.1 8081 * 3\n');
    const a = namer.lookup(p('/echo/rest'));
    const w = new Watching(a);
    const bound = await eventually('bound', () => boundOf(a), 2000);
    assert.equal(bound.id.show(), '/#/io.l5d.fs/echo');
    assert.equal(bound.residual.show(), '/rest');
    const addr = new Watching(bound.addr);
    await eventually("sameSet(hostPorts(bound.addr.sample), ['127.0.0.1:8080', '127.0.0.1:8081'])", () => sameSet(hostPorts(bound.addr.sample), ['127.0.0.1:8080', '127.0.0.1:8081']));
    // A change (even a same-size rewrite) applies: the watch or the poll sees it.
    writeFileSync(join(root, 'echo'), '127.0.0.1 9090\n');
    await eventually('the change applied', () => sameSet(hostPorts(bound.addr.sample), ['127.0.0.1:9090']), 10_000);
    // A malformed line: clear error, last good set kept.
    writeFileSync(join(root, 'echo'), '127.0.0.1 9091\noops\n');
    await eventually('error logged', () => lines.some((l) => l.includes(`${join(root, 'echo')}:2:5: expected`)), 2000);
    assert.ok(sameSet(hostPorts(bound.addr.sample), ['127.0.0.1:9090']));
    // Atomic replace (rename over), as editors and ConfigMap updates do.
    writeFileSync(join(root, '.echo.tmp'), '127.0.0.1 7070\n');
    renameSync(join(root, '.echo.tmp'), join(root, 'echo'));
    await eventually('rename applied', () => sameSet(hostPorts(bound.addr.sample), ['127.0.0.1:7070']), 1000);
    // Deleted → Neg; recreated → bound again.
    unlinkSync(join(root, 'echo'));
    await eventually('Neg when deleted', () => isNeg(a), 1000);
    writeFileSync(join(root, 'echo'), '127.0.0.1 6060\n');
    await eventually('recreated', () => boundOf(a) && sameSet(hostPorts(bound.addr.sample), ['127.0.0.1:6060']), 1000);
    addr.close();
    w.close();

    // Missing file is Neg until it appears; nested directories; a file that was never good fails.
    const later = namer.lookup(p('/later'));
    const wl = new Watching(later);
    await eventually('missing is Neg', () => isNeg(later), 1000);
    mkdirSync(join(root, 'team'));
    writeFileSync(join(root, 'team', 'api'), '10.0.0.1 80\n');
    const nested = namer.lookup(p('/team/api/x'));
    const wn = new Watching(nested);
    const nb = await eventually('nested bound', () => boundOf(nested), 1000);
    assert.equal(nb.id.show(), '/#/io.l5d.fs/team/api');
    assert.equal(nb.residual.show(), '/x');
    writeFileSync(join(root, 'broken'), 'nope\n');
    const broken = namer.lookup(p('/broken'));
    const wb = new Watching(broken);
    const bb = await eventually('broken bound', () => boundOf(broken), 1000);
    assert.equal(bb.addr.sample.type, 'failed');
    assert.match(bb.addr.sample.type === 'failed' ? bb.addr.sample.cause : '', /broken:1:5: expected/);
    assert.ok(isNeg(namer.lookup(p('/../etc/passwd'))), 'no escaping rootDir');
    assert.ok(isNeg(namer.lookup(p('/team'))), 'a directory is not a service');
    wl.close();
    wn.close();
    wb.close();
  } finally {
    namer.close();
    rmSync(root, { recursive: true, force: true });
  }
});
