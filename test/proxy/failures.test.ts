import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ProxyHarness, addr } from './harness.js';
import { startRawBackend, answerOk, startGoawayBackend } from '../fixtures/grpc/raw-backend.js';
import { startTestServer, testClient, unary, type Resp } from '../fixtures/grpc/test-service.js';
import { spawnHoldingServer } from '../fixtures/grpc/child-server.js';
import { RawClient } from '../h2/connection-helpers.js';
import { ErrorCode, SettingId } from '../../src/h2/frames.js';
import { eventually } from '../support/eventually.js';
import { FakeClock } from '../support/fake-clock.js';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLOW_CONTROL_ERROR } = http2.constants;

/** A port nothing listens on (bound then released). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

for (const [code, expected, name] of [
  [NGHTTP2_CANCEL, grpc.status.CANCELLED, 'CANCEL'],
  [NGHTTP2_ENHANCE_YOUR_CALM, grpc.status.RESOURCE_EXHAUSTED, 'ENHANCE_YOUR_CALM'],
  [NGHTTP2_FLOW_CONTROL_ERROR, grpc.status.RESOURCE_EXHAUSTED, 'FLOW_CONTROL_ERROR'],
  [NGHTTP2_INTERNAL_ERROR, grpc.status.INTERNAL, 'INTERNAL_ERROR'],
] as const) {
  test(`an upstream RST_STREAM ${name} becomes gRPC status ${grpc.status[expected]}`, async () => {
    const backend = await startRawBackend((stream) => stream.close(code));
    const proxy = await new ProxyHarness(addr(backend.port)).start();
    const client = testClient(proxy.target);
    try {
      const r = await unary(client, { message: 'x' });
      assert.equal(r.error?.code, expected, r.error?.details);
      assert.equal(backend.seen.length, 1, 'not retried: the endpoint may have processed it');
    } finally {
      client.close();
      await proxy.close();
      await backend.close();
    }
  });
}

test('REFUSED_STREAM is retried transparently on another endpoint', async () => {
  const refusing = await startRawBackend((stream) => stream.close(NGHTTP2_REFUSED_STREAM));
  const good = await startRawBackend((stream) => answerOk(stream));
  const proxy = await new ProxyHarness(addr(refusing.port, good.port)).start();
  const client = testClient(proxy.target);
  try {
    for (let i = 0; i < 6; i++) {
      const r = await unary(client, { message: 'x' });
      assert.equal(r.error, null, r.error?.details);
    }
    assert.equal(good.seen.length, 6);
    assert.ok(refusing.seen.length >= 1);
  } finally {
    client.close();
    await proxy.close();
    await refusing.close();
    await good.close();
  }
});

test('retries are bounded by maxAttempts; then UNAVAILABLE', async () => {
  const refusing = await startRawBackend((stream) => stream.close(NGHTTP2_REFUSED_STREAM));
  const proxy = await new ProxyHarness(addr(refusing.port), { maxAttempts: 3 }).start();
  const client = testClient(proxy.target, { 'grpc.enable_retries': 0 });
  try {
    const r = await unary(client, { message: 'x' });
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
    assert.equal(refusing.seen.length, 3);
    // Two retries after the first attempt, counted by reason.
    const retries = (await proxy.metrics.retries.get()).values.map((v) => [v.labels.reason, v.value]);
    assert.deepEqual(retries, [['refused', 2]]);
  } finally {
    client.close();
    await proxy.close();
    await refusing.close();
  }
});

test('a refused connect is retried on another endpoint; every call succeeds', async () => {
  const backend = await startTestServer({ name: 'alive' });
  const proxy = await new ProxyHarness(addr(await deadPort(), backend.port)).start();
  const client = testClient(proxy.target);
  try {
    for (let i = 0; i < 10; i++) {
      const r = await unary(client, { message: `m${i}` });
      assert.equal(r.error, null, r.error?.details);
      assert.equal(r.resp!.from, 'alive');
    }
  } finally {
    client.close();
    await proxy.close();
    await backend.close();
  }
});

test('only dead endpoints: UNAVAILABLE with an l5d-err naming the endpoint', async () => {
  const port = await deadPort();
  const proxy = await new ProxyHarness(addr(port)).start();
  const client = testClient(proxy.target);
  try {
    const r = await unary(client, { message: 'x' });
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
    assert.match(r.error!.details, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.ok(r.status!.metadata.get('l5d-err').length === 1);
    // A second call while the endpoint backs off fails at once too; nothing stays counted in flight.
    assert.equal((await unary(client, { message: 'y' })).error?.code, grpc.status.UNAVAILABLE);
    assert.equal(proxy.client.inFlight, 0);
    assert.equal(proxy.client.snapshot().endpoints[0]!.inFlight, 0);
  } finally {
    client.close();
    await proxy.close();
  }
});

test('streams above a GOAWAY last-stream-id are retried elsewhere', async () => {
  const goaway = await startGoawayBackend();
  const good = await startRawBackend((stream) => answerOk(stream));
  const proxy = await new ProxyHarness(addr(goaway.port, good.port)).start();
  const client = testClient(proxy.target);
  try {
    for (let i = 0; i < 4; i++) {
      const r = await unary(client, { message: 'x' });
      assert.equal(r.error, null, r.error?.details);
    }
    assert.equal(good.seen.length, 4);
    assert.ok(goaway.headersSeen >= 1, 'the GOAWAY endpoint was tried');
  } finally {
    client.close();
    await proxy.close();
    await goaway.close();
    await good.close();
  }
});

test('a backend killed mid-stream fails only its own streams', async () => {
  const a = await startTestServer({ name: 'a' });
  const b = await startTestServer({ name: 'b' });
  const proxy = await new ProxyHarness(addr(a.port, b.port)).start();
  const client = testClient(proxy.target);
  try {
    const run = () => {
      const call = client.ServerStream({ count: 20, size: 10, delay_ms: 50 });
      let from = '';
      let n = 0;
      const done = new Promise<{ from: string; n: number; error?: grpc.ServiceError }>((resolve) => {
        call.on('data', (m: Resp) => {
          from = m.from;
          n++;
        });
        call.on('error', (error: grpc.ServiceError) => resolve({ from, n, error }));
        call.on('end', () => resolve({ from, n }));
      });
      return { call, done, from: () => from };
    };
    const s1 = run();
    const s2 = run();
    await eventually('both streams answering', () => s1.from() !== '' && s2.from() !== '', 10_000);
    const victim = s1.from() === 'a' ? s1 : s2;
    const survivor = victim === s1 ? s2 : s1;
    assert.notEqual(victim.from(), survivor.from());
    a.kill();
    const [v, s] = await Promise.all([victim.done, survivor.done]);
    assert.equal(v.error?.code, grpc.status.UNAVAILABLE, v.error?.details);
    assert.equal(s.error, undefined);
    assert.equal(s.n, 20);
  } finally {
    client.close();
    await proxy.close();
    await b.close();
  }
});

test('an endpoint process killed with SIGKILL (its connection closes with FIN) fails its calls UNAVAILABLE, not CANCELLED', { timeout: 30_000 }, async () => {
  const endpoint = await spawnHoldingServer();
  const proxy = await new ProxyHarness(addr(endpoint.port)).start();
  const client = testClient(proxy.target, { 'grpc.enable_retries': 0 });
  const where = `127\\.0\\.0\\.1:${endpoint.port}`;
  try {
    // A unary the endpoint never answers (nothing committed to the client yet)…
    const unaryArrived = endpoint.arrived('Unary');
    const held = unary(client, { message: 'held' }, { deadlineMs: 20_000 });
    await unaryArrived;
    // …and a server stream whose response headers went out, then nothing more (committed).
    const streamArrived = endpoint.arrived('ServerStream');
    const stream = client.ServerStream({}, new grpc.Metadata(), { deadline: Date.now() + 20_000 });
    const streamStatus = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    stream.on('error', () => {});
    await Promise.all([streamArrived, new Promise((resolve) => stream.once('metadata', resolve))]);
    // Every request byte was read (see the fixture), so the kernel closes the connection with FIN.
    await endpoint.kill();

    const [u, s] = await Promise.all([held, streamStatus]);
    assert.equal(u.error?.code, grpc.status.UNAVAILABLE, `unary: ${grpc.status[u.error?.code ?? 0]}: ${u.error?.details}`);
    assert.match(u.error!.details, new RegExp(`${where}.*connection closed`));
    assert.match(String(u.status!.metadata.get('l5d-err')[0]), new RegExp(where), 'the router says it answered');
    assert.equal(s.code, grpc.status.UNAVAILABLE, `stream: ${grpc.status[s.code]}: ${s.details}`);
    assert.match(s.details, new RegExp(`${where}.*connection closed`));
    // The endpoint may have processed both: neither is replayed. Both count against the endpoint.
    assert.deepEqual(proxy.finishedCalls.map((c) => c.attempts), [1, 1]);
    const ep = proxy.client.snapshot().endpoints[0]!;
    assert.equal(ep.failures, 2);
    assert.equal(ep.inFlight, 0);
  } finally {
    client.close();
    await proxy.close();
    await endpoint.kill();
  }
});

test('a backend added to the address set gets the next calls while a client streams', async () => {
  const a = await startTestServer({ name: 'a' });
  const b = await startTestServer({ name: 'b' });
  const proxy = await new ProxyHarness(addr(a.port)).start();
  const client = testClient(proxy.target);
  try {
    const stream = client.Bidi();
    const got = new Promise<Resp>((r) => stream.once('data', r));
    stream.write({ message: 'open' });
    assert.equal((await got).from, 'a');
    proxy.addr.set(addr(a.port, b.port));
    const froms = new Set<string>();
    for (let i = 0; i < 4; i++) froms.add((await unary(client, { message: 'n' })).resp!.from);
    assert.deepEqual([...froms].sort(), ['a', 'b']);
    // The stream opened before the change still works.
    const again = new Promise<Resp>((r) => stream.once('data', r));
    stream.write({ message: 'still' });
    assert.equal((await again).message, 'still');
    stream.end();
    await new Promise((r) => stream.on('status', r));
  } finally {
    client.close();
    await proxy.close();
    await a.close();
    await b.close();
  }
});

test('an endpoint removed by discovery gets no new streams; its in-flight stream finishes', async () => {
  const a = await startTestServer({ name: 'a' });
  const b = await startTestServer({ name: 'b' });
  const proxy = await new ProxyHarness(addr(a.port)).start();
  const client = testClient(proxy.target);
  try {
    const call = client.ServerStream({ count: 10, size: 10, delay_ms: 50 });
    let n = 0;
    let from = '';
    const done = new Promise<grpc.StatusObject>((resolve) => {
      call.on('data', (m: Resp) => {
        n++;
        from = m.from;
      });
      call.on('status', resolve);
    });
    await eventually('the stream under way on a', () => from === 'a', 10_000);
    proxy.addr.set(addr(b.port));
    for (let i = 0; i < 4; i++) assert.equal((await unary(client, { message: 'n' })).resp!.from, 'b');
    const st = await done;
    assert.equal(st.code, grpc.status.OK);
    assert.equal(n, 10);
    assert.equal(proxy.client.snapshot().endpoints.length, 1);
    // Once drained, the removed endpoint's series leave /metrics (pods come and go for as long as a client lives).
    const endpoints = new Set((await proxy.metrics.endpointRequests.get()).values.map((v) => v.labels.endpoint));
    assert.deepEqual([...endpoints], [`127.0.0.1:${b.port}`]);
  } finally {
    client.close();
    await proxy.close();
    await a.close();
    await b.close();
  }
});

test('failure accrual ejects an endpoint after consecutive failures and the others take the load', async () => {
  const bad = await startRawBackend((stream) =>
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'down' }, { endStream: true }),
  );
  const good = await startRawBackend((stream) => answerOk(stream));
  const proxy = await new ProxyHarness(addr(bad.port, good.port), {
    failureAccrual: { kind: 'io.l5d.consecutiveFailures', failures: 3, backoff: { minMs: 60_000, maxMs: 60_000 } },
  }).start();
  const client = testClient(proxy.target, { 'grpc.enable_retries': 0 });
  try {
    for (let i = 0; i < 20; i++) await unary(client, { message: 'x' });
    assert.equal(bad.seen.length, 3);
    assert.equal(good.seen.length, 17);
    const ep = proxy.client.snapshot().endpoints.find((e) => e.address.endsWith(`:${bad.port}`))!;
    assert.equal(ep.state, 'ejected');
  } finally {
    client.close();
    await proxy.close();
    await bad.close();
    await good.close();
  }
});

test('an endpoint resetting malformed requests (PROTOCOL_ERROR, ENHANCE_YOUR_CALM) is not ejected for them; with every endpoint ejected, calls spread over all', async () => {
  // Ten calls with a content-length their DATA do not match (Node's http2 resets them with
  // PROTOCOL_ERROR) got every endpoint of a service ejected for every pod on the node, and then
  // the whole service's traffic went to its first endpoint.
  const resets = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    if (headers[':path'] === '/t.Svc/Malformed') stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
    else if (headers[':path'] === '/t.Svc/TooMany') stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    else if (headers[':path'] === '/t.Svc/Down') stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'down' }, { endStream: true });
    else answerOk(stream);
  };
  const a = await startRawBackend(resets);
  const b = await startRawBackend(resets);
  const proxy = await new ProxyHarness(addr(a.port, b.port), {
    failureAccrual: { kind: 'io.l5d.consecutiveFailures', failures: 3, backoff: { minMs: 60_000, maxMs: 60_000 } },
  }).start();
  const session = http2.connect(`http://${proxy.target}`);
  const call = (path: string): Promise<string | undefined> =>
    new Promise((resolve) => {
      const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
      let status: string | undefined;
      req.on('response', (h) => (status ??= h['grpc-status'] as string | undefined));
      req.on('trailers', (h) => (status = h['grpc-status'] as string | undefined));
      req.on('error', () => {});
      req.on('close', () => resolve(status));
      req.resume();
      req.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  const states = (): string[] => proxy.client.snapshot().endpoints.map((e) => e.state);
  try {
    for (let i = 0; i < 10; i++) assert.equal(await call('/t.Svc/Malformed'), '13'); // INTERNAL
    for (let i = 0; i < 10; i++) assert.equal(await call('/t.Svc/TooMany'), '8'); // RESOURCE_EXHAUSTED
    assert.deepEqual(states().filter((s) => s === 'ejected'), [], JSON.stringify(proxy.client.snapshot().endpoints));
    // Endpoints that answer UNAVAILABLE are ejected, all of them.
    for (let i = 0; i < 10; i++) await call('/t.Svc/Down');
    assert.deepEqual(states(), ['ejected', 'ejected']);
    // While both stay ejected (their calls still fail), calls go to each in turn, not all to the first.
    const [seenA, seenB] = [a.seen.length, b.seen.length];
    for (let i = 0; i < 10; i++) assert.equal(await call('/t.Svc/Down'), '14');
    assert.ok(a.seen.length - seenA >= 3 && b.seen.length - seenB >= 3, `A took ${a.seen.length - seenA}, B ${b.seen.length - seenB} of 10`);
    // A call that succeeds brings its endpoint back.
    assert.equal(await call('/t.Svc/Ok'), '0');
    assert.ok(states().includes('connected'), states().join());
  } finally {
    session.close();
    await proxy.close();
    await a.close();
    await b.close();
  }
});

test("a second session opens only when the endpoint's SETTINGS_MAX_CONCURRENT_STREAMS is reached", async () => {
  const backend = await startTestServer({ name: 'capped', maxConcurrentStreams: 2 });
  const proxy = await new ProxyHarness(addr(backend.port)).start();
  const client = testClient(proxy.target);
  try {
    // Warm one session so its SETTINGS are known, then run 5 slow calls at once.
    assert.equal((await unary(client, { message: 'warm' })).error, null);
    const calls = await Promise.all(Array.from({ length: 5 }, () => unary(client, { message: 'slow', delay_ms: 300 })));
    for (const c of calls) assert.equal(c.error, null, c.error?.details);
    const text = await proxy.metrics.registry.metrics();
    const m = /kgr_client_connections\{[^}]*\} (\d+)/.exec(text);
    assert.equal(Number(m?.[1]), 3, text.split('\n').filter((l) => l.startsWith('kgr_client_conn')).join('\n'));
  } finally {
    client.close();
    await proxy.close();
    await backend.close();
  }
});

test('an endpoint whose SETTINGS allow no stream (MAX_CONCURRENT_STREAMS 0) fails its calls UNAVAILABLE without a connection per call', async () => {
  const endpoint = http2.createServer({ settings: { maxConcurrentStreams: 0 } });
  endpoint.on('stream', (s) => answerOk(s));
  let accepted = 0;
  endpoint.on('connection', () => accepted++);
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  const proxy = await new ProxyHarness(addr((endpoint.address() as net.AddressInfo).port), { maxAttempts: 3 }).start();
  const client = testClient(proxy.target);
  try {
    // One call first, so that its connections have heard the limit; then a burst.
    const first = await unary(client, { message: 'first' });
    assert.equal(first.error?.code, grpc.status.UNAVAILABLE, first.error?.details);
    const before = accepted;
    const calls = await Promise.all(Array.from({ length: 20 }, () => unary(client, { message: 'burst' })));
    for (const c of calls) assert.equal(c.error?.code, grpc.status.UNAVAILABLE, c.error?.details);
    // Sized by the limit of 0, every new connection took no stream: 20 calls x 3 attempts opened one each.
    assert.ok(accepted - before <= 3, `${accepted - before} connections for 20 calls of 3 attempts each`);
  } finally {
    client.close();
    await proxy.close();
    endpoint.close();
  }
});

/**
 * A listener in front of `endpoint`: while `holding`, the connections it accepts wait here (so the
 * endpoint's SETTINGS do not go out) until release(); `accepted` counts them all.
 */
