import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameInterpreter, parseDtab, parsePath, showTree } from '../../src/dtab/index.js';
// The global namer with DNS is the package's main export; the dtab engine only takes it (GlobalNamer).
import { globalNamer, ipLiteral } from '../../src/index.js';
import { onceResolver, pollingResolver, type HostLookup } from '../../src/namers/global.js';
import type { Addr, BoundName, Name, NameTree } from '../../src/dtab/index.js';
import type { ActivityState } from '../../src/util/activity.js';
import { Var } from '../../src/util/var.js';
import { eventually } from '../support/eventually.js';

function answer(path: string, namer = globalNamer()): ActivityState<NameTree<Name>> {
  let state: ActivityState<NameTree<Name>> | undefined;
  namer.lookup(parsePath(path)).observe((s) => (state = s)).close();
  return state!;
}

function showAnswer(state: ActivityState<NameTree<Name>>): string {
  if (state.status === 'pending') return 'pending';
  if (state.status === 'failed') return `failed: ${state.error.message}`;
  return showTree(state.value, (n) =>
    n.kind === 'path' ? n.path.show() : `bound ${n.id.show()} residual ${n.residual.show()}`,
  );
}

function addrNow(addr: Var<Addr>): Addr {
  let a: Addr | undefined;
  addr.observe((x) => (a = x)).close();
  return a!;
}

function boundOf(state: ActivityState<NameTree<Name>>): BoundName {
  assert.ok(state.status === 'ok' && state.value.kind === 'leaf' && state.value.value.kind === 'bound');
  return state.value.value;
}

test('inet: host/port with residual, bare port is localhost, ids as Finagle', () => {
  const a = answer('/$/inet/127.1/8080/rest/of');
  assert.equal(showAnswer(a), 'bound /$/inet/127.1/8080 residual /rest/of');
  assert.deepEqual(addrNow(boundOf(a).addr), {
    type: 'bound',
    addrs: [{ host: '127.0.0.1', port: 8080, weight: 1, meta: {} }],
    meta: {},
  });
  const local = answer('/$/inet/9000/x');
  assert.equal(showAnswer(local), 'bound /$/inet/9000 residual /x');
  assert.equal(addrNow(boundOf(local).addr).type, 'bound');
  assert.equal(showAnswer(answer('/$/inet/::1/443')), 'bound /$/inet/::1/443 residual /');
  assert.equal(showAnswer(answer('/$/fixedinet/10.1.2.3/80')), 'bound /$/fixedinet/10.1.2.3/80 residual /');
  assert.equal(showAnswer(answer('/$/inet/host/notaport')), 'failed: Invalid inet path /$/inet/host/notaport: expected /$/inet/<host>/<port> or /$/inet/<port>');
  // Java's InetSocketAddress message, which Finagle's InetResolver reports as the failed Addr's cause.
  assert.deepEqual(addrNow(boundOf(answer('/$/inet/h/70000')).addr), { type: 'failed', cause: 'port out of range:70000' });
  assert.deepEqual(addrNow(boundOf(answer('/$/inet/127.0.0.1/-1')).addr), { type: 'failed', cause: 'port out of range:-1' });
  // Java's Integer.parseInt takes a sign: `+80` (escaped, as `+` is no label char) is port 80.
  assert.deepEqual(addrNow(boundOf(answer('/$/inet/127.0.0.1/\\x2b80')).addr), {
    type: 'bound',
    addrs: [{ host: '127.0.0.1', port: 80, weight: 1, meta: {} }],
    meta: {},
  });
});

test('inet: a custom resolver is used for host names; the same host:port shares one address Var', () => {
  const calls: string[] = [];
  const namer = globalNamer({
    resolveHost: (host, port) => {
      calls.push(`${host}:${port}`);
      return Var.value<Addr>({ type: 'bound', addrs: [{ host: '10.9.9.9', port, weight: 1, meta: {} }], meta: {} });
    },
  });
  const a = boundOf(answer('/$/inet/echo.default.svc/50051/a', namer));
  const b = boundOf(answer('/$/inet/echo.default.svc/50051/b', namer));
  assert.equal(a.addr, b.addr);
  assert.deepEqual(calls, ['echo.default.svc:50051']);
});

test('inet: the default resolver binds localhost to a usable address', async () => {
  const bound = boundOf(answer('/$/inet/localhost/4140'));
  const addr = await new Promise<Addr>((resolve) => {
    const o = bound.addr.observe((a) => {
      if (a.type !== 'pending') {
        queueMicrotask(() => o.close());
        resolve(a);
      }
    });
  });
  assert.equal(addr.type, 'bound');
  assert.ok(addr.type === 'bound' && addr.addrs.some((x) => x.host === '127.0.0.1' || x.host === '::1'));
});

