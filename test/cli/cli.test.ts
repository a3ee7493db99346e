import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runCli } from '../e2e/process.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const SEED = join(ROOT, 'test/fixtures/config/linkerd-grpc-seed.yaml');

test('--help lists the modes, flags and examples', async () => {
  const run = await runCli(['--help']);
  assert.equal(run.code, 0);
  for (const text of ['--config FILE', '--print-config', '-p, --proxy LISTEN-TARGET', '-d, --shutdown-delay', '--log-format', '--log-level', 'dtab fmt', 'Examples:', 'npm start']) {
    assert.ok(run.stdout.includes(text), `help mentions ${text}`);
  }
  assert.equal((await runCli(['-h'])).stdout, run.stdout);
});

test('--version prints the package version', async () => {
  const run = await runCli(['--version']);
  assert.equal(run.code, 0);
  assert.equal(run.stdout, `kube-grpc-router ${VERSION}\n`);
});

test('--print-config prints the effective config as JSON and exits 0', async () => {
  const run = await runCli(['--config', SEED, '--print-config']);
  assert.equal(run.code, 0, run.stderr);
  const config = JSON.parse(run.stdout);
  assert.equal(config.routers[0].label, 'outgoing');
  assert.equal(config.routers[0].client.loadBalancer.kind, 'roundRobin');
  assert.equal(config.shutdownGraceMs, 25000);
  // Without --config: the embedded local config.
  const local = JSON.parse((await runCli(['--print-config'])).stdout);
  assert.equal(local.routers[0].label, 'local');
  assert.deepEqual([local.routers[0].servers[0].ip, local.routers[0].servers[0].port], ['127.0.0.1', 4140]);
  assert.deepEqual([local.admin.ip, local.admin.port], ['127.0.0.1', 9990]);
});

test('an invalid config prints every error with file:line:col and exits 1 without starting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-cli-'));
  try {
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'admin:\n  prot: 9990\nrouters:\n- protocol: h2\n  servers:\n  - port: 41a0\n');
    for (const args of [['--config', file, '--print-config'], ['--config', file]]) {
      const run = await runCli(args);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.equal(
        run.stderr,
        `admin.prot: unknown key "prot" in admin; did you mean "port"? (${file}:2:3)\n` +
          `routers[0].servers[0].port: expected an integer 1-65535, got "41a0" (${file}:6:11)\n`,
      );
    }
    const missing = await runCli(['--config', join(dir, 'nope.yaml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read config: no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage errors exit 2 and point at --help', async () => {
  for (const args of [['--nope'], ['--log-format', 'xml'], ['--log-level', 'loud'], ['-d', '5s'], ['--config', SEED, '-p', ':5000-127.0.0.1:1']]) {
    const run = await runCli(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, /^kube-grpc-router: .*\nTry kube-grpc-router --help\.\n$/);
  }
});

test('-p splits LISTEN from TARGET correctly, hyphenated hosts and IPv6 included', async () => {
  const run = await runCli([
    '-p', 'my-host:5000-kubernetes:///echo-server.team-a:grpc',
    '-p', '[::1]:5001-dns:///echo.example.com:8080',
    '-p', ':5002-127.0.0.1:8080',
    '-d', '750ms',
    '--admin', '127.0.0.1:9991',
    '--print-config',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const config = JSON.parse(run.stdout);
  const servers = config.routers.map((r: { servers: { ip: string; port: number }[] }) => [r.servers[0]!.ip, r.servers[0]!.port]);
  assert.deepEqual(servers, [['my-host', 5000], ['::1', 5001], ['0.0.0.0', 5002]]);
  const dtabs: string[] = config.routers.map((r: { dtab: string }) => r.dtab);
  assert.match(dtabs[0]!, /^\/svc\/\* => \/#\/io\.l5d\.k8s\/team-a\/grpc\/echo-server;$/);
  assert.match(dtabs[1]!, /^\/svc\/\* => \/#\/io\.l5d\.dns\/echo\.example\.com\/8080;$/);
  assert.match(dtabs[2]!, /^\/svc\/\* => \/\$\/inet\/127\.0\.0\.1\/8080;$/);
  assert.deepEqual(config.namers.map((n: { kind: string }) => n.kind).sort(), ['io.l5d.dns', 'io.l5d.k8s']);
  assert.equal(config.shutdownDelayMs, 750);
  assert.deepEqual([config.admin.ip, config.admin.port], ['127.0.0.1', 9991]);

  for (const bad of ['nodash', '-kubernetes:///x', ':5000-', 'host:99999-dns:///x:1', 'host-dns:///x:1']) {
    const failed = await runCli([`--proxy=${bad}`, '--print-config']);
    assert.equal(failed.code, 1, bad);
    assert.match(failed.stderr, new RegExp(`^"${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" is invalid proxy configuration`), failed.stderr);
  }
});

test('dtab subcommands: fmt prints the canonical form, check reports FILE:LINE:COL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-cli-'));
  try {
    const good = join(dir, 'good.dtab');
    writeFileSync(good, '# rules\n/svc   =>  /#/io.l5d.k8s/default/grpc ;\n/svc/a => 0.5*/b & /c\n');
    const fmt = await runCli(['dtab', 'fmt', good]);
    assert.equal(fmt.code, 0, fmt.stderr);
    assert.equal(fmt.stdout, '/svc=>/#/io.l5d.k8s/default/grpc;\n/svc/a=>0.50*/b & /c\n');
    const bad = join(dir, 'bad.dtab');
    writeFileSync(bad, '/svc => /a;\n/svc => /b /c;\n');
    const check = await runCli(['dtab', 'check', good, bad]);
    assert.equal(check.code, 1);
    assert.match(check.stdout + check.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:12: expected `));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('-p with a target the namers cannot parse says which -p and why', async () => {
  const run = await runCli(['-p', ':5000-kubernetes:///', '--print-config']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^":5000-kubernetes:\/\/\/" is invalid proxy configuration: target "kubernetes:\/\/\/" must specify a service/);
});

test('a broken live dtab file at start is an error naming FILE:LINE:COL, exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-cli-'));
  try {
    writeFileSync(join(dir, 'dtab'), '/svc => /a;\n/svc => /b |;\n');
    writeFileSync(
      join(dir, 'config.yaml'),
      'admin: {port: 1}\nrouters:\n- protocol: h2\n  interpreter: {kind: io.l5d.fs, dtabFile: dtab}\n  servers: [{port: 2}]\n',
    );
    const run = await runCli(['--config', join(dir, 'config.yaml')]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`^kube-grpc-router: ${join(dir, 'dtab').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:13: expected `));
    assert.doesNotMatch(run.stderr, /listening/, 'nothing was bound');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
