import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { CLIENT_DEFAULTS, ProxyHarness, addr } from './harness.js';
import { Client } from '../../src/balancer/client.js';
import { Var } from '../../src/util/var.js';
import { Path } from '../../src/dtab/path.js';
import type { BoundName } from '../../src/dtab/name.js';
import { startRawBackend, answerOk } from '../fixtures/grpc/raw-backend.js';
import { testClient, unary } from '../fixtures/grpc/test-service.js';
import { RawClient } from '../h2/connection-helpers.js';
import { SettingId } from '../../src/h2/frames.js';
import { eventually } from '../support/eventually.js';
import { CONNECTION_WINDOWS, QUEUED_REQUESTS, QUEUED_REQUESTS_PER_CLIENT, RECEIVE_BUDGET, WINDOW_GROWTH, configureEndpointWindows, endpointBudgets } from '../../src/proxy/upstream.js';
import { once } from 'node:events';
import { FrameWriter } from '../../src/h2/frame-writer.js';
import type { H2Connection } from '../../src/h2/connection.js';
import type { H2Stream } from '../../src/h2/stream.js';
import { ProxyCall } from '../../src/proxy/call.js';
import type { HeaderMap } from '../../src/proxy/headers.js';
import { defaultEndpointWindowsConfig } from '../../src/config/endpoint-windows.js';
import { Metrics } from '../../src/telemetry/metrics.js';

/**
 * Every pod on a node shares its router, and the router shares one connection per endpoint among
 * them: one client's answers waiting for it must not use up that connection's window (RFC 9113
 * §6.9), or every other client's calls to the endpoint stall behind them.
 */
test('answers one client does not read hold their own stream windows, not the endpoint connection\'s: other clients\' calls go on', { timeout: 30_000 }, async () => {
  // 40 streams, from five clients (pods) that took 1 MiB of each and read no more: their windows
  // grew towards 1 MiB while the 32 MiB of window growth lasted, and the router holds at least half
  // of that for each, more than the 8 MiB connection window.
  const STALLED = 40;
  const CLIENTS = 5;
  const TAKEN = 1 << 20;
  let sent = 0;
  const backend = await startRawBackend((stream, headers) => {
    if (headers[':path'] !== '/t.Svc/Big') return answerOk(stream);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    const chunk = Buffer.alloc(64 * 1024, 1);
    let left = 48; // 3 MiB each: more than the client takes and the router may hold
    const feed = (): void => {
      while (left > 0 && !stream.closed) {
        left--;
        if (!stream.write(chunk, () => (sent += chunk.length))) return;
      }
    };
    stream.on('drain', feed);
    feed();
  });
  const proxy = await new ProxyHarness(addr(backend.port)).start();
  // Clients that ask for big answers, take the first 1 MiB of each, and read no more.
  const stalled = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => RawClient.connect(proxy.port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: TAKEN }], `127.0.0.${2 + i}`)));
  const client = testClient(proxy.target);
  try {
    const request: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/Big'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];
    for (const c of stalled) {
      c.writer.windowUpdate(0, (STALLED / CLIENTS) * TAKEN);
      for (let i = 0; i < STALLED / CLIENTS; i++) {
        c.request(1 + 2 * i, request, false);
        c.writer.data(1 + 2 * i, Buffer.from([0, 0, 0, 0, 0]), true);
      }
      c.send();
    }
    // Past what the client took, the router holds more than the connection window: less what the
    // endpoint's write callbacks have not reported yet.
    await eventually('the router holds more than the endpoint connection\'s window', () => sent - STALLED * TAKEN >= (8 << 20) + (1 << 20), 20_000);
    // Another client's call to the same endpoint, over the same endpoint connection.
    const other = await unary(client, { message: 'hello' }, { deadlineMs: 5000 });
    assert.equal(other.error, null, `${grpc.status[other.error?.code ?? 0]}: ${other.error?.details}`);
    // Each stalled stream holds no more than its own window.
    assert.ok(sent <= STALLED * (TAKEN + (1 << 20) + 64 * 1024), `${sent} bytes sent towards streams nobody reads`);
    assert.ok(RECEIVE_BUDGET.held > 0 && RECEIVE_BUDGET.held <= RECEIVE_BUDGET.limit);
    // The growth budget ran out, and /metrics says so.
    const metrics = new Metrics();
    metrics.watchEndpointBudgets(endpointBudgets);
    const text = await metrics.registry.metrics();
    const value = (line: string): number => Number(text.split('\n').find((l) => l.startsWith(line))?.split(' ')[1]);
    const growth = value('kgr_endpoint_window_bytes{budget="window_growth"}');
    assert.ok(growth > (24 << 20) && growth <= WINDOW_GROWTH.limit, `window growth ${growth}`);
    assert.ok(value('kgr_endpoint_window_bytes{budget="early_credit"}') > 0, text);
    assert.ok(value('kgr_endpoint_window_growth_refused_total{budget="window_growth"}') > 0, text);
  } finally {
    client.close();
    for (const c of stalled) c.close();
    await proxy.close();
    await backend.close();
  }
  // The stalled streams were reset with their client: what they held went back to the budgets.
  await eventually('the budgets are whole again', () => RECEIVE_BUDGET.held === 0 && WINDOW_GROWTH.held === 0 && CONNECTION_WINDOWS.held === 0, 10_000);
});