async function gateFor(endpoint: http2.Http2Server) {
  const held: net.Socket[] = [];
  const all: net.Socket[] = [];
  const gate = {
    holding: false,
    get accepted() { return all.length; },
    port: 0,
    /** Hands the waiting connections to the endpoint, and later ones as they come. */
    release(): void {
      gate.holding = false;
      for (const s of held.splice(0)) endpoint.emit('connection', s);
    },
    /** Drops every connection accepted so far (the endpoint restarts). */
    drop(): void {
      for (const s of all.splice(0)) s.destroy();
    },
    close(): void {
      server.close();
      for (const s of all) s.destroy();
    },
  };
  const server = net.createServer((socket) => {
    all.push(socket);
    if (gate.holding) held.push(socket); else endpoint.emit('connection', socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  gate.port = (server.address() as net.AddressInfo).port;
  return gate;
}

/** A ProxyHarness whose `dispatched(n)` resolves once it has handed n streams to the router. */
class CountingHarness extends ProxyHarness {
  private count = 0;
  private readonly waiters: { n: number; resolve: () => void }[] = [];
  override handleStream(...args: Parameters<ProxyHarness['handleStream']>): void {
    super.handleStream(...args);
    this.count++;
    for (const w of this.waiters) if (this.count === w.n) w.resolve();
  }
  dispatched(n: number): Promise<void> {
    return this.count >= n ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

for (const { limit, connections: expected, moved } of [
  { limit: undefined, connections: 1, moved: 0 },
  { limit: 100, connections: 3, moved: 200 },
]) {
  test(`a burst of 300 streams to a new endpoint ${limit === undefined ? 'without a stream limit opens one connection: past 100 they wait for its SETTINGS' : `allowing ${limit} streams opens 3 connections: the SETTINGS refuse the waiting 200 as never sent, and each moves once`}`, async () => {
    const BURST = 300;
    const endpoint = http2.createServer(limit === undefined ? {} : { settings: { maxConcurrentStreams: limit } });
    endpoint.on('stream', (s) => answerOk(s));
    // The endpoint's SETTINGS go out only once the whole burst has been dispatched: its connections
    // wait at the gate and are handed to the HTTP/2 server then.
    const gate = await gateFor(endpoint);
    gate.holding = true;
    const proxy = await new CountingHarness(addr(gate.port)).start();
    const client = testClient(proxy.target);
    const metric = async (re: RegExp) => Number(re.exec(await proxy.metrics.registry.metrics())?.[1] ?? 0);
    try {
      const calls = Promise.all(Array.from({ length: BURST }, () => unary(client, { message: 'burst' })));
      await proxy.dispatched(BURST);
      assert.equal(await metric(/kgr_client_connections\{[^}]*\} (\d+)/), 1, 'one connection while the endpoint has not said its limit (it was one per 100 streams)');
      gate.release();
      for (const c of await calls) assert.equal(c.error, null, c.error?.details);
      assert.equal(gate.accepted, expected);
      assert.equal(await metric(/kgr_client_connections\{[^}]*\} (\d+)/), expected);
      assert.equal(await metric(/kgr_retries_total\{[^}]*reason="unsent"[^}]*\} (\d+)/), moved);
      const [only] = proxy.client.snapshot().endpoints;
      assert.equal(only!.state, 'connected', 'streams that never left the router are not held against the endpoint');
      // Each call reached the endpoint once: what never left is neither a request to it nor a failure.
      assert.equal(only!.requests, BURST);
      assert.equal(only!.failures, 0);
      assert.equal(await metric(/kgr_endpoint_requests_total\{[^}]*result="success"[^}]*\} (\d+)/), BURST);
      assert.equal(await metric(/kgr_endpoint_requests_total\{[^}]*result="failure"[^}]*\} (\d+)/), 0);
    } finally {
      client.close();
      await proxy.close();
      endpoint.close();
      gate.close();
    }
  });
}

