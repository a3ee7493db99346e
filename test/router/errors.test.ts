import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import { routerConfig, startRouter } from './setup.js';
import { startTestServer, testClient, unary } from '../fixtures/grpc/test-service.js';
import { startRawBackend, answerOk } from '../fixtures/grpc/raw-backend.js';
import { parseDtab } from '../../src/dtab/parse.js';
import { SERVER_DEFAULTS } from '../proxy/harness.js';
import { globalNamer } from '../../src/namers/global.js';
import { parseTimeout } from '../../src/proxy/grpc.js';
import { eventually } from '../support/eventually.js';
import { FakeClock } from '../support/fake-clock.js';

const SVC = '/svc/kgr.test.TestService';

function md(entries: Record<string, string>): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries)) m.set(k, v);
  return m;
}

test('router headers: l5d-dst-service, l5d-dst-client, l5d-dst-residual and via are added upstream', async () => {
  const backend = await startRawBackend((s) => answerOk(s));
  const h = await startRouter(`${SVC} => /#/test/backend/extra/bits`);
  h.namer.serve('backend', [backend.port]);
  const client = testClient(h.target);
  try {
    const r = await unary(client, { message: 'x' }, { metadata: md({ via: 'h2 other-proxy' }) });
    assert.equal(r.error, null, r.error?.details);
    const seen = backend.seen[0]!;
    assert.equal(seen['l5d-dst-service'], SVC);
    assert.equal(seen['l5d-dst-client'], '/#/test/backend');
    assert.equal(seen['l5d-dst-residual'], '/extra/bits');
    assert.equal(seen['via'], 'h2 other-proxy, h2 kube-grpc-router');
    assert.equal(seen[':path'], '/kgr.test.TestService/Unary');
  } finally {
    client.close();
    await h.close();
    await backend.close();
  }
});

test('l5d-dtab overrides routing for one request; l5d-ctx-dtab ++ l5d-dtab is re-sent as l5d-ctx-dtab', async () => {
  const a = await startRawBackend((s) => answerOk(s));
  const b = await startRawBackend((s) => answerOk(s));
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${a.port}`);
  const client = testClient(h.target);
  try {
    await unary(client, { message: 'plain' });
    assert.equal(a.seen.length, 1);
    const ctx = '/svc/other => /$/nil';
    const user = `${SVC} => /$/inet/127.0.0.1/${b.port}`;
    const r = await unary(client, { message: 'override' }, { metadata: md({ 'l5d-ctx-dtab': ctx, 'l5d-dtab': user }) });
    assert.equal(r.error, null, r.error?.details);
    assert.equal(b.seen.length, 1);
    const seen = b.seen[0]!;
    assert.equal(seen['l5d-dtab'], undefined);
    assert.equal(seen['l5d-ctx-dtab'], parseDtab(ctx).concat(parseDtab(user)).show());
  } finally {
    client.close();
    await h.close();
    await a.close();
    await b.close();
  }
});

test('l5d-dtab weights keep full precision: overrides differing past the second decimal route apart; l5d-ctx-dtab is re-sent with 0.999/0.001', async () => {
  const a = await startRawBackend((s) => answerOk(s));
  const b = await startRawBackend((s) => answerOk(s));
  const h = await startRouter(`${SVC} => /$/nil`);
  const client = testClient(h.target);
  const inet = (port: number) => `/$/inet/127.0.0.1/${port}`;
  try {
    // Shown with two decimals both are `0.00*A & 0.00*B`: one cached binding took both.
    const toA = `${SVC} => 0.004*${inet(a.port)} & 0*${inet(b.port)}`;
    const toB = `${SVC} => 0*${inet(a.port)} & 0.004*${inet(b.port)}`;
    for (let i = 0; i < 3; i++) {
      for (const dtab of [toA, toB]) {
        const r = await unary(client, { message: 'split' }, { metadata: md({ 'l5d-dtab': dtab }) });
        assert.equal(r.error, null, r.error?.details);
      }
    }
    assert.equal(a.seen.length, 3, 'a weight of 0 takes no calls: toA’s calls all went to a');
    assert.equal(b.seen.length, 3, 'and toB’s all to b');
    assert.equal(a.seen[0]!['l5d-ctx-dtab'], `${SVC}=>0.004*${inet(a.port)} & 0*${inet(b.port)}`);

    const canary = `${SVC} => 0.999*${inet(a.port)} & 0.001*${inet(b.port)}`;
    const r = await unary(client, { message: 'canary' }, { metadata: md({ 'l5d-dtab': canary }) });
    assert.equal(r.error, null, r.error?.details);
    const seen = [...a.seen, ...b.seen].find((x) => x['l5d-ctx-dtab']?.toString().includes('0.999'));
    assert.ok(seen !== undefined, 'l5d-ctx-dtab went on with 0.999, not rounded to 1.00');
    const forwarded = String(seen['l5d-ctx-dtab']);
    assert.equal(forwarded, `${SVC}=>0.999*${inet(a.port)} & 0.001*${inet(b.port)}`);
    assert.ok(parseDtab(forwarded).equals(parseDtab(canary)), 'the next router reads back the very same weights');
  } finally {
    client.close();
    await h.close();
    await a.close();
    await b.close();
  }
});

test('clearContext: l5d-* headers from an untrusted client are ignored and stripped', async () => {
  const a = await startRawBackend((s) => answerOk(s));
  const b = await startRawBackend((s) => answerOk(s));
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${a.port}`, { servers: [{ ...SERVER_DEFAULTS, clearContext: true }] });
  const client = testClient(h.target);
  try {
    const r = await unary(client, { message: 'x' }, { metadata: md({ 'l5d-dtab': `${SVC} => /$/inet/127.0.0.1/${b.port}`, 'l5d-ctx-trace': 'abc' }) });
    assert.equal(r.error, null);
    assert.equal(b.seen.length, 0);
    assert.equal(a.seen[0]!['l5d-dtab'], undefined);
    assert.equal(a.seen[0]!['l5d-ctx-trace'], undefined);
  } finally {
    client.close();
    await h.close();
    await a.close();
    await b.close();
  }
});

