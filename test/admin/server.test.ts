import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request, type ClientRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { startAdmin, type AdminDeps, type AdminServer } from '../../src/admin/server.js';
import { BODY_LIMIT } from '../../src/admin/http.js';
import { MAX_DELEGATION_DTAB_BYTES } from '../../src/admin/delegator.js';
import { eventually } from '../support/eventually.js';
import type { AdminRouter, AdminTimeouts } from '../../src/admin/deps.js';
import type { RouterSnapshot } from '../../src/introspection/snapshots.js';
import type { DelegateNode, DelegateOptions } from '../../src/dtab/delegate.js';
import type { Dtab } from '../../src/dtab/dtab.js';
import { Var } from '../../src/util/var.js';
import type { PrefixedNamer } from '../../src/namers/namer.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { Path } from '../../src/dtab/path.js';
import { NameInterpreter, delegate } from '../../src/dtab/index.js';
import { Neg, type NameTree } from '../../src/dtab/nametree.js';
import type { Name } from '../../src/dtab/name.js';
import { PENDING, constant, ok, type ActivityState } from '../../src/util/activity.js';
import { parsePrometheus } from '../telemetry/prometheus-text.js';
import { globalNamer } from '../../src/namers/global.js';

/**
 * The admin over real HTTP on 127.0.0.1. Routers are seen only through the RouterView contract; here
 * one is a plain implementation of it with a fixed snapshot, so each endpoint's answer can be checked
 * against known input. (The dashboard test drives the real Router with real gRPC traffic.)
 */
type Answer = (path: Path, dtab: Dtab, options: DelegateOptions) => Promise<DelegateNode>;

class SnapshotRouterView implements AdminRouter {
  /** What the router was asked, in the dtab engine's shown forms (so: parsed before it was asked). */
  readonly calls: { path: string; dtab: string }[] = [];
  constructor(
    readonly label: string,
    private readonly snap: RouterSnapshot,
    private readonly answer: Answer = (path, dtab, options) => delegate(new NameInterpreter({ global: globalNamer() }), dtab, path, options),
  ) {}
  snapshot(): RouterSnapshot {
    return this.snap;
  }
  delegate(path: Path, dtab: Dtab, options: DelegateOptions): Promise<DelegateNode> {
    this.calls.push({ path: path.show(), dtab: dtab.show() });
    return this.answer(path, dtab, options);
  }
}

/** A namer under /svc that never answers: a delegation through it waits until its deadline. */
const NEVER: PrefixedNamer = {
  prefix: Path.of('svc'),
  kind: 'never',
  namer: { lookup: () => new Var<ActivityState<NameTree<Name>>>(PENDING) },
};

const SNAPSHOT: RouterSnapshot = {
  label: 'h2',
  servers: [{ ip: '127.0.0.1', port: 4140 }],
  dtab: { base: '/svc => /$/inet/127.0.0.1/8080', effective: '/svc => /$/inet/127.0.0.1/8080' },
  services: [{ name: '/svc/com.example.grpc.EchoService', clients: ['/$/inet/127.0.0.1/8080'] }],
  clients: [
    {
      id: '/$/inet/127.0.0.1/8080',
      loadBalancer: 'roundRobin',
      addr: 'bound',
      endpoints: [{ address: '127.0.0.1:8080', weight: 1, state: 'connected', inFlight: 0, requests: 5, failures: 1, latencyMs: 1.5 }],
    },
  ],
};

interface Harness {
  admin: AdminServer;
  base: string;
  metrics: Metrics;
  log: Logger;
  router: SnapshotRouterView;
  readiness: { ready: boolean; reasons: string[] };
  shutdowns: number;
}

