import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseDtab } from '../../src/dtab/index.js';
import { runDtabCommand } from '../../src/dtab/commands.js';
import { globalNamer } from '../../src/namers/global.js';

async function run(args: string[], stdin = '') {
  let out = '';
  let err = '';
  const code = await runDtabCommand(args, {
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  }, { global: globalNamer() });
  return { code, out, err };
}

async function withDir(f: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'dtab-cmd-'));
  try {
    await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('dtab fmt: canonical form one dentry a line, from a file or stdin; errors exit 1 with file:line:col', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'router.dtab');
    await writeFile(file, '# routes\n/svc   =>  /#/io.l5d.k8s/default/grpc ;\n/svc/x => 0.5 * /a & 0.5*/b | ( /c );\n');
    const r = await run(['fmt', file]);
    assert.equal(r.code, 0);
    assert.equal(r.out, '/svc=>/#/io.l5d.k8s/default/grpc;\n/svc/x=>0.50*/a & 0.50*/b | /c\n');
    assert.ok(parseDtab(r.out).equals(parseDtab(await (await import('node:fs/promises')).readFile(file, 'utf8'))));

    const s = await run(['fmt', '-'], '/a=>/b');
    assert.deepEqual([s.code, s.out], [0, '/a=>/b\n']);
    const noArg = await run(['fmt'], '/a => /b;/c=>/d');
    assert.equal(noArg.out, '/a=>/b;\n/c=>/d\n');

    const bad = join(dir, 'bad.dtab');
    await writeFile(bad, '/a => /b;\n/c => /d;\n/boo =  /foo\n');
    const e = await run(['fmt', bad]);
    assert.equal(e.code, 1);
    assert.equal(e.out, '');
    assert.equal(e.err, `${bad}:3:6: expected '=>' but found '='\n  /boo [=]  /foo\n`);
    const missing = await run(['fmt', join(dir, 'nope.dtab')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope\.dtab: cannot read: ENOENT/);
  });
});

test('dtab check: every file, an error line per bad file, exit 1 if any', async () => {
  await withDir(async (dir) => {
    const good = join(dir, 'good.dtab');
    const bad1 = join(dir, 'bad1.dtab');
    const bad2 = join(dir, 'bad2.dtab');
    await writeFile(good, '/a => /b; /c => /d');
    await writeFile(bad1, '/a => /b;;');
    await writeFile(bad2, '/a => /b\n/c => /d\n');
    const ok = await run(['check', good]);
    assert.deepEqual([ok.code, ok.out, ok.err], [0, `${good}: ok (2 dentries)\n`, '']);
    const r = await run(['check', good, bad1, bad2]);
    assert.equal(r.code, 1);
    const errorLines = r.err.split('\n').filter((l) => !l.startsWith('  ') && l !== '');
    assert.deepEqual(errorLines, [
      `${bad1}:1:10: expected '/' or end of input but found ';'`,
      `${bad2}:2:1: expected '&', '|', ';' or end of input but found '/'`,
    ]);
    assert.equal((await run(['check'])).code, 2);
  });
});

test('dtab delegate: readable tree and JSON, dtab from text or file', async () => {
  const text = '/svc => /$/io.buoyant.http.domainToPathPfx/grpc; /grpc => /srv; /srv/Greeter => /$/inet/127.0.0.1/50051 | /$/fail';
  const r = await run(['delegate', '--dtab', text, '/svc/helloworld.Greeter']);
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out,
    [
      '/svc/helloworld.Greeter',
      // Linkerd's simplification collapses a step whose child has the same path; the collapsed
      // node keeps the dentry of the step that led to it (here /grpc => /srv).
      '└─ /grpc/Greeter/helloworld  (/svc => /$/io.buoyant.http.domainToPathPfx/grpc)',
      '   └─ /srv/Greeter/helloworld  (/grpc => /srv)  alternatives, first that is not neg wins:',
      '      ├─ /$/inet/127.0.0.1/50051/helloworld  (/srv/Greeter => /$/inet/127.0.0.1/50051 | /$/fail)  bound /$/inet/127.0.0.1/50051 residual /helloworld -> 127.0.0.1:50051  <- routed here',
      '      └─ /$/fail/helloworld  (/srv/Greeter => /$/inet/127.0.0.1/50051 | /$/fail)  fail',
      '',
    ].join('\n'),
  );
  await withDir(async (dir) => {
    const file = join(dir, 'd.dtab');
    await writeFile(file, '/web => /$/inet/127.0.0.1/8080');
    const j = await run(['delegate', '--json', '--dtab', file, '/web/x']);
    assert.equal(j.code, 0, j.err);
    assert.deepEqual(JSON.parse(j.out), {
      type: 'delegate',
      path: '/web/x',
      delegate: {
        type: 'leaf',
        path: '/$/inet/127.0.0.1/8080/x',
        dentry: { prefix: '/web', dst: '/$/inet/127.0.0.1/8080' },
        bound: {
          addr: { type: 'bound', addrs: [{ ip: '127.0.0.1', port: 8080, meta: {} }], meta: {} },
          id: '/$/inet/127.0.0.1/8080',
          path: '/x',
        },
      },
    });
  });
  const badDtab = await run(['delegate', '--dtab', '/a => ', '/a']);
  assert.equal(badDtab.code, 1);
  assert.match(badDtab.err, /^--dtab:1:7: expected /);
  const badPath = await run(['delegate', '--dtab', '/a=>/b', 'a/b']);
  assert.equal(badPath.code, 1);
  assert.match(badPath.err, /^PATH:1:1: expected '\/' but found 'a'/);
  assert.equal((await run(['delegate', '/a'])).code, 2);
  assert.equal((await run(['nope'])).code, 2);
});