/**
 * An endpoint that allows few streams per connection made the router open a connection for each
 * few: 5,000 calls of one pod to an endpoint allowing one stream each opened 5,000 connections
 * (238 MB of router RSS). Past client.maxConnectionsPerEndpoint, streams wait for a slot instead,
 * as grpc-go's do on its one connection.
 */
/**
 * An endpoint allowing one stream per connection that holds every stream it is sent, by the name
 * its call gave (`x-call`, in order of arrival), behind a router capped at two connections to it.
 */
async function cappedEndpoint() {
  const endpoint = http2.createServer({ settings: { maxConcurrentStreams: 1 } });
  const held = new Map<string, http2.ServerHttp2Stream>();
  /** The connection each call came on (a stream forgets it once it ends). */
  const sessionOf = new Map<string, http2.Http2Session>();
  const sessions: http2.ServerHttp2Session[] = [];
  endpoint.on('session', (s) => sessions.push(s));
  endpoint.on('stream', (s, headers) => {
    s.on('error', () => {});
    held.set(String(headers['x-call']), s);
    sessionOf.set(String(headers['x-call']), s.session!);
  });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  const proxy = await new ProxyHarness(addr((endpoint.address() as net.AddressInfo).port), { maxConnectionsPerEndpoint: 2 }).start();
  const client = http2.connect(`http://${proxy.target}`);
  /** A call named `name`: resolves with its grpc-status, or undefined if it ended without one. */
  const call = (name: string): Promise<string | undefined> => {
    const req = client.request({ ':method': 'POST', ':path': '/t.Svc/Hold', 'content-type': 'application/grpc', te: 'trailers', 'x-call': name });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    req.resume();
    return new Promise((resolve) => {
      req.on('trailers', (t) => resolve(String(t['grpc-status'])));
      req.on('close', () => resolve(undefined));
    });
  };
  const waits = async () => Number(/kgr_limits_reached_total\{[^}]*limit="client.maxConnectionsPerEndpoint"[^}]*\} (\d+)/.exec(await proxy.metrics.registry.metrics())?.[1]);
  const close = async () => {
    client.close();
    await proxy.close();
    endpoint.close();
  };
  return { held, sessionOf, sessions, proxy, call, waits, close };
}

