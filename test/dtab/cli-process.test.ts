// `kube-grpc-router dtab …` as a user runs it: the real CLI in a child process, real files, real pipes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

interface Result {
  code: number | null;
  out: string;
  err: string;
}

function cli(args: string[], stdin = ''): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    child.stdin.end(stdin);
  });
}

/** A user never sees a stack trace. */
function noStack(r: Result): void {
  assert.doesNotMatch(r.err, /\n\s+at .+:\d+:\d+/);
}

test('kube-grpc-router dtab fmt / check / delegate in a child process', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kgr-dtab-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.dtab');
  const bad = join(dir, 'bad.dtab');
  await writeFile(good, '# routes\r\n/svc => /$/io.buoyant.http.domainToPathPfx/grpc ;\r\n/grpc/Greeter=>/$/inet/127.0.0.1/50051|/$/fail;\r\n');
  await writeFile(bad, '/svc => /a;\r\n/b => /c d\r\n');

  const fmt = await cli(['dtab', 'fmt', good]);
  assert.equal(fmt.code, 0, fmt.err);
  assert.equal(fmt.out, '/svc=>/$/io.buoyant.http.domainToPathPfx/grpc;\n/grpc/Greeter=>/$/inet/127.0.0.1/50051 | /$/fail\n');

  const piped = await cli(['dtab', 'fmt', '-'], '/a => 0.5*/b & .25 * /c ;');
  assert.equal(piped.code, 0, piped.err);
  assert.equal(piped.out, '/a=>0.50*/b & 0.25*/c\n');

  const fmtBad = await cli(['dtab', 'fmt', bad]);
  assert.equal(fmtBad.code, 1);
  assert.equal(fmtBad.out, '');
  assert.match(fmtBad.err, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:10: expected '&', '\\|', ';' or end of input but found 'd'\n  /b => /c \\[d\\]\n$`));
  noStack(fmtBad);

  const check = await cli(['dtab', 'check', good, bad]);
  assert.equal(check.code, 1);
  assert.match(check.err, /bad\.dtab:2:10: /);
  assert.doesNotMatch(check.err, /good\.dtab/);
  noStack(check);
  assert.equal((await cli(['dtab', 'check', good])).code, 0);

  const tree = await cli(['dtab', 'delegate', '--dtab', good, '/svc/helloworld.Greeter']);
  assert.equal(tree.code, 0, tree.err);
  assert.match(tree.out, /bound \/\$\/inet\/127\.0\.0\.1\/50051 residual \/helloworld -> 127\.0\.0\.1:50051/);

  const json = await cli(['dtab', 'delegate', '--json', '--dtab', '/x => /$/inet/127.0.0.1/9', '/x/y']);
  assert.equal(json.code, 0, json.err);
  assert.deepEqual(JSON.parse(json.out), {
    type: 'delegate',
    path: '/x/y',
    delegate: {
      type: 'leaf',
      path: '/$/inet/127.0.0.1/9/y',
      dentry: { prefix: '/x', dst: '/$/inet/127.0.0.1/9' },
      bound: { addr: { type: 'bound', addrs: [{ ip: '127.0.0.1', port: 9, meta: {} }], meta: {} }, id: '/$/inet/127.0.0.1/9', path: '/y' },
    },
  });

  const loop = await cli(['dtab', 'delegate', '--dtab', '/a=>/b;/b=>/a', '/a']);
  assert.equal(loop.code, 1);
  assert.match(loop.err, /Max recursion level reached\./);
  noStack(loop);

  const missing = await cli(['dtab', 'fmt', join(dir, 'nope.dtab')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope\.dtab: cannot read: /);
  noStack(missing);

  const bare = await cli(['dtab']);
  assert.equal(bare.code, 2);
  assert.match(bare.err, /usage: kube-grpc-router dtab/);

  const usage = await cli(['dtab', 'frobnicate']);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /unknown command 'frobnicate'/);
});