/**
 * A connection's window bounds what all its streams' answers may hold together, so granted to every
 * endpoint connection it is multiplied by the connections: four pods' 20,000 calls that read
 * nothing, on 20 connections to one endpoint, held 20 windows of 8 MiB (the router grew past 300
 * MB). Connections now start at 65,535 octets and grow as answers flow, from a process budget.
 */
test('endpoint connections grow their windows from the process\'s budget as answers flow: past it a connection keeps 65,535 octets, and answers still flow on it', { timeout: 30_000 }, async () => {
  configureEndpointWindows({ ...defaultEndpointWindowsConfig(), connectionBytes: 1 << 20 });
  const windows: number[] = [];
  const open: http2.ServerHttp2Stream[] = [];
  const backend = await startRawBackend((stream, headers) => {
    // What the router lets this endpoint send on the connection before it hears back.
    windows.push(stream.session!.state.remoteWindowSize!);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    if (headers[':path'] === '/t.Svc/Hold') return void open.push(stream); // answers later
    stream.end(Buffer.alloc(4 << 20, 1));
  }, { settings: { maxConcurrentStreams: 1 } }); // so that a call beside a held one opens a second connection
  const proxy = await new ProxyHarness(addr(backend.port)).start();
  const client = http2.connect(`http://${proxy.target}`);
  const call = (path: string): http2.ClientHttp2Stream => {
    const req = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    return req;
  };
  const read = async (req: http2.ClientHttp2Stream): Promise<number> => {
    let got = 0;
    req.on('data', (c: Buffer) => (got += c.length));
    await new Promise((resolve) => req.once('close', resolve));
    return got;
  };
  try {
    // A 4 MiB answer: the connection's window doubles as it flows, until the 1 MiB budget is spent.
    assert.equal(await read(call('/t.Svc/Read')), 4 << 20);
    assert.equal(CONNECTION_WINDOWS.held, 1 << 20);
    // A held call keeps that connection's only slot; the next call opens a second connection, which
    // gets no growth and still carries its whole answer.
    const held = call('/t.Svc/Hold');
    await eventually('the held call reached the endpoint', () => open.length === 1, 10_000);
    const refusedBefore = CONNECTION_WINDOWS.refused;
    assert.equal(await read(call('/t.Svc/Read')), 4 << 20);
    assert.ok(CONNECTION_WINDOWS.refused > refusedBefore, 'the second connection asked to grow and was refused');
    assert.equal(windows[0], 65_535, 'a connection starts with the protocol\'s window (it opened with 8 MiB)');
    assert.equal(CONNECTION_WINDOWS.held, 1 << 20);
    const metrics = new Metrics();
    metrics.watchEndpointBudgets(endpointBudgets);
    const text = await metrics.registry.metrics();
    assert.match(text, /^kgr_endpoint_window_bytes\{budget="connection_windows"\} 1048576$/m);
    assert.match(text, new RegExp(`^kgr_endpoint_window_growth_refused_total\\{budget="connection_windows"\\} ${CONNECTION_WINDOWS.refused}$`, 'm'));
    open[0]!.end();
    await new Promise((resolve) => held.once('close', resolve));
  } finally {
    client.close();
    await proxy.close();
    await backend.close();
    configureEndpointWindows(defaultEndpointWindowsConfig());
  }
  await eventually('the connections gave their windows back', () => CONNECTION_WINDOWS.held === 0, 10_000);
});

/**
 * A stream's window is what its endpoint may send that the router must then hold. Granted up
 * front, 1 MiB per stream let calls whose clients read nothing hold 1 MiB each: 1,000 of them held
 * ~860 MB. Windows now start at 16 KiB and grow only as the client takes the answer.
 */