test('past client.maxConnectionsPerEndpoint, streams wait on the open connections for a slot under the endpoint\'s stream limit, through its later SETTINGS, counted in /metrics', async () => {
  const { held, sessions, proxy, call, waits, close } = await cappedEndpoint();
  try {
    const calls = ['0', '1', '2', '3'].map(call);
    await eventually('two calls reached the endpoint', () => held.size === 2, 10_000);
    await eventually('the waiting streams are counted', async () => (await waits()) === 2, 10_000);
    assert.equal(sessions.length, 2, 'no third connection');
    assert.equal(held.size, 2, 'the others wait');
    // SETTINGS that still allow a stream leave the waiting ones waiting: refused, each would spend
    // one of its call's attempts on queueing again (three such calls failed UNAVAILABLE).
    for (let i = 0; i < 3; i++) {
      await Promise.all(sessions.map((s) => new Promise<void>((acked) => s.settings({ maxConcurrentStreams: 1 }, () => acked()))));
    }
    const retries = /kgr_retries_total\{[^}]*reason="unsent"[^}]*\} (\d+)/.exec(await proxy.metrics.registry.metrics());
    assert.equal(Number(retries?.[1] ?? 0), 0, 'no waiting stream was refused');
    // Each answer frees a slot for a waiting stream.
    for (let answered = 0; answered < 4; answered++) {
      await eventually(`call ${answered + 1} reached the endpoint`, () => held.size > answered, 10_000);
      answerOk([...held.values()][answered]!);
    }
    assert.deepEqual(await Promise.all(calls), ['0', '0', '0', '0']);
    assert.equal(sessions.length, 2);
  } finally {
    await close();
  }
});