// Finagle's DnsResolver answers "localhost" (and the empty host) with the loopback address, no lookup.
test('inet: localhost is the loopback address without a DNS lookup', () => {
  for (const path of ['/$/inet/localhost/4140', '/$/fixedinet/localhost/4140', '/$/inet/4140']) {
    assert.deepEqual(addrNow(boundOf(answer(path)).addr), {
      type: 'bound',
      addrs: [{ host: '127.0.0.1', port: 4140, weight: 1, meta: {} }],
      meta: {},
    });
  }
});

// Finagle's InetResolver (scheme inet) re-resolves every 5 s while the address is observed and stops
// when it is released; FixedInetResolver (fixedinet) resolves once and keeps a successful answer.
test('inet re-resolves while observed and stops when released; fixedinet resolves once', async () => {
  const answers: string[][] = [['10.0.0.1'], ['10.0.0.1'], ['10.0.0.2', '10.0.0.3']];
  const asked: string[] = [];
  const lookup: HostLookup = (host, done) => {
    asked.push(host);
    const ips = answers[Math.min(asked.length - 1, answers.length - 1)]!;
    setImmediate(() => done(null, ips));
  };
  const addr = pollingResolver({ lookup, intervalMs: 20 })('svc.example', 8080);
  const seen: string[] = [];
  const o = addr.observe((a) => seen.push(a.type === 'bound' ? a.addrs.map((x) => `${x.host}:${x.port}`).join(',') : a.type));
  await eventually('three answers observed', () => seen.length >= 3, 5000);
  o.close();
  // An unchanged answer is not a change: observers hear pending, the first set, the new set.
  assert.deepEqual(seen, ['pending', '10.0.0.1:8080', '10.0.0.2:8080,10.0.0.3:8080']);
  const after = asked.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(asked.length, after, 'no lookups once released');

  const once: string[] = [];
  const fixed = onceResolver({ lookup: (host, done) => (once.push(host), setImmediate(() => done(null, ['10.1.1.1']))) })('svc.example', 80);
  const f = fixed.observe(() => {});
  await new Promise((r) => setTimeout(r, 60));
  f.close();
  fixed.observe(() => {}).close();
  assert.deepEqual(once, ['svc.example']);
  assert.equal(fixed.sample.type, 'bound');
});

test('inet: an unknown host is Neg, another lookup error is a failed address', async () => {
  const err = (code: string) => Object.assign(new Error(`lookup ${code}`), { code });
  const settle = (v: Var<Addr>) =>
    new Promise<Addr>((resolve) => {
      const o = v.observe((a) => a.type !== 'pending' && (queueMicrotask(() => o.close()), resolve(a)));
    });
  const nx = await settle(pollingResolver({ lookup: (_h, done) => setImmediate(() => done(err('ENOTFOUND'), [])), intervalMs: 50 })('nx.example', 1));
  assert.deepEqual(nx, { type: 'neg' });
  const broken = await settle(pollingResolver({ lookup: (_h, done) => setImmediate(() => done(err('ECONNREFUSED'), [])), intervalMs: 50 })('x.example', 1));
  assert.deepEqual(broken, { type: 'failed', cause: 'lookup ECONNREFUSED' });
});

test('nil, fail, unknown, non-$ paths', () => {
  assert.equal(showAnswer(answer('/$/nil')), '$');
  assert.equal(showAnswer(answer('/$/nil/anything')), '$');
  assert.equal(showAnswer(answer('/$/fail/x')), '!');
  assert.equal(showAnswer(answer('/$/foo/bar')), 'failed: Unknown namer: foo for path: /$/foo/bar'); // Linkerd's UnknownNamer message
  assert.equal(showAnswer(answer('/svc/x')), '~');
  assert.equal(showAnswer(answer('/$')), '~');
});