test('a stream\'s window towards the endpoint grows only as its client takes the answer: calls whose clients read nothing hold 16 KiB each', { timeout: 30_000 }, async () => {
  const STALLED = 200;
  let stalledSent = 0;
  const backend = await startRawBackend((stream, headers) => {
    if (headers[':path'] !== '/t.Svc/Big' && headers[':path'] !== '/t.Svc/Read') return answerOk(stream);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    const chunk = Buffer.alloc(16 * 1024, 1);
    const stalled = headers[':path'] === '/t.Svc/Big';
    let left = 256; // 4 MiB each
    const feed = (): void => {
      while (left > 0 && !stream.closed) {
        left--;
        if (!stream.write(chunk, () => stalled && (stalledSent += chunk.length))) return;
      }
      if (left === 0 && !stream.closed) stream.end();
    };
    stream.on('drain', feed);
    feed();
  }, { maxSessionMemory: 64 }); // 200 streams' write buffers (Node 24: past 10 MB, ENHANCE_YOUR_CALM)
  const proxy = await new ProxyHarness(addr(backend.port)).start();
  const stalled = await RawClient.connect(proxy.port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }]);
  const reader = http2.connect(`http://${proxy.target}`);
  try {
    const request: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/Big'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];
    for (let i = 0; i < STALLED; i++) {
      stalled.request(1 + 2 * i, request, false);
      stalled.writer.data(1 + 2 * i, Buffer.from([0, 0, 0, 0, 0]), true);
    }
    stalled.send();
    await eventually('each stalled stream got its first window', () => stalledSent >= STALLED * 16 * 1024, 20_000);
    // A client that reads takes a 4 MiB answer over the same endpoint connection, its window
    // growing from the budget as it goes; the stalled streams got nothing more meanwhile.
    const req = reader.request({ ':method': 'POST', ':path': '/t.Svc/Read', 'content-type': 'application/grpc', te: 'trailers' });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    let got = 0;
    let grew = 0;
    req.on('data', (c: Buffer) => {
      got += c.length;
      grew = Math.max(grew, WINDOW_GROWTH.held);
    });
    await new Promise((resolve) => req.once('close', resolve));
    assert.equal(got, 4 << 20);
    assert.ok(grew > 0 && grew <= WINDOW_GROWTH.limit, `growth ${grew}`);
    assert.equal(stalledSent, STALLED * 16 * 1024, 'stalled streams were sent their first window and no more');
  } finally {
    reader.close();
    stalled.close();
    await proxy.close();
    await backend.close();
  }
  await eventually('the growth budget is whole again', () => WINDOW_GROWTH.held === 0, 10_000);
});

/** One pod's streams grow from its share: taking the first megabyte of many answers and then reading no more leaves the budget to the others. */
test('one client\'s endpoint streams grow their windows from its 8 MiB share of the budget, not the whole 32 MiB', { timeout: 30_000 }, async () => {
  const STREAMS = 16;
  const TAKEN = 1 << 20;
  const backend = await startRawBackend((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    const chunk = Buffer.alloc(16 * 1024, 1);
    let left = 192; // 3 MiB each
    const next = (): void => {
      if (left-- > 0 && !stream.closed) stream.write(chunk, next); // one chunk buffered at a time
    };
    next();
  });
  const proxy = await new ProxyHarness(addr(backend.port)).start();
  const c = await RawClient.connect(proxy.port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: TAKEN }], '127.0.0.9');
  const refusedBefore = WINDOW_GROWTH.refused;
  try {
    const request: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/Big'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];
    c.writer.windowUpdate(0, STREAMS * TAKEN);
    for (let i = 0; i < STREAMS; i++) {
      c.request(1 + 2 * i, request, false);
      c.writer.data(1 + 2 * i, Buffer.from([0, 0, 0, 0, 0]), true);
    }
    c.send();
    await eventually('a stream of the client could not grow', () => WINDOW_GROWTH.refused > refusedBefore, 20_000);
    assert.ok(WINDOW_GROWTH.held <= WINDOW_GROWTH.shareLimit, `growth ${WINDOW_GROWTH.held}`);
    assert.ok(WINDOW_GROWTH.held > WINDOW_GROWTH.shareLimit - (1 << 20), `growth ${WINDOW_GROWTH.held}: the share was used`);
  } finally {
    c.close();
    await proxy.close();
    await backend.close();
  }
  await eventually('the growth budget is whole again', () => WINDOW_GROWTH.held === 0, 10_000);
});

/**
 * Windows bound what one client connection may send ahead (~1 MiB), not what a node's pods may
 * together: many connections sending to endpoints that read nothing would hold their windows each.
 * servers[].maxBufferedBytes bounds the sum; only connections holding more than 16 KiB stop
 * being read, so a pod whose bytes flow still gets its calls through.
 */