test('a stream waiting at client.maxConnectionsPerEndpoint goes out on whichever connection frees a slot first, not only on the one it waited on', async () => {
  const { held, sessionOf, waits, call, close } = await cappedEndpoint();
  const answer = (name: string) => answerOk(held.get(name)!);
  try {
    // a and b take the two connections' slots; c, d and e wait, spread over both (c and e on a's).
    const done = ['a', 'b'].map(call);
    await eventually('a and b reached the endpoint', () => held.size === 2, 10_000);
    done.push(...['c', 'd', 'e'].map(call));
    await eventually('c, d and e wait', async () => (await waits()) === 3, 10_000);
    // b's connection frees twice: for the one waiting on it, then for one of a's, which a (a long stream) holds.
    answer('b');
    await eventually('the stream waiting on b\'s connection went out', () => held.size === 3, 10_000);
    const third = [...held.keys()][2]!;
    answer(third);
    await eventually('a stream that waited on a\'s connection went out on b\'s', () => held.size === 4, 10_000);
    const moved = [...held.keys()][3]!;
    assert.ok(['c', 'e'].includes(moved), `${moved} went out`);
    assert.equal(sessionOf.get(moved), sessionOf.get('b'));
    for (const name of ['a', moved]) answer(name);
    await eventually('the last one went out', () => held.size === 5, 10_000);
    answer([...held.keys()][4]!);
    assert.deepEqual(await Promise.all(done), ['0', '0', '0', '0', '0']);
  } finally {
    await close();
  }
});