test('Linkerd rewriting helpers', () => {
  const cases: [string, string][] = [
    ['/$/io.buoyant.http.domainToPathPfx/grpc/helloworld.Greeter', '/grpc/Greeter/helloworld'],
    ['/$/io.buoyant.http.domainToPathPfx/pfx/foo.buoyant.io/resource/name', '/pfx/io/buoyant/foo/resource/name'],
    ['/$/io.buoyant.http.domainToPathPfx/pfx', '~'],
    ['/$/io.buoyant.http.domainToPath/foo.buoyant.io/r', '/io/buoyant/foo/r'],
    ['/$/io.buoyant.http.subdomainOfPfx/buoyant.io/pfx/foo.buoyant.io/resource/name', '/pfx/foo/resource/name'],
    ['/$/io.buoyant.http.subdomainOfPfx/buoyant.io/pfx/foo.buoyant.io:8080/r', '/pfx/foo/r'],
    ['/$/io.buoyant.http.subdomainOfPfx/buoyant.io/pfx/buoyant.io', '~'],
    ['/$/io.buoyant.http.subdomainOfPfx/buoyant.io/pfx/foo.example.com', '~'],
    ['/$/io.buoyant.http.subdomainOf/buoyant.io/foo.buoyant.io/r', '/foo/r'],
    ['/$/io.buoyant.http.anyMethod/POST/svc/x', '/svc/x'],
    ['/$/io.buoyant.http.anyMethod/post/svc/x', '~'],
    ['/$/io.buoyant.http.anyMethodPfx/pfx/GET/svc', '/pfx/svc'],
    ['/$/io.buoyant.http.anyHost/foo.com/r', '/r'],
    ['/$/io.buoyant.http.anyHostPfx/pfx/foo.com/r', '/pfx/r'],
    ['/$/io.buoyant.hostportPfx/pfx/host:8080/etc', '/pfx/host/8080/etc'],
    ['/$/io.buoyant.porthostPfx/pfx/host:http/etc', '/pfx/http/host/etc'],
    ['/$/io.buoyant.hostportPfx/pfx/host', '~'],
    ['/$/io.buoyant.hostportPfx/pfx/host:Http', '~'],
    ['/$/io.buoyant.hostportPfx/pfx/a:b:c', '~'],
    // Linkerd RinetTest "rinet binds": the id stays under /$/io.buoyant.rinet and the residual is kept.
    ['/$/io.buoyant.rinet/12345/localhost/residual', 'bound /$/io.buoyant.rinet/12345/localhost residual /residual'],
    ['/$/io.buoyant.rinet/8080/127.0.0.1', 'bound /$/io.buoyant.rinet/8080/127.0.0.1 residual /'],
    ['/$/io.buoyant.rinet/8080', '~'],
  ];
  for (const [path, want] of cases) assert.equal(showAnswer(answer(path)), want, path);
});

// Linkerd builds the rewritten name with Path.Utf8, whose `require(nonempty)` throws on an empty
// segment: the lookup fails (an Alt does not fall through), it is not Neg.
test('Linkerd rewriting helpers: a rewrite that would make an empty segment fails the lookup', () => {
  for (const path of [
    '/$/io.buoyant.http.domainToPathPfx/grpc/a..b',
    '/$/io.buoyant.http.domainToPathPfx/grpc/.Greeter',
    '/$/io.buoyant.http.domainToPath/a..b/r',
    '/$/io.buoyant.hostportPfx/pfx/:8080',
    '/$/io.buoyant.porthostPfx/pfx/:http/etc',
  ]) {
    assert.equal(showAnswer(answer(path)), `failed: Invalid name ${path}: the rewrite would make an empty path segment`, path);
  }
  // Java's split drops trailing empty strings, so a trailing dot is harmless.
  assert.equal(showAnswer(answer('/$/io.buoyant.http.domainToPathPfx/grpc/helloworld.Greeter.')), '/grpc/Greeter/helloworld');
});

test('rinet: the address is inet <host>:<port>; a bad port fails the lookup', () => {
  const hosts: string[] = [];
  const namer = globalNamer({ resolveHost: (h, p) => (hosts.push(`${h}:${p}`), Var.value<Addr>({ type: 'neg' })) });
  boundOf(answer('/$/io.buoyant.rinet/12345/localhost/residual', namer));
  assert.deepEqual(hosts, ['localhost:12345']);
  assert.deepEqual(addrNow(boundOf(answer('/$/io.buoyant.rinet/8080/127.0.0.1')).addr), {
    type: 'bound',
    addrs: [{ host: '127.0.0.1', port: 8080, weight: 1, meta: {} }],
    meta: {},
  });
  assert.match(showAnswer(answer('/$/io.buoyant.rinet/http/localhost')), /^failed: Invalid port 'http'/);
});

test("Linkerd's gRPC dtab idiom binds unchanged", () => {
  const i = new NameInterpreter({ global: globalNamer() });
  const act = i.bind(
    parseDtab('/svc => /$/io.buoyant.http.domainToPathPfx/grpc; /grpc/Greeter => /$/inet/127.0.0.1/50051'),
    parsePath('/svc/helloworld.Greeter'),
  );
  let shown = '';
  act.observe((s) => (shown = s.status === 'ok' ? showTree(s.value, (b) => `${b.id.show()} ${b.residual.show()}`) : s.status)).close();
  assert.equal(shown, '/$/inet/127.0.0.1/50051 /helloworld');
});

test('ipLiteral: IP literals and Java short IPv4 forms', () => {
  assert.equal(ipLiteral('127.1'), '127.0.0.1');
  assert.equal(ipLiteral('10.1.2'), '10.1.0.2');
  assert.equal(ipLiteral('2130706433'), '127.0.0.1');
  assert.equal(ipLiteral('1.2.3.4'), '1.2.3.4');
  assert.equal(ipLiteral('fe80::1'), 'fe80::1');
  assert.equal(ipLiteral('localhost'), undefined);
  assert.equal(ipLiteral('256.1'), undefined);
  assert.equal(ipLiteral('1.2.3.4.5'), undefined);
});