test('request bytes that endpoints do not take are bounded over all client connections; a client whose bytes flow is still read', { timeout: 30_000 }, async () => {
  const HOGS = 8;
  const LIMIT = 1 << 20;
  // Past the limit, each hog reads at most its share (16 KiB) and one socket read (64 KiB) more.
  const BOUND = LIMIT + HOGS * 80 * 1024;
  const backend = await startRawBackend((stream, headers) => {
    if (headers[':path'] === '/t.Svc/Sink') return stream.pause(); // never read, never answered
    stream.resume();
    stream.on('end', () => answerOk(stream));
  });
  // The endpoint's connection window must not be what stops the sinks' bytes (it is shared by every call).
  backend.server.on('session', (s) => s.setLocalWindowSize(64 << 20));
  const limits: string[] = [];
  const proxy = await new ProxyHarness(addr(backend.port), {}, { maxBufferedBytes: LIMIT }, { onLimit: (l) => limits.push(l) }).start();
  const hogs: http2.ClientHttp2Session[] = [];
  const client = testClient(proxy.target);
  try {
    for (let i = 0; i < HOGS; i++) {
      const s = http2.connect(`http://${proxy.target}`);
      s.on('error', () => {});
      hogs.push(s);
      const req = s.request({ ':method': 'POST', ':path': '/t.Svc/Sink', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.end(Buffer.alloc(1 << 20, 1)); // its whole window
    }
    // One hog may have sent all of its bytes while the router held less than the limit; every other
    // is stopped once it holds more than its share.
    await eventually('the hogs were stopped', () => limits.length >= HOGS - 1, 20_000);
    assert.ok(limits.every((l) => l === 'servers[].maxBufferedBytes'), limits.join());
    assert.ok(proxy.server.readBudget.held > LIMIT && proxy.server.readBudget.held <= BOUND, `the router holds ${proxy.server.readBudget.held} request bytes`);

    // Another pod's call with a 2 MiB request goes through: its bytes flow, so it is read.
    const other = await unary(client, { message: 'x'.repeat(2 << 20) }, { deadlineMs: 10_000 });
    assert.equal(other.error, null, `${grpc.status[other.error?.code ?? 0]}: ${other.error?.details}`);
    assert.ok(proxy.server.readBudget.held <= BOUND, `the router holds ${proxy.server.readBudget.held} request bytes`);
  } finally {
    client.close();
    for (const s of hogs) s.destroy();
  }
  // A socket not read sees no FIN: the hogs' connections go with the proxy, and what they held with them.
  await proxy.close();
  await backend.close();
  assert.equal(proxy.server.readBudget.held, 0);
});

/** An HTTP/2 session to the router from `localAddress` (a pod of its own on 127.0.0.x). */
function connectFrom(port: number, localAddress: string): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`, { createConnection: () => net.connect({ host: '127.0.0.1', port, localAddress }) });
  s.on('error', () => {});
  return s;
}

/**
 * maxBufferedBytes bounded what all pods hold together, not what one may: one pod's connections
 * (64 of 1 MiB) sending to an endpoint that does not read spent all of it, and every other pod's
 * large requests were then read 16 KiB at a time (a 32 MiB upload was stopped ~535 times). Each
 * client address now holds at most maxBufferedBytesPerClient before its own connections stop.
 */
test('one client address whose endpoint does not read stops at maxBufferedBytesPerClient: another address\'s large call is never stopped, and the first\'s bytes all go on once the endpoint reads', { timeout: 30_000 }, async () => {
  const HOGS = 16;
  const LIMIT = 8 << 20;
  const CLIENT_LIMIT = 2 << 20;
  const sinks: http2.ServerHttp2Stream[] = [];
  let sunk = 0;
  const backend = await startRawBackend((stream, headers) => {
    if (headers[':path'] === '/t.Svc/Sink') {
      stream.pause(); // not read until the test says so
      stream.on('data', (c: Buffer) => (sunk += c.length));
      stream.on('end', () => answerOk(stream));
      return void sinks.push(stream);
    }
    stream.resume();
    stream.on('end', () => answerOk(stream));
  });
  // The endpoint's connection window must not be what stops the sinks' bytes (it is shared by every call).
  backend.server.on('session', (s) => s.setLocalWindowSize(64 << 20));
  const limits: string[] = [];
  const proxy = await new ProxyHarness(addr(backend.port), {}, { maxBufferedBytes: LIMIT, maxBufferedBytesPerClient: CLIENT_LIMIT }, { onLimit: (l) => limits.push(l) }).start();
  const budget = proxy.server.readBudget;
  const underPressure = budget.onSpent;
  let spent = 0;
  budget.onSpent = () => { spent++; underPressure?.(); };
  const hogs: http2.ClientHttp2Session[] = [];
  const other = connectFrom(proxy.port, '127.0.0.3');
  try {
    // One pod: 16 MiB for an endpoint that reads none of it, twice the server's whole budget.
    const sent: Promise<void>[] = [];
    for (let i = 0; i < HOGS; i++) {
      const s = connectFrom(proxy.port, '127.0.0.2');
      hogs.push(s);
      const req = s.request({ ':method': 'POST', ':path': '/t.Svc/Sink', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.end(Buffer.alloc(1 << 20, 1));
      sent.push(new Promise((resolve) => req.once('response', () => resolve())));
    }
    const pod = (): number => proxy.server.perClient.usageOf('127.0.0.2')?.bufferedBytes ?? 0;
    // Every sink took its stream's window (65,535: nothing more leaves the pod's connections) and the pod holds more than its share; before, it spent the server's budget.
    await eventually('the pod passed its share', () => spent > 0 || (sinks.length === HOGS && sinks.every((s) => s.readableLength === 65_535) && pod() > CLIENT_LIMIT), 20_000);
    assert.equal(spent, 0, `one client address alone spent maxBufferedBytes: the router holds ${budget.held} bytes`);

    // Another pod's 8 MiB request: its one connection holds at most its 1 MiB window, under its own
    // share, so only a spent maxBufferedBytes could stop it, and that never comes.
    const req = other.request({ ':method': 'POST', ':path': '/t.Svc/Read', 'content-type': 'application/grpc', te: 'trailers' });
    req.end(Buffer.alloc(8 << 20, 2));
    const status = await new Promise((resolve, reject) => {
      req.once('response', (h) => resolve(h[':status']));
      req.once('error', reject);
    });
    assert.equal(status, 200);
    assert.equal(spent, 0, 'maxBufferedBytes was spent');
    // The pod's connections were stopped by its share (up to three may have sent all they had first).
    assert.ok(limits.length >= HOGS - 3 && limits.every((l) => l === 'servers[].maxBufferedBytesPerClient'), limits.join());
    // Past its share, each of its connections reads at most the 16 KiB share and one socket read (64 KiB) more.
    assert.ok(pod() <= CLIENT_LIMIT + HOGS * 80 * 1024, `the pod holds ${pod()} bytes`);

    // The endpoint reads at last: the stopped connections are read again as the pod falls under its share, and nothing was lost.
    for (const s of sinks) s.resume();
    await Promise.all(sent);
    assert.equal(sunk, HOGS << 20);
  } finally {
    other.destroy();
    for (const s of hogs) s.destroy();
    await proxy.close();
    await backend.close();
  }
  assert.equal(proxy.server.readBudget.held, 0);
});

/**
 * Answers waiting for clients that do not read them count against maxBufferedBytes, which then
 * stops reading connections that hold more than their share. A client that reads its answers holds
 * them only until its WINDOW_UPDATEs are read: not reading it stalled its answer for good, whatever
 * the other pods did (a 1 MiB answer stopped after 160 KB).
 */
test('a client reading a large answer is still read while other clients\' unread answers have spent maxBufferedBytes', { timeout: 30_000 }, async () => {
  // Three clients, 100 calls each x 16 KiB of answer: each connection holds up to its own 1 MiB
  // (maxBufferedBytesPerConnection), together more than the 1 MiB budget.
  const STALLED = 100;
  const backend = await startRawBackend((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.end(Buffer.alloc(1 << 20, 1));
  }, { maxSessionMemory: 64 });
  const proxy = await new ProxyHarness(addr(backend.port), {}, { maxBufferedBytes: 1 << 20 }).start();
  const stalled = await Promise.all([2, 3, 4].map((i) => RawClient.connect(proxy.port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }], `127.0.0.${i}`)));
  const reader = http2.connect(`http://${proxy.target}`);
  try {
    const request: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/Big'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];
    for (const c of stalled) {
      for (let i = 0; i < STALLED; i++) c.request(1 + 2 * i, request, true);
      c.send();
    }
    await eventually('the unread answers spent the budget', () => proxy.server.readBudget.spent, 20_000);
    const req = reader.request({ ':method': 'POST', ':path': '/t.Svc/Read', 'content-type': 'application/grpc', te: 'trailers' });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    let got = 0;
    req.on('data', (c: Buffer) => (got += c.length));
    const stalled10s = new Promise<'stalled'>((resolve) => setTimeout(() => resolve('stalled'), 10_000).unref());
    const outcome = await Promise.race([new Promise<'closed'>((resolve) => req.once('close', () => resolve('closed'))), stalled10s]);
    assert.equal(outcome, 'closed', `the answer stalled after ${got} bytes`);
    assert.equal(got, 1 << 20);
    assert.ok(proxy.server.readBudget.spent, 'the budget was still spent');
  } finally {
    reader.close();
    for (const c of stalled) c.close();
    await proxy.close();
    await backend.close();
  }
});