test('client.maxConnectionsPerEndpoint holds while the endpoint\'s SETTINGS have not arrived: a burst after it restarted waits on the connections being opened', async () => {
  const endpoint = http2.createServer({ settings: { maxConcurrentStreams: 1 } });
  endpoint.on('stream', (s) => answerOk(s));
  const gate = await gateFor(endpoint);
  const BURST = 10;
  const proxy = await new CountingHarness(addr(gate.port), { maxConnectionsPerEndpoint: 2 }).start();
  const client = testClient(proxy.target);
  const connections = async () => Number(/kgr_client_connections\{[^}]*\} (\d+)/.exec(await proxy.metrics.registry.metrics())?.[1]);
  try {
    // The router learns the endpoint's limit of one stream per connection; then the endpoint restarts.
    assert.equal((await unary(client, { message: 'warm' })).error, null);
    gate.holding = true;
    gate.drop();
    await eventually('the router saw its connection go', async () => (await connections()) === 0, 10_000);
    const calls = Promise.all(Array.from({ length: BURST }, () => unary(client, { message: 'burst' })));
    await proxy.dispatched(BURST + 1);
    // Sized by the limit it knew, each new connection took one stream: without the cap, one each.
    assert.equal(await connections(), 2, `connections opened for ${BURST} calls`);
    await eventually('both reached the endpoint', () => gate.accepted === 2, 10_000);
    gate.release();
    for (const c of await calls) assert.equal(c.error, null, c.error?.details);
    assert.equal(gate.accepted, 2);
  } finally {
    client.close();
    await proxy.close();
    endpoint.close();
    gate.close();
  }
});