test('bad l5d-dtab: INVALID_ARGUMENT with the parse error', async () => {
  const h = await startRouter(`${SVC} => /$/nil`);
  const client = testClient(h.target);
  try {
    const r = await unary(client, { message: 'x' }, { metadata: md({ 'l5d-dtab': '/svc/foo => => /bar' }) });
    assert.equal(r.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(r.error!.details, /l5d-dtab/);
    assert.match(r.error!.details, /column \d+/);
    assert.equal(r.status!.metadata.get('l5d-err').length, 1);
  } finally {
    client.close();
    await h.close();
  }
});

test('an l5d-dtab whose unions multiply (2^20 lookups in 700 bytes) fails its call at once, naming why; the router serves on', async () => {
  const b = await startTestServer({ name: 'b' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${b.port}`);
  const client = testClient(h.target);
  const d: string[] = [`${SVC} => /a0`];
  for (let i = 0; i < 20; i++) d.push(`/a${i} => /a${i + 1} & /b${i + 1}; /b${i} => /a${i + 1} & /b${i + 1}`);
  try {
    const r = await unary(client, { message: 'x' }, { metadata: md({ 'l5d-dtab': d.join('; ') }), deadlineMs: 5000 });
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
    assert.match(r.error!.details, /Binding needs more than 200 lookups: the dtab's alternatives and unions multiply/);
    assert.equal((await unary(client, { message: 'after' })).error, null);
  } finally {
    client.close();
    await h.close();
    await b.close();
  }
});

test('request dtabs past 4096 bytes are refused INVALID_ARGUMENT naming the bound; a name longer than a metric label may be is counted under (overflow)', async () => {
  const b = await startTestServer({ name: 'b' });
  const h = await startRouter(`/svc => /$/inet/127.0.0.1/${b.port}`);
  const client = testClient(h.target);
  const long = `/${'x'.repeat(400)}/Unary`;
  const session = http2.connect(`http://${h.target}`);
  session.on('error', () => {});
  try {
    const dentry = `/svc/nothing => /$/inet/127.0.0.1/1;`;
    const r = await unary(client, { message: 'x' }, { metadata: md({ 'l5d-dtab': dentry.repeat(Math.ceil(4097 / dentry.length)) }) });
    assert.equal(r.error?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(r.error!.details, /the request's dtab headers are \d+ bytes; the router takes at most 4096/);
    // A service named by a 400-character path: answered (the endpoint does not know it), counted under (overflow).
    // One of 240 characters is within the bound: its own series, though with its client's label the route is longer.
    for (const path of [long, `/${'y'.repeat(240)}/Unary`]) {
      const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
      req.end(Buffer.from([0, 0, 0, 0, 0]));
      req.resume();
      await new Promise((r) => req.once('close', r));
    }
    const text = await h.metrics.registry.metrics();
    const requests = text.split('\n').filter((l) => l.startsWith('kgr_requests_total{'));
    assert.ok(requests.some((l) => l.includes('service="(overflow)"')), requests.join('\n'));
    assert.ok(!text.includes('x'.repeat(300)), 'no label carries the long name');
    assert.ok(requests.some((l) => l.includes('y'.repeat(240))), requests.join('\n'));
  } finally {
    session.close();
    client.close();
    await h.close();
    await b.close();
  }
});

test('no route: UNAVAILABLE naming the logical name and the dtab tried, as a trailers-only answer with l5d-err', async () => {
  const h = await startRouter('/svc/other => /$/inet/127.0.0.1/1');
  try {
    const r = await new Promise<{ headers: http2.IncomingHttpHeaders; flags: number }>((resolve, reject) => {
      const s = http2.connect(`http://${h.target}`);
      s.on('error', reject);
      const req = s.request({ ':method': 'POST', ':path': '/kgr.test.TestService/Unary', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('response', (headers, flags) => {
        resolve({ headers, flags });
        s.close();
      });
      req.end();
    });
    assert.ok(r.flags & http2.constants.NGHTTP2_FLAG_END_STREAM);
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(r.headers['grpc-status'], String(grpc.status.UNAVAILABLE));
    const message = decodeURIComponent(String(r.headers['grpc-message']));
    assert.match(message, /no route to \/svc\/kgr\.test\.TestService/);
    assert.match(message, /\/svc\/other=>\/\$\/inet\/127\.0\.0\.1\/1/);
    assert.ok(r.headers['l5d-err']);
  } finally {
    await h.close();
  }
});

test('no endpoints: UNAVAILABLE naming the bound id', async () => {
  const h = await startRouter(`${SVC} => /#/test/empty`);
  h.namer.serve('empty', []);
  const client = testClient(h.target);
  try {
    const r = await unary(client, { message: 'x' });
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
    assert.match(r.error!.details, /no endpoints for \/#\/test\/empty/);
  } finally {
    client.close();
    await h.close();
  }
});

test('unidentifiable request: UNIMPLEMENTED', async () => {
  const h = await startRouter(`${SVC} => /$/nil`, { identifier: [{ kind: 'io.l5d.header.token', header: 'x-route-to' }] });
  const client = testClient(h.target);
  try {
    const r = await unary(client, { message: 'x' });
    assert.equal(r.error?.code, grpc.status.UNIMPLEMENTED);
    assert.match(r.error!.details, /missing header: 'x-route-to'/);
  } finally {
    client.close();
    await h.close();
  }
});

test('binding still pending after bindingTimeoutMs: UNAVAILABLE', async () => {
  const h = await startRouter(`${SVC} => /#/test/stuck`, { bindingTimeoutMs: 300 });
  h.namer.pending('stuck');
  const client = testClient(h.target);
  try {
    const t0 = Date.now();
    const r = await unary(client, { message: 'x' });
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
    assert.match(r.error!.details, /binding timeout/);
    assert.ok(Date.now() - t0 >= 250);
  } finally {
    client.close();
    await h.close();
  }
});

test('a stream waits for a pending address set and goes through once discovery answers', async () => {
  const backend = await startTestServer({ name: 'late' });
  const h = await startRouter(`${SVC} => /#/test/late`);
  const client = testClient(h.target);
  try {
    const pending = unary(client, { message: 'x' });
    await new Promise((r) => setTimeout(r, 100));
    h.namer.serve('late', [backend.port]);
    const r = await pending;
    assert.equal(r.error, null, r.error?.details);
    assert.equal(r.resp?.from, 'late');
    const again = await unary(client, { message: 'y' });
    assert.equal(again.resp?.from, 'late');
  } finally {
    client.close();
    await h.close();
    await backend.close();
  }
});

test('a proxy loop fails fast with a clear error once via exceeds maxCallDepth', async () => {
  const h = await startRouter(`${SVC} => /$/nil`, { servers: [{ ...SERVER_DEFAULTS, maxCallDepth: 5 }] });
  h.dtab.set(parseDtab(`${SVC} => /$/inet/127.0.0.1/${h.port}`));
  const client = testClient(h.target);
  try {
    const r = await unary(client, { message: 'loop' });
    assert.equal(r.error?.code, grpc.status.FAILED_PRECONDITION);
    assert.match(r.error!.details, /Maximum number of calls \(5\) has been exceeded\. Please check for proxy loops/);
    // Bounded in trips, not time: the client's call and six around the loop, the last refused.
    assert.match(await h.metrics.registry.metrics(), /^kgr_server_streams_total\{[^}]*\} 7$/m);
  } finally {
    client.close();
    await h.close();
  }
});

test('grpc-status 14 from an endpoint counts as UNAVAILABLE in the metrics, never success', async () => {
  const backend = await startRawBackend((s) =>
    s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14', 'grpc-message': 'down' }, { endStream: true }),
  );
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`);
  const client = testClient(h.target, { 'grpc.enable_retries': 0 });
  try {
    const r = await unary(client, { message: 'x' });
    assert.equal(r.error?.code, grpc.status.UNAVAILABLE);
    await new Promise((res) => setTimeout(res, 20));
    const text = await h.metrics.registry.metrics();
    assert.match(text, /kgr_requests_total\{router="h2",service="\/svc\/kgr\.test\.TestService",client="\/\$\/inet\/127\.0\.0\.1\/\d+",grpc_code="UNAVAILABLE"\} 1/);
    assert.doesNotMatch(text, /grpc_code="OK"/);
  } finally {
    client.close();
    await h.close();
    await backend.close();
  }
});

test('start() rejects naming the ip:port it could not bind', async () => {
  const h = await startRouter('');
  const { Router } = await import('../../src/router/router.js');
  const { routerConfig } = await import('./setup.js');
  const { NameInterpreter } = await import('../../src/dtab/interpreter.js');
  const { Var } = await import('../../src/util/var.js');
  const { Metrics } = await import('../../src/telemetry/metrics.js');
  const { Logger } = await import('../../src/util/log.js');
  const clash = new Router(routerConfig({ servers: [{ ...SERVER_DEFAULTS, port: h.port }] }), {
    interpreter: new NameInterpreter({ global: globalNamer() }),
    dtab: new Var(parseDtab('')),
    metrics: new Metrics({ processMetrics: false }),
    log: Logger.silent(),
  });
  try {
    await assert.rejects(clash.start(), new RegExp(`127\\.0\\.0\\.1:${h.port}.*EADDRINUSE`));
  } finally {
    await clash.close();
    await h.close();
  }
});

test('a grpc-timeout longer than a Node timer takes (over ~24.8 days, up to 99999999H) is forwarded, not failed at once', async () => {
  const backend = await startRawBackend((stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-timeout-seen': String(headers['grpc-timeout']) }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
  });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`);
  const session = http2.connect(`http://${h.target}`);
  session.on('error', () => {});
  try {
    const req = session.request({ ':method': 'POST', ':path': '/kgr.test.TestService/Unary', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '99999999H' });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.once('response', (h) => (headers = h));
    req.once('trailers', (t) => (trailers = t));
    req.resume();
    await new Promise((r) => req.once('close', r));
    // (A trailers-only answer, as the router's own DEADLINE_EXCEEDED is, has its status in the headers.)
    assert.equal(trailers['grpc-status'] ?? headers['grpc-status'], '0', JSON.stringify({ headers, trailers }));
    // The remaining budget went upstream, re-encoded in the largest unit that fits.
    assert.match(String(headers['x-timeout-seen']), /^\d{1,8}[HMS]$/);
  } finally {
    session.close();
    await h.close();
    await backend.close();
  }
});

test('service.totalTimeoutMs bounds a call without its own deadline: forwarded upstream and enforced', { timeout: 20_000 }, async () => {
  // The endpoint keeps no deadline of its own (a gRPC server would end the call itself at the
  // forwarded grpc-timeout): a call it holds can only be ended by the router.
  const cancelled: number[] = [];
  const backend = await startRawBackend((stream, headers) => {
    if (headers['x-hold'] === undefined) return answerOk(stream);
    stream.on('close', () => cancelled.push(stream.rstCode));
  });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`, { service: { totalTimeoutMs: 400 } });
  const client = testClient(h.target);
  const forwarded = (i: number) => parseTimeout(backend.seen[i]!['grpc-timeout']) ?? Infinity;
  try {
    const fast = await unary(client, { message: 'fast' });
    assert.equal(fast.error, null, fast.error?.details);
    assert.ok(forwarded(0) > 0 && forwarded(0) <= 400, `endpoint saw ${forwarded(0)} ms`);
    const slow = await unary(client, { message: 'slow' }, { metadata: md({ 'x-hold': '1' }) });
    assert.equal(slow.error?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(slow.error?.details, 'deadline exceeded');
    await eventually('the endpoint\'s stream cancelled', () => cancelled.length === 1, 10_000);
    assert.equal(cancelled[0], http2.constants.NGHTTP2_CANCEL);
    // A client deadline shorter than the service's is kept as the client sent it.
    await unary(client, { message: 'own' }, { deadlineMs: 200 });
    await eventually('the third call forwarded', () => backend.seen.length === 3, 10_000);
    assert.ok(forwarded(2) <= 200, `endpoint saw ${forwarded(2)} ms`);
  } finally {
    client.close();
    await h.close();
    await backend.close();
  }
});

test("the call's own failures are counted by reason too: an endpoint's reset, a connect that fails, no endpoints left", async () => {
  const resetting = await startRawBackend((s) => s.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
  // Time stands still: the backoff after the failed connect cannot run out before the next call.
  const clock = new FakeClock();
  const h = await startRouter(`${SVC} => /#/test/backend`, { client: { ...routerConfig().client, maxAttempts: 1 } }, clock);
  const client = testClient(h.target);
  const errors = async (reason: string) => {
    const line = (await h.metrics.registry.metrics()).split('\n').find((l) => l.startsWith('kgr_router_errors_total{') && l.includes(`reason="${reason}"`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };
  try {
    h.namer.serve('backend', [resetting.port]);
    const reset = await unary(client, { message: 'x' });
    assert.equal(reset.error?.code, grpc.status.INTERNAL);
    assert.equal(await errors('endpoint'), 1);
    // A port nothing listens on: the stream never leaves (its connection never connects), then the
    // endpoint backs off and the next stream cannot even be opened.
    const dead = await startRawBackend(() => {});
    const deadPort = dead.port;
    await dead.close();
    h.namer.serve('backend', [deadPort]);
    const failed = await unary(client, { message: 'x' });
    assert.equal(failed.error?.code, grpc.status.UNAVAILABLE);
    const refused = await unary(client, { message: 'x' });
    assert.equal(refused.error?.code, grpc.status.UNAVAILABLE);
    assert.match(refused.error!.details, /backing off/);
    assert.equal(await errors('endpoint'), 2);
    assert.equal(await errors('connect'), 1);
  } finally {
    client.close();
    await h.close();
    await resetting.close();
  }
});