/**
 * Unread answers past maxBufferedBytes put the process's memory at stake and hold the endpoint
 * connections' windows that every pod shares: then a client that takes none of an answer loses
 * that call after sendTimeoutUnderPressureMs, not the unpressed sendTimeoutMs (300 s).
 */
test('past maxBufferedBytes, a call whose client takes none of its answer for sendTimeoutUnderPressureMs is cancelled, and the budget is free again', { timeout: 30_000 }, async () => {
  const backend = await startRawBackend((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.end(Buffer.alloc(1 << 20, 1));
  }, { maxSessionMemory: 64 });
  const limits: string[] = [];
  const proxy = await new ProxyHarness(addr(backend.port), {}, { maxBufferedBytes: 1 << 20, sendTimeoutUnderPressureMs: 300 }, { onLimit: (l) => limits.push(l) }).start();
  const stalled = await Promise.all([2, 3, 4].map((i) => RawClient.connect(proxy.port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 0 }], `127.0.0.${i}`)));
  try {
    const request: [string, string][] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/Big'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']];
    for (const c of stalled) {
      for (let i = 0; i < 100; i++) c.request(1 + 2 * i, request, true);
      c.send();
    }
    await eventually('the unread answers spent the budget', () => proxy.server.readBudget.spent, 20_000);
    await eventually('their calls were cancelled and the budget is free', () => !proxy.server.readBudget.spent && limits.includes('servers[].sendTimeoutUnderPressureMs'), 20_000);
  } finally {
    for (const c of stalled) c.close();
    await proxy.close();
    await backend.close();
  }
});