test('an endpoint that accepts TCP but never speaks HTTP/2 is a failed connect after connectTimeoutMs: its call answers UNAVAILABLE saying why, once, and the endpoint backs off', async () => {
  // A listener that takes connections and says nothing (a wrong port, a hung process).
  let accepted = 0;
  let requestRead!: () => void;
  const readRequest = new Promise<void>((r) => (requestRead = r));
  const silent = net.createServer((socket) => {
    accepted++;
    socket.on('error', () => {});
    socket.once('data', () => requestRead());
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const silentPort = (silent.address() as net.AddressInfo).port;
  // The connect timeout and the backoff run on this clock, so a loaded machine cannot end either early.
  const clock = new FakeClock();
  const proxy = await new ProxyHarness(addr(silentPort), { connectTimeoutMs: 300, failureAccrual: { kind: 'none' } }, {}, {}, clock).start();
  const client = testClient(proxy.target, { 'grpc.enable_retries': 0 });
  const state = () => proxy.client.snapshot().endpoints[0]!.state;
  try {
    const call = unary(client, { message: 'x' });
    // Connected and sent (a timeout before that is a connect timeout, and the call is retried).
    await readRequest;
    clock.advance(299);
    assert.equal(state(), 'connecting');
    clock.advance(1);
    const r = await call;
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
    assert.match(r.error!.details, /sent no HTTP\/2 SETTINGS within 300 ms/);
    // It may have read the request (a slow accept), so the call is not replayed; and the endpoint
    // is backing off, not reconnected for each attempt.
    assert.equal(accepted, 1);
    assert.equal(state(), 'failed');
    // The first backoff is short (at most 50 ms).
    clock.advance(50);
    assert.equal(state(), 'idle');
  } finally {
    client.close();
    await proxy.close();
    silent.close();
  }
});

test('an endpoint that was down is reconnected after its (jittered, short at first) backoff', async () => {
  const port = await deadPort();
  const clock = new FakeClock();
  const proxy = await new ProxyHarness(addr(port), { failureAccrual: { kind: 'none' } }, {}, {}, clock).start();
  const client = testClient(proxy.target, { 'grpc.enable_retries': 0 });
  const state = () => proxy.client.snapshot().endpoints[0]!.state;
  let backend: Awaited<ReturnType<typeof startRawBackend>> | undefined;
  try {
    assert.equal((await unary(client, { message: 'x' })).error?.code, grpc.status.UNAVAILABLE);
    assert.equal(state(), 'failed');
    // The endpoint comes up on the same port.
    let connections = 0;
    const http2srv = http2.createServer();
    http2srv.on('connection', () => connections++);
    http2srv.on('stream', (s) => answerOk(s));
    await new Promise<void>((r) => http2srv.listen(port, '127.0.0.1', r));
    backend = { port, server: http2srv, seen: [], close: () => new Promise<void>((r) => http2srv.close(() => r())) };
    // Until its backoff (at most 50 ms at first) has run out, calls are refused without connecting.
    clock.advance(24);
    assert.equal((await unary(client, { message: 'y' })).error?.code, grpc.status.UNAVAILABLE);
    assert.equal(connections, 0);
    clock.advance(26);
    const r = await unary(client, { message: 'z' });
    assert.equal(r.error, null, r.error?.details);
    assert.equal(state(), 'connected');
  } finally {
    client.close();
    await proxy.close();
    await backend?.close();
  }
});

test('a client that keeps its window shut on an answer loses that stream after sendTimeoutMs, the endpoint\'s stream is cancelled, and the connection serves on', { timeout: 20_000 }, async () => {
  // The endpoint streams without end; the router holds what the client's shut window stops.
  let endpointClosed!: (code: number) => void;
  const endpointStreamClosed = new Promise<number>((r) => (endpointClosed = r));
  const backend = await startRawBackend((stream, headers) => {
    if (headers[':path'] !== '/t.Svc/Flood') return answerOk(stream);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    const chunk = Buffer.alloc(16 * 1024, 1);
    const feed = (): void => { while (!stream.closed && stream.write(chunk)); };
    stream.on('drain', feed);
    stream.on('close', () => endpointClosed(stream.rstCode));
    feed();
  });
  const proxy = await new ProxyHarness(addr(backend.port), {}, { sendTimeoutMs: 300 }).start();
  const client = await RawClient.connect(proxy.port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }]);
  const grpcRequest = (path: string): [string, string][] => [[':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];
  try {
    client.request(1, grpcRequest('/t.Svc/Flood'), false);
    client.writer.data(1, Buffer.from([0, 0, 0, 0, 0]), true);
    client.send();
    const rst = await client.wait((e) => e.kind === 'rst' && e.streamId === 1);
    assert.deepEqual(rst, { kind: 'rst', streamId: 1, errorCode: ErrorCode.CANCEL });
    assert.equal(await endpointStreamClosed, NGHTTP2_CANCEL, 'the router cancelled its stream to the endpoint');
    // The client's other calls are untouched: with its window open again, the next one is answered.
    client.writer.settings([{ id: SettingId.INITIAL_WINDOW_SIZE, value: 65_535 }]);
    client.request(3, grpcRequest('/t.Svc/Ok'), false);
    client.writer.data(3, Buffer.from([0, 0, 0, 0, 0]), true);
    client.send();
    await client.wait((e) => e.kind === 'headers' && e.streamId === 3 && e.endStream);
    assert.deepEqual(client.blocks(3).at(-1)?.find(([n]) => n === 'grpc-status'), ['grpc-status', '0']);
    assert.ok(!client.events.some((e) => e.kind === 'goaway'));
  } finally {
    client.close();
    await proxy.close();
    await backend.close();
  }
});

test('calls past servers[].maxConcurrentRequests, over all connections, are answered RESOURCE_EXHAUSTED at once; each call that ends makes room', { timeout: 20_000 }, async () => {
  const held: http2.ServerHttp2Stream[] = [];
  let seen!: () => void;
  const threeHeld = new Promise<void>((r) => (seen = r));
  const backend = await startRawBackend((stream) => {
    held.push(stream);
    if (held.length === 3) seen();
  });
  const proxy = await new ProxyHarness(addr(backend.port), {}, { maxConcurrentRequests: 3 }).start();
  // Two channels: two connections to the router, one bound over both.
  const a = testClient(proxy.target);
  const b = testClient(proxy.target, { 'grpc.use_local_subchannel_pool': 1 });
  try {
    const first = [unary(a, { message: '1' }), unary(a, { message: '2' }), unary(b, { message: '3' })];
    await threeHeld;
    assert.equal(proxy.server.connections, 2);
    const over = await unary(b, { message: '4' });
    assert.equal(over.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(over.error!.details, /the router has 3 calls in flight on this server \(servers\[\]\.maxConcurrentRequests\)/);
    assert.equal(held.length, 3, 'the endpoint never saw it');
    // One call ends (whichever the endpoint saw first): its slot takes the next call.
    answerOk(held.shift()!);
    assert.equal((await Promise.race(first)).error, null);
    const next = unary(b, { message: '5' });
    await eventually('the endpoint holds the next call', () => held.length === 3, 10_000);
    for (const s of held.splice(0)) answerOk(s);
    assert.equal((await next).error, null);
    for (const c of first) assert.equal((await c).error, null);
    await eventually('no stream is counted once every call ended', () => proxy.server.openStreams === 0, 10_000);
  } finally {
    a.close();
    b.close();
    await proxy.close();
    await backend.close();
  }
});

test('calls past servers[].maxConcurrentRequestsPerClient from one client address are answered RESOURCE_EXHAUSTED; another address still gets its calls through', { timeout: 20_000 }, async () => {
  const held: http2.ServerHttp2Stream[] = [];
  const backend = await startRawBackend((stream) => held.push(stream));
  const proxy = await new ProxyHarness(addr(backend.port), {}, { maxConcurrentRequestsPerClient: 2 }).start();
  const request: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/M'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];
  // Two connections from one address share its bound; a third client address has its own.
  const a1 = await RawClient.connect(proxy.port, [], '127.0.0.1');
  const a2 = await RawClient.connect(proxy.port, [], '127.0.0.1');
  const b = await RawClient.connect(proxy.port, [], '127.0.0.2');
  try {
    a1.request(1, request, true);
    a1.send();
    await eventually('the endpoint holds the first call', () => held.length === 1, 10_000);
    a2.request(1, request, true);
    a2.send();
    await eventually('the endpoint holds both calls', () => held.length === 2, 10_000);
    a2.request(3, request, true);
    a2.send();
    await a2.wait((e) => e.kind === 'headers' && e.streamId === 3 && e.endStream);
    const answer = a2.blocks(3).at(-1)!;
    assert.deepEqual(answer.find(([n]) => n === 'grpc-status'), ['grpc-status', String(grpc.status.RESOURCE_EXHAUSTED)]);
    assert.deepEqual(answer.find(([n]) => n === 'grpc-message'), ['grpc-message', 'this client has 2 calls in flight on this server (servers[].maxConcurrentRequestsPerClient)']);
    b.request(1, request, true);
    b.send();
    await eventually('the endpoint holds the other address\'s call', () => held.length === 3, 10_000);
    // The address's first call ends: its slot takes the next one.
    answerOk(held.shift()!);
    await a1.wait((e) => e.kind === 'headers' && e.streamId === 1 && e.endStream);
    a1.request(3, request, true);
    a1.send();
    await eventually('the endpoint holds the next call', () => held.length === 3, 10_000);
    for (const s of held.splice(0)) answerOk(s);
    await eventually('no stream is counted once every call ended', () => proxy.server.openStreams === 0, 10_000);
  } finally {
    for (const c of [a1, a2, b]) c.close();
    await proxy.close();
    await backend.close();
  }
});

test('a call refused for a bound holds none of its header bytes while its answer waits for window', { timeout: 20_000 }, async () => {
  const held: http2.ServerHttp2Stream[] = [];
  const backend = await startRawBackend((stream) => held.push(stream));
  const proxy = await new ProxyHarness(addr(backend.port), {}, { maxHeaderBytesInFlightPerClient: 10_000 }).start();
  const big = (contentType: string): [string, string][] => [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/M'], [':authority', 'x'], ['content-type', contentType], ['x-pad', 'a'.repeat(4000)]];
  // A client whose window is shut: plain-HTTP refusals (503 with a body) wait for it.
  const c = await RawClient.connect(proxy.port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }]);
  try {
    c.request(1, big('application/grpc'), true);
    c.request(3, big('application/grpc'), true);
    c.send();
    await eventually('the endpoint holds both calls', () => held.length === 2, 10_000);
    const kept = proxy.server.headerBytes;
    assert.ok(kept > 8000 && kept < 10_000, `${kept}`);
    for (const id of [5, 7, 9]) c.request(id, big('text/plain'), true);
    c.writer.ping(Buffer.from('refused!'), false);
    c.send();
    await c.wait((e) => e.kind === 'ping' && e.ack);
    assert.equal(c.blocks(5).length, 1, 'the refusal\'s headers went out (its body waits for window)');
    assert.equal(proxy.server.headerBytes, kept, 'refused streams hold no header bytes');
    for (const s of held.splice(0)) answerOk(s);
  } finally {
    c.close();
    await proxy.close();
    await backend.close();
  }
  assert.equal(proxy.server.headerBytes, 0);
});

test('client.maxStreamsPerConnection: calls spread over connections of that many streams; at maxConnectionsPerEndpoint the least busy takes more rather than make a call wait', async () => {
  // An endpoint allowing 100 streams per connection, holding every stream until the test answers.
  const endpoint = http2.createServer({ settings: { maxConcurrentStreams: 100 } });
  const held: http2.ServerHttp2Stream[] = [];
  const streamsOn = new Map<http2.Http2Session, number>();
  endpoint.on('stream', (s) => {
    s.on('error', () => {});
    held.push(s);
    streamsOn.set(s.session!, (streamsOn.get(s.session!) ?? 0) + 1);
  });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  const proxy = await new ProxyHarness(addr((endpoint.address() as net.AddressInfo).port), { maxStreamsPerConnection: 2, maxConnectionsPerEndpoint: 3 }).start();
  const client = http2.connect(`http://${proxy.target}`);
  const call = (): Promise<string | undefined> => {
    const req = client.request({ ':method': 'POST', ':path': '/t.Svc/Hold', 'content-type': 'application/grpc', te: 'trailers' });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    req.resume();
    return new Promise((resolve) => {
      req.on('trailers', (t) => resolve(String(t['grpc-status'])));
      req.on('close', () => resolve(undefined));
    });
  };
  const waits = async () => Number(/kgr_limits_reached_total\{[^}]*limit="client.maxConnectionsPerEndpoint"[^}]*\} (\d+)/.exec(await proxy.metrics.registry.metrics())?.[1] ?? 0);
  try {
    const first = Array.from({ length: 6 }, call);
    await eventually('six calls reached the endpoint', () => held.length === 6, 10_000);
    assert.deepEqual([...streamsOn.values()], [2, 2, 2], 'three connections of two streams');
    // At maxConnectionsPerEndpoint: the three open ones take two more, one each to the least busy,
    // up to the endpoint's own limit; nothing waits.
    const more = Array.from({ length: 2 }, call);
    await eventually('eight calls reached the endpoint', () => held.length === 8, 10_000);
    assert.equal(streamsOn.size, 3, 'no fourth connection');
    assert.deepEqual([...streamsOn.values()].sort(), [2, 3, 3]);
    assert.equal(await waits(), 0, 'no call waited for a slot');
    for (const s of held) answerOk(s);
    assert.deepEqual(await Promise.all([...first, ...more]), Array(8).fill('0'));
  } finally {
    client.close();
    await proxy.close();
    endpoint.close();
  }
});