async function withAdmin(
  options: { controlEnabled?: boolean; answer?: Answer; extraRouters?: AdminRouter[]; maxConnections?: number; maxConnectionsPerClient?: number; timeouts?: AdminTimeouts },
  body: (h: Harness) => Promise<void>,
): Promise<void> {
  const metrics = new Metrics({ processMetrics: false });
  const log = Logger.create({ level: 'info', sink: { write() {} } });
  const router = new SnapshotRouterView('h2', SNAPSHOT, options.answer);
  const readiness = { ready: false, reasons: ['listeners not bound yet'] };
  const namer: PrefixedNamer = {
    prefix: Path.of('#', 'io.l5d.k8s'),
    kind: 'io.l5d.k8s',
    namer: { lookup: () => constant(ok<NameTree<Name>>(Neg)), state: () => ({ watches: 2, lastSync: '2026-01-01T00:00:00Z' }) },
  };
  const stateless: PrefixedNamer = { prefix: Path.of('#', 'io.l5d.dns'), kind: 'io.l5d.dns', namer: { lookup: () => constant(ok<NameTree<Name>>(Neg)) } };
  const h: Harness = { admin: undefined as unknown as AdminServer, base: '', metrics, log, router, readiness, shutdowns: 0 };
  const deps: AdminDeps = {
    routers: [router, ...(options.extraRouters ?? [])],
    namers: [namer, stateless],
    metrics,
    log,
    effectiveConfig: { admin: { port: 0 }, routers: [{ label: 'h2' }] },
    readiness: () => readiness,
    onShutdown: () => void h.shutdowns++,
    version: '9.9.9-test',
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
  };
  h.admin = await startAdmin({ ip: '127.0.0.1', port: 0, controlEnabled: options.controlEnabled ?? false, maxConnections: options.maxConnections ?? 1000, maxConnectionsPerClient: options.maxConnectionsPerClient ?? 16 }, deps);
  h.base = `http://127.0.0.1:${h.admin.port}`;
  try {
    await body(h);
  } finally {
    await h.admin.close();
  }
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; text: string; type: string }> {
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

function recordTraffic(metrics: Metrics, n: { ok: number; unavailable: number }) {
  const labels = { router: 'h2', service: '/svc/com.example.grpc.EchoService', client: '/$/inet/127.0.0.1/8080' };
  metrics.requests.inc({ ...labels, grpc_code: 'OK' }, n.ok);
  metrics.requests.inc({ ...labels, grpc_code: 'UNAVAILABLE' }, n.unavailable);
  for (let i = 0; i < n.ok + n.unavailable; i++) metrics.requestDuration.observe(labels, 0.003);
}

test('ping, live, index and unknown paths', async () => {
  await withAdmin({}, async ({ base }) => {
    assert.deepEqual(await get(`${base}/admin/ping`).then((r) => [r.status, r.text.trim()]), [200, 'pong']);
    assert.equal((await get(`${base}/live`)).status, 200);
    const index = await get(`${base}/admin`);
    assert.equal(index.status, 200);
    for (const p of ['/admin/ping', '/ready', '/metrics', '/admin/metrics.json', '/delegator.json', '/client_state.json', '/namer_state/io.l5d.k8s.json']) {
      assert.ok(index.text.includes(p), `index lists ${p}`);
    }
    assert.match(index.text, /\/admin\/shutdown .*disabled/);
    const missing = await get(`${base}/nope`);
    assert.equal(missing.status, 404);
    assert.match(missing.text, /No admin endpoint at \/nope/);
    assert.equal((await get(`${base}/admin/ping`, { method: 'DELETE' })).status, 405);
  });
});

test('readiness follows the process: 503 with reasons, 200 when ready, 503 again while draining', async () => {
  await withAdmin({}, async ({ base, readiness }) => {
    let r = await get(`${base}/ready`);
    assert.equal(r.status, 503);
    assert.match(r.text, /listeners not bound yet/);
    readiness.ready = true;
    readiness.reasons = [];
    r = await get(`${base}/ready`);
    assert.deepEqual([r.status, r.text.trim()], [200, 'ready']);
    readiness.ready = false;
    readiness.reasons = ['draining: shutting down'];
    r = await get(`${base}/ready`);
    assert.equal(r.status, 503);
    assert.match(r.text, /draining/);
    assert.equal((await get(`${base}/live`)).status, 200, 'still live while draining');
  });
});

test('Prometheus text at /metrics and /admin/metrics/prometheus parses back with the recorded series', async () => {
  await withAdmin({}, async ({ base, metrics }) => {
    recordTraffic(metrics, { ok: 7, unavailable: 2 });
    metrics.streamsInFlight.set({ router: 'h2', client: '/$/inet/127.0.0.1/8080' }, 3);
    for (const path of ['/metrics', '/admin/metrics/prometheus']) {
      const r = await get(base + path);
      assert.equal(r.status, 200);
      assert.match(r.type, /^text\/plain; version=0\.0\.4/);
      const { types, samples } = parsePrometheus(r.text);
      assert.equal(types.get('kgr_requests_total'), 'counter');
      assert.equal(types.get('kgr_request_duration_seconds'), 'histogram');
      const find = (name: string, labels: Record<string, string>) =>
        samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
      assert.equal(find('kgr_requests_total', { grpc_code: 'OK', client: '/$/inet/127.0.0.1/8080' })?.value, 7);
      assert.equal(find('kgr_requests_total', { grpc_code: 'UNAVAILABLE' })?.value, 2);
      assert.equal(find('kgr_request_duration_seconds_count', { service: '/svc/com.example.grpc.EchoService' })?.value, 9);
      assert.equal(find('kgr_request_duration_seconds_bucket', { le: '0.0025' })?.value, 0);
      assert.equal(find('kgr_request_duration_seconds_bucket', { le: '0.005' })?.value, 9);
      assert.equal(find('kgr_streams_in_flight', { router: 'h2' })?.value, 3);
    }
  });
});

test('metrics.json: flat Linkerd-style names, ?tree=1 nesting and ?q= subtrees', async () => {
  await withAdmin({}, async ({ base, metrics }) => {
    recordTraffic(metrics, { ok: 4, unavailable: 1 });
    const flat = JSON.parse((await get(`${base}/admin/metrics.json`)).text) as Record<string, number>;
    const scope = 'rt/h2/service/svc/com.example.grpc.EchoService/client/$/inet/127.0.0.1/8080';
    assert.equal(flat[`${scope}/grpc_code/OK/requests`], 4);
    assert.equal(flat[`${scope}/grpc_code/UNAVAILABLE/requests`], 1);
    assert.equal(flat[`${scope}/request_duration_seconds.count`], 5);
    // Linkerd's own names, with success meaning grpc-status OK.
    assert.equal(flat['rt/h2/service/svc/com.example.grpc.EchoService/requests'], 5);
    assert.equal(flat['rt/h2/service/svc/com.example.grpc.EchoService/success'], 4);
    assert.equal(flat['rt/h2/service/svc/com.example.grpc.EchoService/failures'], 1);
    assert.equal(flat['rt/h2/client/$/inet/127.0.0.1/8080/failures'], 1);
    const p50 = flat[`${scope}/request_duration_seconds.p50`]!;
    assert.ok(p50 > 0.0025 && p50 <= 0.005, `p50 ${p50} inside the 2.5–5 ms bucket`);

    // The open admin connections include these requests' own, which fetch may or may not reuse: the rest must match.
    const withoutConnections = ({ admin_connections: _, ...rest }: Record<string, number>) => rest;
    assert.deepEqual(withoutConnections(JSON.parse((await get(`${base}/metrics.json`)).text)), withoutConnections(flat), 'Linkerd also serves it at /metrics.json');
    const tree = JSON.parse((await get(`${base}/admin/metrics.json?tree=1`)).text);
    assert.equal(tree.rt.h2.service.svc['com.example.grpc.EchoService'].client.$.inet['127.0.0.1']['8080'].grpc_code.OK.requests.counter, 4);

    const sub = await get(`${base}/admin/metrics.json?q=rt/h2/service`);
    assert.equal(sub.status, 200);
    assert.ok(JSON.parse(sub.text).svc);
    const none = await get(`${base}/admin/metrics.json?q=rt/nope`);
    assert.equal(none.status, 404);
    assert.deepEqual(JSON.parse(none.text), { error: 'No such subtree: rt/nope' });
  });
});

test('config.json, client_state.json, bound-names.json and namer_state', async () => {
  await withAdmin({}, async ({ base }) => {
    assert.deepEqual(JSON.parse((await get(`${base}/config.json`)).text), { admin: { port: 0 }, routers: [{ label: 'h2' }] });
    const clients = JSON.parse((await get(`${base}/client_state.json`)).text);
    assert.deepEqual(clients['/$/inet/127.0.0.1/8080'].addresses, ['127.0.0.1:8080']);
    assert.equal(clients['/$/inet/127.0.0.1/8080'].state, 'bound');
    assert.equal(clients['/$/inet/127.0.0.1/8080'].endpoints[0].failures, 1);

    assert.deepEqual(JSON.parse((await get(`${base}/bound-names.json`)).text), ['/$/inet/127.0.0.1/8080']);

    const k8s = await get(`${base}/namer_state/io.l5d.k8s.json`);
    assert.equal(k8s.status, 200);
    assert.deepEqual(JSON.parse(k8s.text), { prefix: '/#/io.l5d.k8s', kind: 'io.l5d.k8s', state: { watches: 2, lastSync: '2026-01-01T00:00:00Z' } });
    assert.equal((await get(`${base}/namer_state/%23/io.l5d.k8s.json`)).status, 200, 'the full prefix, percent-encoded, works too');
    const dns = await get(`${base}/namer_state/io.l5d.dns.json`);
    assert.equal(dns.status, 404);
    assert.match(dns.text, /keeps no watch state/);
    const unknown = await get(`${base}/namer_state/io.l5d.consul.json`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, /known: \/namer_state\/io\.l5d\.k8s\.json/);
    // A bad %-escape is the client's error: 400 naming it, not a 500 logged with the whole path.
    const bad = await get(`${base}/namer_state/%E0${'A'.repeat(5000)}.json`);
    assert.equal(bad.status, 400);
    assert.match(bad.text, /^bad %-escape in "%E0A{97}"\n?$/);
  });
});

test('delegator.json: GET and POST reach the named router with exactly the given path and dtab', async () => {
  const other = new SnapshotRouterView('other', { ...SNAPSHOT, label: 'other' });
  await withAdmin({ extraRouters: [other] }, async ({ base, router }) => {
    const dtab = '/svc => /$/inet/127.0.0.1/9000';
    const r = await get(`${base}/delegator.json?namespace=h2&path=${encodeURIComponent('/svc/Echo')}&dtab=${encodeURIComponent(dtab)}`);
    assert.equal(r.status, 200);
    assert.match(r.type, /application\/json/);
    // The dtab engine's delegator, through the global namer's /$/inet, with what routing does at each node.
    assert.deepEqual(JSON.parse(r.text), {
      type: 'delegate',
      path: '/svc/Echo',
      delegate: {
        type: 'leaf',
        path: '/$/inet/127.0.0.1/9000/Echo',
        dentry: { prefix: '/svc', dst: '/$/inet/127.0.0.1/9000' },
        bound: { addr: { type: 'bound', addrs: [{ ip: '127.0.0.1', port: 9000, meta: {} }], meta: {} }, id: '/$/inet/127.0.0.1/9000', path: '/Echo' },
        routing: { outcome: 'bound', chosen: true, share: 1 },
      },
      routing: { outcome: 'bound', chosen: true, share: 1 },
    });
    const p = await get(`${base}/delegator.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ namespace: 'other', path: '/svc/Other', dtab: '' }),
    });
    assert.equal(p.status, 200);
    assert.deepEqual(router.calls, [{ path: '/svc/Echo', dtab: '/svc=>/$/inet/127.0.0.1/9000' }]);
    assert.deepEqual(other.calls, [{ path: '/svc/Other', dtab: '' }]);
  });
});

test('delegator.json error codes: 400 bad input, 404 unknown namespace, 415, 405, 503 on timeout', async () => {
  const never = new NameInterpreter({ global: globalNamer(), namers: [NEVER] });
  await withAdmin({ answer: (path, dtab, options) => delegate(never, dtab, path, options) }, async ({ base, router }) => {
    const post = (body: string, type = 'application/json') => get(`${base}/delegator.json`, { method: 'POST', headers: { 'content-type': type }, body });

    let r = await get(`${base}/delegator.json?namespace=h2&path=/svc/x&dtab=${encodeURIComponent('/svc => ')}`);
    assert.equal(r.status, 400);
    assert.match(r.text, /^Invalid dtab: /);
    r = await post(JSON.stringify({ namespace: 'h2', path: 'svc/no-leading-slash', dtab: '' }));
    assert.equal(r.status, 400);
    assert.match(r.text, /^Invalid path: /);
    r = await get(`${base}/delegator.json?namespace=h2`);
    assert.equal(r.status, 400);
    assert.match(r.text, /path/);
    r = await post('{"namespace": "h2", "path": ');
    assert.equal(r.status, 400);
    assert.match(r.text, /^Malformed delegation request: /);
    r = await post(JSON.stringify({ namespace: 'h2', path: '/svc/x' }));
    assert.equal(r.status, 400, 'POST requires dtab');
    r = await post(JSON.stringify({ namespace: 'h2', path: '/svc/x', dtab: '' }), 'text/plain');
    assert.equal(r.status, 415);
    assert.match(r.text, /application\/json/);
    r = await post(JSON.stringify({ namespace: 'nope', path: '/svc/x', dtab: '' }));
    assert.equal(r.status, 404);
    assert.match(r.text, /Unknown namespace "nope".*h2/);
    r = await get(`${base}/delegator.json?namespace=h2&path=/svc/x`, { method: 'PUT', body: '{}' });
    assert.equal(r.status, 405);
    assert.equal(router.calls.length, 0, 'bad requests never reach the router');

    r = await get(`${base}/delegator.json?namespace=h2&path=/svc/x`);
    assert.equal(r.status, 503);
    assert.equal(r.text.trim(), 'Request timed out.');
  });
});

test('delegator.json: a dtab over 64 KiB or a local over 4 KiB is a 400 naming the field and the limit, before it is parsed', async () => {
  await withAdmin({}, async ({ base, router }) => {
    const post = (body: unknown) => get(`${base}/delegator.json`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify(body) });
    // 1 MB of dentries (the report's 37,853 were this size), broken at the end: parsed, it would be a syntax error.
    const huge = '/svc/a => /$/inet/127.0.0.1/1;'.repeat(34_000) + ' => broken';
    let r = await post({ namespace: 'h2', path: '/svc/x', dtab: huge });
    assert.equal(r.status, 400);
    assert.equal(r.text.trim(), `Invalid dtab: "dtab" is ${huge.length} bytes; the delegator parses at most ${MAX_DELEGATION_DTAB_BYTES} bytes`);
    assert.equal(MAX_DELEGATION_DTAB_BYTES, 64 * 1024);
    r = await post({ namespace: 'h2', path: '/svc/x', dtab: '', local: '/svc => /$/inet/127.0.0.1/1;'.repeat(200) + ' => broken' });
    assert.equal(r.status, 400);
    assert.match(r.text, /^Invalid dtab: "local" is \d+ bytes; an l5d-dtab the router takes is at most 4096 bytes\n$/);
    // Counted in bytes, not characters.
    const wide = '/svc => /$/inet/127.0.0.1/1; ' + ' '.repeat(2000) + '\u00e9'.repeat(1100);
    r = await post({ namespace: 'h2', path: '/svc/x', dtab: '', local: wide });
    assert.match(r.text, /^Invalid dtab: "local" is \d+ bytes/);
    // The same limits hold on GET.
    r = await get(`${base}/delegator.json?namespace=h2&path=/svc/x&local=${encodeURIComponent(' '.repeat(4500))}`);
    assert.equal(r.status, 400);
    assert.match(r.text, /^Invalid dtab: "local" is 4500 bytes/);
    assert.equal(router.calls.length, 0, 'nothing reached the router');
    // At the limits, both are parsed and delegated.
    const dentry = '/svc => /$/inet/127.0.0.1/1;';
    r = await post({ namespace: 'h2', path: '/svc/x', dtab: dentry + ' '.repeat(MAX_DELEGATION_DTAB_BYTES - dentry.length), local: dentry + ' '.repeat(4096 - dentry.length) });
    assert.equal(r.status, 200, r.text);
    assert.equal(router.calls.length, 1);
  });
});

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** Whether the client had finished its body when the answer came. */
  bodyDone: boolean;
}

/**
 * A POST over node:http (not fetch, which would hide a reset behind a generic error) whose body
 * `send` writes. A server that refuses a body closes while the client may still be writing, so a write
 * error once the answer has come is expected; one before it is the reset this guards against.
 */
function rawPost(url: string, headers: OutgoingHttpHeaders, send: (req: ClientRequest, answered: () => boolean) => void): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: 'POST', headers, agent: false });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.on('response', (res) => {
      answered = true;
      const bodyDone = req.writableEnded;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), bodyDone });
        req.destroy();
      });
    });
    send(req, () => answered);
  });
}

function assertTooLarge(r: RawAnswer, what: string): void {
  assert.equal(r.status, 413, what);
  assert.equal(r.text, 'Request body over 1 MiB\n', what);
  assert.equal(r.headers.connection, 'close', `${what}: the rest of the body is not read`);
}

const JSON_TYPE = { 'content-type': 'application/json' };

// A safety net, not a wait: before the fix a refused body could leave the request hanging.
const BOUNDED = { timeout: 15_000 };

test('a 2 MiB body is answered 413 on every endpoint that reads one, and a normal POST still works', BOUNDED, async () => {
  await withAdmin({ controlEnabled: true }, async ({ base, router, log }) => {
    const body = Buffer.alloc(2 * BODY_LIMIT, 'a');
    // The client writes all of it, as curl did in the report, and must still read the answer.
    assertTooLarge(await rawPost(`${base}/delegator.json`, JSON_TYPE, (req) => req.end(body)), 'delegator.json');
    assertTooLarge(await rawPost(`${base}/logging.json`, JSON_TYPE, (req) => req.end(body)), 'logging.json');
    assert.equal(router.calls.length, 0);
    assert.equal(log.level, 'info');

    const ok = await get(`${base}/delegator.json`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ namespace: 'h2', path: '/svc/x', dtab: '/svc => /$/inet/127.0.0.1/1' }) });
    assert.equal(ok.status, 200);
    assert.deepEqual(router.calls, [{ path: '/svc/x', dtab: '/svc=>/$/inet/127.0.0.1/1' }]);
  });
});

test('a Content-Length over 1 MiB is answered 413 before any of the body is sent', BOUNDED, async () => {
  await withAdmin({}, async ({ base }) => {
    const r = await rawPost(`${base}/delegator.json`, { ...JSON_TYPE, 'content-length': 2 * BODY_LIMIT }, (req) => req.flushHeaders());
    assertTooLarge(r, 'announced length');
    assert.equal(r.bodyDone, false);
  });
});

test('a chunked body is answered 413 as soon as it passes 1 MiB, while the client is still sending', BOUNDED, async () => {
  await withAdmin({}, async ({ base }) => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const r = await rawPost(`${base}/delegator.json`, { ...JSON_TYPE, 'transfer-encoding': 'chunked' }, (req, answered) => {
      // Keep writing as each chunk is taken until the answer comes; the cap only ends the body if it never does.
      const next = (err?: Error | null) => {
        if (err || answered()) return;
        if (sent >= 64 * BODY_LIMIT) return void req.end();
        sent += chunk.length;
        req.write(chunk, next);
      };
      next();
    });
    assertTooLarge(r, 'chunked');
    assert.equal(r.bodyDone, false, `answered mid-body (${sent} bytes sent)`);
  });
});

test('a refused body is read on after the 413 until the client closes: no reset however long the client goes on sending, and nothing after it is served', BOUNDED, async () => {
  await withAdmin({ controlEnabled: true }, async (h) => {
    const { base } = h;
    const url = new URL(base);
    const socket = connect({ port: Number(url.port), host: url.hostname, allowHalfOpen: true });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const chunked = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    let answer = '';
    let sentAfterFin = 0;
    const outcome = await new Promise<{ error?: Error; hadError: boolean }>((resolve) => {
      let error: Error | undefined;
      socket.on('error', (err) => (error = err));
      socket.on('close', (hadError) => resolve({ error, hadError }));
      socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
      // The answer and the router's FIN have come: send 4 MiB more, as a client that does not read
      // while it writes would, then the body's end and our own FIN. Before the fix, the router's
      // socket was already gone: these bytes met a reset and the client saw ECONNRESET or EPIPE.
      socket.on('end', () => {
        const more = () => {
          while (sentAfterFin < 64) {
            sentAfterFin++;
            if (!socket.write(chunked)) return void socket.once('drain', more);
          }
          // The body's end, then a request on the closing connection: RFC 9112 §9.6 says not to serve it.
          socket.end('0\r\n\r\nPOST /admin/shutdown HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n');
        };
        more();
      });
      socket.write(`POST /delegator.json HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`);
      for (let i = 0; i < 24; i++) socket.write(chunked);
    });
    assert.equal(outcome.error, undefined, `the client saw ${outcome.error?.message} after the answer (${sentAfterFin} chunks sent after the FIN)`);
    assert.equal(outcome.hadError, false);
    assert.equal(sentAfterFin, 64);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.ok(answer.endsWith('Request body over 1 MiB\n'), answer);
    // Served or not, the request is parsed before the router closes its side: wait for that.
    await eventually('the admin connection closed on the router side', async () => (await h.metrics.adminConnections.get()).values[0]?.value === 0);
    assert.equal(h.shutdowns, 0, 'a request sent after the 413 on its connection is not served');
  });
});

test('admin connections are bounded per client address and in all: one past a bound is closed as it arrives and counted; the open ones, and other clients, go on', BOUNDED, async () => {
  await withAdmin({ maxConnections: 3, maxConnectionsPerClient: 2 }, async ({ admin, metrics }) => {
    /** A kept-alive connection from `from` that has had one answer: the server has surely taken it. */
    const answered = async (from: string): Promise<{ socket: Socket; ask(): Promise<string> }> => {
      const socket = connect({ port: admin.port, host: '127.0.0.1', localAddress: from });
      socket.on('error', () => {});
      let text = '';
      let waiter: (() => void) | undefined;
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        if (/\r\n\r\npong/.test(text)) waiter?.();
      });
      const ask = () =>
        new Promise<string>((resolve, reject) => {
          text = '';
          waiter = () => resolve(text);
          socket.once('close', () => reject(new Error(`closed unanswered (from ${from})`)));
          socket.write('GET /admin/ping HTTP/1.1\r\nhost: x\r\n\r\n');
        });
      assert.match(await ask(), /^HTTP\/1\.1 200 /);
      return { socket, ask };
    };
    const refused = async (limit: string) => (await metrics.limitsReached.get()).values.find((v) => v.labels['limit'] === limit)?.value ?? 0;
    // A pod (one address) holding its two: its third is closed; another address, the kubelet's, still gets in.
    const pod = [await answered('127.0.0.1'), await answered('127.0.0.1')];
    await assert.rejects(answered('127.0.0.1'), /closed unanswered/);
    assert.equal(await refused('admin.maxConnectionsPerClient'), 1);
    const kubelet = await answered('127.0.0.2');
    // Three open in all: a fourth address is closed too.
    await assert.rejects(answered('127.0.0.3'), /closed unanswered/);
    assert.equal(await refused('admin.maxConnections'), 1);
    for (const c of [...pod, kubelet]) assert.match(await c.ask(), /^HTTP\/1\.1 200 /, 'the open connections are untouched');
    // Once one goes, its address (and anyone) is taken again.
    pod[0]!.socket.destroy();
    const again = await eventually('a new admin connection taken once one closed', () => answered('127.0.0.1'));
    for (const c of [again, pod[1]!, kubelet]) c.socket.destroy();
  });
});

test('admin connections are bounded by time: a silent one gets 408 and goes, an idle kept-alive one goes, and each frees its client slot', BOUNDED, async () => {
  // Shortened timeouts; the product's are ADMIN_TIMEOUTS.
  const timeouts: AdminTimeouts = { idle: 200, headers: 300, request: 600, linger: 500, check: 50 };
  await withAdmin({ maxConnectionsPerClient: 1, timeouts }, async ({ admin, metrics }) => {
    const open = async () => (await metrics.adminConnections.get()).values[0]?.value ?? 0;
    const closed = (socket: Socket) => new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.once('close', () => resolve(text));
    });
    // A client that connects and says nothing holds its address's one slot until the headers timeout.
    const silent = connect(admin.port, '127.0.0.1');
    silent.on('error', () => {});
    const silentAnswer = closed(silent);
    await eventually('the silent connection taken', async () => (await open()) === 1);
    assert.match(await silentAnswer, /^HTTP\/1\.1 408 /);
    await eventually('the silent connection gone from the count', async () => (await open()) === 0);
    // The slot is free again: a request is answered; kept alive and left idle, that connection goes too.
    const kept = connect(admin.port, '127.0.0.1');
    kept.on('error', () => {});
    const keptText = closed(kept);
    kept.write('GET /admin/ping HTTP/1.1\r\nhost: x\r\n\r\n');
    assert.match(await keptText, /^HTTP\/1\.1 200 [^]*pong\n$/);
    await eventually('the idle connection gone from the count', async () => (await open()) === 0);
    assert.equal((await metrics.limitsReached.get()).values.length, 0, 'no bound was reached: the slots were freed by time');
  });
});

test('control endpoints are off by default and work when enabled', async () => {
  await withAdmin({}, async ({ base, log }) => {
    const s = await get(`${base}/admin/shutdown`, { method: 'POST' });
    assert.equal(s.status, 403);
    assert.match(s.text, /admin\.controlEnabled/);
    const l = await get(`${base}/logging.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"level":"debug"}' });
    assert.equal(l.status, 403);
    assert.equal(log.level, 'info');
    assert.deepEqual(JSON.parse((await get(`${base}/logging.json`)).text), [{ logger: 'root', level: 'info' }]);
  });
  await withAdmin({ controlEnabled: true }, async (h) => {
    assert.equal((await get(`${h.base}/admin/shutdown`)).status, 405);
    const l = await get(`${h.base}/logging.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"level":"debug"}' });
    assert.equal(l.status, 200);
    assert.equal(h.log.level, 'debug');
    const bad = await get(`${h.base}/logging.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"level":"loud"}' });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /Invalid level "loud"/);
    const s = await get(`${h.base}/admin/shutdown`, { method: 'POST' });
    assert.equal(s.status, 202);
    assert.equal(h.shutdowns, 1);
  });
});

test('dashboard.json turns counter and histogram deltas into rates, success rate and percentiles', async () => {
  await withAdmin({}, async ({ base, metrics }) => {
    const dashboard = async () => JSON.parse((await get(`${base}/admin/dashboard.json`)).text);
    // Let the sampler take a baseline, then record traffic and wait for the next samples.
    const deadline = Date.now() + 8000;
    let d = await dashboard();
    recordTraffic(metrics, { ok: 9, unavailable: 1 });
    while (Date.now() < deadline) {
      d = await dashboard();
      if (d.routers[0].current.rps > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const r = d.routers[0];
    assert.equal(r.label, 'h2');
    assert.ok(r.current.rps > 0, 'rate seen');
    assert.equal(r.current.successRate, 0.9);
    assert.ok(r.current.p50 > 2.5 && r.current.p50 <= 5, `p50 ${r.current.p50} ms`);
    assert.ok(r.current.byCode.OK > 0 && r.current.byCode.UNAVAILABLE > 0);
    assert.ok(r.series.t.length >= 1 && r.series.rps.some((v: number) => v > 0), 'time series has the burst');
    assert.equal(r.services[0].name, '/svc/com.example.grpc.EchoService');
    assert.ok(r.services[0].current.rps > 0);
    assert.equal(r.clients[0].endpoints[0].address, '127.0.0.1:8080');
    assert.equal(d.version, '9.9.9-test');
  });
});

test('the dashboard page and its assets are served from the build', async () => {
  await withAdmin({}, async ({ base }) => {
    const page = await get(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.text, /<script type="module" src="\/assets\/dashboard.js">/);
    const js = await get(`${base}/assets/dashboard.js`);
    assert.equal(js.status, 200);
    assert.match(js.type, /javascript/);
    for (const module of ['format.js', 'chart.js', 'delegation.js']) assert.match((await get(`${base}/assets/${module}`)).type, /javascript/);
    assert.equal((await get(`${base}/assets/dashboard.css`)).status, 200);
    assert.equal((await get(`${base}/assets/nope.js`)).status, 404);
    assert.equal((await get(`${base}/assets/%2e%2e%2fserver.js`)).status, 404, 'no way out of the assets directory');
    assert.equal((await get(`${base}/assets/../server.js`)).status, 404);
    assert.ok(!/https?:\/\//.test(page.text.replace(/http:\/\/www\.w3\.org[^"]*/g, '')), 'no external URLs: works offline');
  });
});

test('a taken admin port is a clear startup error naming the address and the config keys', async () => {
  await withAdmin({}, async ({ admin, metrics, log }) => {
    const deps: AdminDeps = { routers: [], namers: [], metrics, log, effectiveConfig: {}, readiness: () => ({ ready: true, reasons: [] }), version: 't' };
    await assert.rejects(startAdmin({ ip: '127.0.0.1', port: admin.port, controlEnabled: false, maxConnections: 1000, maxConnectionsPerClient: 16 }, deps), (err: Error) => {
      assert.match(err.message, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${admin.port} \\(admin\\.ip, admin\\.port\\): .*EADDRINUSE`));
      return true;
    });
  });
});