/** A proxy that keeps its calls, to see what their endpoint connections hold. */
class KeptCalls extends ProxyHarness {
  readonly calls: ProxyCall[] = [];
  override handleStream(stream: H2Stream, headers: HeaderMap): void {
    const call = new ProxyCall(stream, headers, this);
    this.calls.push(call);
    call.dispatch(this.client);
  }

  /** What the calls' endpoint connections hold to send: DATA queued on their streams and their sockets' unwritten bytes. */
  heldTowardsEndpoints(): number {
    const seen = new Set<H2Connection>();
    let held = 0;
    for (const c of this.calls) {
      const h2 = (c as unknown as { up: H2Stream | undefined }).up?.connection as H2Connection | undefined;
      if (h2 === undefined || seen.has(h2)) continue;
      seen.add(h2);
      held += h2.queuedBytes + h2.socket.writableLength;
    }
    return held;
  }
}

/**
 * An endpoint that grants every window there is and never reads its socket: a pod's own Service, or
 * a wedged process. Each of its connections carries one stream (so a call per connection).
 */
async function startSinkEndpoint(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const w = new FrameWriter();
    w.settings([{ id: SettingId.MAX_CONCURRENT_STREAMS, value: 1 }, { id: SettingId.INITIAL_WINDOW_SIZE, value: 2 ** 31 - 1 }]);
    w.windowUpdate(0, 2 ** 31 - 1 - 65_535);
    socket.write(Buffer.concat(w.flush()));
    socket.pause();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/**
 * Request bytes an endpoint connection has taken are given back to the client as window: with an
 * endpoint granting a huge window and reading nothing, each connection took ~8 MiB (maxQueuedBytes
 * in its queue and as much in its socket), counted nowhere, up to 256 connections per endpoint.
 */
test('request bytes queued towards endpoints that read nothing are bounded over the process (endpointWindows.queuedRequestBytes); other calls still flow', { timeout: 30_000 }, async () => {
  const CALLS = 6;
  const LIMIT = 2 << 20;
  // The budget is counted once a turn, so the turn that spends it may add what the clients' windows
  // (1 MiB each) let them send in it; then each connection holds its share (16 KiB, or its socket's
  // high-water mark: 64 KiB from Node 22) and one frame.
  const BOUND = LIMIT + CALLS * ((1 << 20) + 80 * 1024);
  configureEndpointWindows({ ...defaultEndpointWindowsConfig(), queuedRequestBytes: LIMIT });
  const sink = await startSinkEndpoint();
  const proxy = await new KeptCalls(addr(sink.port)).start();
  const healthy = await startRawBackend((stream) => {
    stream.resume();
    stream.on('end', () => answerOk(stream));
  });
  const other = await new ProxyHarness(addr(healthy.port)).start();
  const sessions: http2.ClientHttp2Session[] = [];
  const client = testClient(other.target);
  try {
    for (let i = 0; i < CALLS; i++) {
      const s = http2.connect(`http://${proxy.target}`);
      s.on('error', () => {});
      sessions.push(s);
      const req = s.request({ ':method': 'POST', ':path': '/t.Svc/Sink', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.end(Buffer.alloc(6 << 20, 1));
    }
    // The router stops taking each client's bytes once its endpoint connection holds its share:
    // the clients' windows (1 MiB each) are then held by the server, and no more comes.
    await eventually('the router to hold the clients\' windows', () => proxy.server.readBudget.held >= CALLS * (512 << 10), 20_000);
    assert.ok(QUEUED_REQUESTS.spent, `the budget holds ${QUEUED_REQUESTS.held}`);
    // Bytes the endpoint connections hold whose window the clients had back (the rest are still
    // the server's, in maxBufferedBytes): 30 MB of 36 here before this budget.
    const passedOn = proxy.heldTowardsEndpoints() - proxy.server.readBudget.held;
    assert.ok(passedOn <= BOUND, `the endpoint connections hold ${passedOn} request bytes passed on (bound ${BOUND})`);

    // Another pod's 2 MiB request to a healthy endpoint goes through while the budget is spent.
    const done = await unary(client, { message: 'x'.repeat(2 << 20) }, { deadlineMs: 10_000 });
    assert.equal(done.error, null, `${grpc.status[done.error?.code ?? 0]}: ${done.error?.details}`);

    const metrics = new Metrics();
    metrics.watchEndpointBudgets(endpointBudgets);
    const text = await metrics.registry.metrics();
    assert.match(text, /^kgr_endpoint_window_bytes\{budget="queued_requests"\} [1-9]\d*$/m);
    assert.match(text, /^kgr_limits_reached_total\{limit="endpointWindows\.queuedRequestBytes"\} [1-9]\d*$/m);
  } finally {
    client.close();
    for (const s of sessions) s.destroy();
    await proxy.close();
    await other.close();
    await sink.close();
    await healthy.close();
    configureEndpointWindows(defaultEndpointWindowsConfig());
  }
  await eventually('the endpoint connections gave back what they held', () => QUEUED_REQUESTS.held === 0, 10_000);
});

/** A proxy whose calls to /t.Svc/Sink go to `sink`, the others to `healthy`; it keeps the others' endpoint streams. */
class SinkOrHealthy extends ProxyHarness {
  readonly healthy: Client;
  readonly healthyStreams: H2Stream[] = [];
  constructor(sink: number, healthy: number, onLimit: (limit: string) => void) {
    super(addr(sink), {}, {}, { onLimit });
    const bound: BoundName = { kind: 'bound', id: Path.of('#', 'test', 'healthy'), addr: new Var(addr(healthy)), residual: Path.empty };
    this.healthy = new Client(bound, CLIENT_DEFAULTS, this.metrics, 'healthy');
  }
  override handleStream(stream: H2Stream, headers: HeaderMap): void {
    const call = new ProxyCall(stream, headers, this);
    if (headers[':path'] === '/t.Svc/Sink') return call.dispatch(this.client);
    call.dispatch(this.healthy);
    const up = (call as unknown as { up: H2Stream | undefined }).up;
    if (up !== undefined) this.healthyStreams.push(up);
  }
  override async close(): Promise<void> {
    this.healthy.close();
    await super.close();
  }
}

/**
 * queuedRequestBytes bounded what all pods' calls queue towards endpoints together, not what one
 * pod's may: one pod's calls to an endpoint that grants large windows and reads nothing spent all of
 * it, and every other pod's uploads were then passed on 16-64 KiB per drain until sendTimeoutMs.
 * Each client address's calls now queue at most queuedRequestBytesPerClient.
 */
test('one client address\'s calls to an endpoint that reads nothing stop at queuedRequestBytesPerClient: another address\'s upload to a healthy endpoint is not slowed', { timeout: 60_000 }, async () => {
  // The defaults: queuedRequestBytes 32 MiB, 8 MiB of it per client address; maxBufferedBytesPerClient 8 MiB.
  const HOGS = 12;
  const UPLOAD = 16 << 20;
  const spentBefore = QUEUED_REQUESTS.timesSpent;
  const sink = await startSinkEndpoint();
  let uploaded = 0;
  const healthy = await startRawBackend((stream) => {
    stream.on('data', (c: Buffer) => (uploaded += c.length));
    stream.on('end', () => answerOk(stream));
  }, { settings: { initialWindowSize: 2 ** 31 - 1 } });
  // Only the router may stop the upload: the endpoint grants it every window there is.
  healthy.server.on('session', (s) => s.setLocalWindowSize(2 ** 31 - 1));
  const limits: string[] = [];
  const proxy = await new SinkOrHealthy(sink.port, healthy.port, (l) => limits.push(l)).start();
  const hogs: http2.ClientHttp2Session[] = [];
  const other = connectFrom(proxy.port, '127.0.0.3');
  try {
    // One pod: 12 calls of 6 MiB to an endpoint that reads none of them, twice the budget.
    for (let i = 0; i < HOGS; i++) {
      const s = connectFrom(proxy.port, '127.0.0.2');
      hogs.push(s);
      const req = s.request({ ':method': 'POST', ':path': '/t.Svc/Sink', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.end(Buffer.alloc(6 << 20, 1));
    }
    // Each call is told to wait once the pod's calls have queued its share: the router then holds
    // what the pod sends, until its connections are stopped (up to three may have sent all they had first).
    const stopped = (): number => limits.filter((l) => l === 'servers[].maxBufferedBytesPerClient').length;
    await eventually('the pod\'s connections to be stopped', () => stopped() >= HOGS - 3 || QUEUED_REQUESTS.timesSpent > spentBefore, 20_000);
    assert.equal(QUEUED_REQUESTS.timesSpent - spentBefore, 0, `one client address alone spent queuedRequestBytes: the endpoint connections hold ${QUEUED_REQUESTS.held} bytes`);

    // Another pod's 16 MiB upload to a healthy endpoint: its endpoint connection takes it at full
    // pace (4 MiB in its queue), not a share at a time.
    const req = other.request({ ':method': 'POST', ':path': '/t.Svc/Upload', 'content-type': 'application/grpc', te: 'trailers' });
    req.on('data', () => {});
    const chunk = Buffer.alloc(1 << 20, 2);
    for (let i = 0; i < UPLOAD >> 20; i++) req.write(chunk);
    req.end();
    const [answer] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
    assert.equal(answer[':status'], 200);
    await once(req, 'close');
    assert.equal(uploaded, UPLOAD);
    const up = proxy.healthyStreams[0]!.connection as H2Connection;
    // Stopped at all only when its queue passed 4 MiB; past a spent budget, ~once per 64 KiB (256 times).
    assert.ok(up.counters.queueOverLimit <= 16, `the upload's endpoint connection was stopped ${up.counters.queueOverLimit} times`);
    assert.equal(QUEUED_REQUESTS.timesSpent - spentBefore, 0, 'queuedRequestBytes was spent');

    const metrics = new Metrics();
    metrics.watchEndpointBudgets(endpointBudgets);
    const text = await metrics.registry.metrics();
    assert.match(text, /^kgr_limits_reached_total\{limit="endpointWindows\.queuedRequestBytesPerClient"\} [1-9]\d*$/m);
  } finally {
    other.destroy();
    for (const s of hogs) s.destroy();
    await proxy.close();
    await sink.close();
    await healthy.close();
  }
  await eventually('the endpoint connections gave back what they held', () => QUEUED_REQUESTS.held === 0 && QUEUED_REQUESTS_PER_CLIENT.held === 0, 10_000);
});

/**
 * The budget bounds what an endpoint that reads nothing holds; client.sendTimeoutMs bounds for how
 * long: its connection goes, with what its socket held, and its calls fail UNAVAILABLE at once
 * instead of waiting for their deadlines (or for ever).
 */
test('an endpoint that reads none of its socket for client.sendTimeoutMs loses its connection: its calls fail UNAVAILABLE and what they held is free again', { timeout: 30_000 }, async () => {
  const sink = await startSinkEndpoint();
  const proxy = await new ProxyHarness(addr(sink.port), { sendTimeoutMs: 300, failureAccrual: { kind: 'none' } }).start();
  const client = http2.connect(`http://${proxy.target}`);
  client.on('error', () => {});
  try {
    const req = client.request({ ':method': 'POST', ':path': '/t.Svc/Sink', 'content-type': 'application/grpc', te: 'trailers' });
    req.on('error', () => {});
    req.on('data', () => {});
    // Far more than the kernel's socket buffers on both ends take (the rest waits in the router),
    // fed as the client's own session takes it (Node refuses a session holding over 10 MB).
    const chunk = Buffer.alloc(1 << 20, 1);
    let left = 32;
    const feed = (): void => { while (left > 0 && !req.destroyed) { left--; if (!req.write(chunk)) return void req.once('drain', feed); } };
    feed();
    // A trailers-only answer: the call had none from the endpoint.
    const [answer] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
    assert.equal(answer['grpc-status'], String(grpc.status.UNAVAILABLE));
    assert.match(String(answer['grpc-message']), /lost: the peer read nothing of what its socket holds for 300 ms \(client\.sendTimeoutMs\)/);
    const text = await proxy.metrics.registry.metrics();
    assert.match(text, /^kgr_limits_reached_total\{router="test",limit="client\.sendTimeoutMs"\} 1$/m);
  } finally {
    client.close();
    await proxy.close();
    await sink.close();
  }
  await eventually('the endpoint connection gave back what it held', () => QUEUED_REQUESTS.held === 0, 10_000);
});
