import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { answerOk, startRawBackend } from '../fixtures/grpc/raw-backend.js';
import { ProxyHarness, addr } from './harness.js';
import { startTestServer, testClient, unary, type TestServer, type TestClient, type Resp } from '../fixtures/grpc/test-service.js';
import { eventually } from '../support/eventually.js';

let backend: TestServer;
let proxy: ProxyHarness;
let client: TestClient;

before(async () => {
  backend = await startTestServer({ name: 'b1' });
  proxy = await new ProxyHarness(addr(backend.port)).start();
  client = testClient(proxy.target);
});
after(async () => {
  client.close();
  await proxy.close();
  await backend.close();
});

/** A raw HTTP/2 request through the proxy, to look at frames the grpc-js client hides. */
function raw(headers: http2.OutgoingHttpHeaders, body?: Buffer, target = proxy.target): Promise<{ headers: http2.IncomingHttpHeaders; flags: number; trailers?: http2.IncomingHttpHeaders; body: Buffer; rst?: number }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${target}`);
    session.on('error', reject);
    const req = session.request({ ':method': 'POST', ...headers });
    let res: { headers: http2.IncomingHttpHeaders; flags: number; trailers?: http2.IncomingHttpHeaders } | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h, flags) => (res = { headers: h, flags }));
    req.on('trailers', (t) => res && (res.trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('close', () => {
      session.close();
      if (!res) return reject(new Error(`no response, rst ${req.rstCode}`));
      resolve({ ...res, body: Buffer.concat(chunks), rst: req.rstCode });
    });
    req.end(body);
  });
}

/** A gRPC length-prefixed message frame. */
function frame(msg: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}

test('unary: message, response headers, trailers and request metadata pass through', async () => {
  const md = new grpc.Metadata();
  md.set('x-custom', 'custom-value');
  md.set('x-echo', 'echoed');
  md.set('x-blob-bin', Buffer.from([1, 2, 3, 250]));
  const r = await unary(client, { message: 'hello', payload: Buffer.from('abc') }, { metadata: md });
  assert.equal(r.error, null);
  assert.equal(r.resp!.message, 'hello');
  assert.equal(r.resp!.from, 'b1');
  assert.deepEqual(r.resp!.payload, Buffer.from('abc'));
  assert.equal(r.resp!.metadata['x-custom'], 'custom-value');
  assert.equal(r.resp!.metadata['x-blob-bin'], Buffer.from([1, 2, 3, 250]).toString('base64'));
  assert.match(r.resp!.metadata['user-agent'] ?? '', /grpc-node-js/);
  assert.deepEqual(r.headers!.get('x-initial'), ['initial-value']);
  assert.deepEqual(r.headers!.get('x-echo'), ['echoed']);
  assert.equal(r.status!.code, grpc.status.OK);
  assert.deepEqual(r.status!.metadata.get('x-trailer'), ['ok-trailer']);
});

test('trailers-only error stays one HEADERS frame with status, message, details and trailing metadata', async () => {
  const r = await raw(
    { ':path': '/kgr.test.TestService/Unary', 'content-type': 'application/grpc', te: 'trailers' },
    // Req{status=9, trailers_only=true}: field 5 varint 9, field 6 varint 1
    frame(Buffer.from([0x28, 0x09, 0x30, 0x01])),
  );
  assert.ok(r.flags & http2.constants.NGHTTP2_FLAG_END_STREAM, 'END_STREAM on the first HEADERS');
  assert.equal(r.trailers, undefined);
  assert.equal(r.body.length, 0);
  assert.equal(r.headers['grpc-status'], '9');
  assert.equal(r.headers['x-trailer'], 'trailer-value');
  assert.ok(r.headers['grpc-status-details-bin']);

  const viaClient = await unary(client, { message: 'm', status: 9, trailers_only: true });
  assert.equal(viaClient.error!.code, 9);
  assert.equal(viaClient.error!.details, 'failed as asked: m ✓ 100%');
  assert.deepEqual(viaClient.status!.metadata.get('x-trailer-bin'), [Buffer.from([0, 1, 2, 255])]);
  assert.deepEqual(viaClient.status!.metadata.get('grpc-status-details-bin'), [Buffer.from('details:m')]);
});

test('an error after response headers keeps both the headers and the trailers', async () => {
  const r = await unary(client, { message: 'late', status: 5, trailers_only: false });
  assert.equal(r.error!.code, 5);
  assert.deepEqual(r.headers!.get('x-initial'), ['initial-value']);
  assert.deepEqual(r.status!.metadata.get('x-trailer'), ['trailer-value']);
});

test('response headers are forwarded before the first message', { timeout: 20_000 }, async () => {
  // The endpoint sends its headers and holds its first message until the client has them: headers
  // held back until the first message would never arrive (an order, not a time, so load cannot fail it).
  let sendMessage!: () => void;
  const endpoint = await startRawBackend((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    sendMessage = () => stream.end(Buffer.from([0, 0, 0, 0, 0]));
  });
  const held = await new ProxyHarness(addr(endpoint.port)).start();
  const heldClient = testClient(held.target);
  try {
    const call = heldClient.ServerStream({ count: 1 });
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', () => {});
      call.on('end', resolve);
      call.on('error', reject);
    });
    await new Promise((resolve) => call.once('metadata', resolve));
    sendMessage();
    await ended;
  } finally {
    heldClient.close();
    await held.close();
    await endpoint.close();
  }
});

test('server streaming, client streaming and bidi streaming', async () => {
  const msgs: Resp[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = client.ServerStream({ count: 50, size: 1000 });
    call.on('data', (m: Resp) => msgs.push(m));
    call.on('end', resolve);
    call.on('error', reject);
  });
  assert.equal(msgs.length, 50);
  assert.equal(msgs[49]!.payload.length, 1000);

  const summary = await new Promise<Resp>((resolve, reject) => {
    const call = client.ClientStream(new grpc.Metadata(), {}, (e, r) => (e ? reject(e) : resolve(r)));
    for (let i = 0; i < 20; i++) call.write({ message: `m${i}`, payload: Buffer.alloc(500) });
    call.end();
  });
  assert.equal(summary.count, 20);
  assert.equal(summary.bytes, '10000');

  const bidi = client.Bidi();
  const echoed: string[] = [];
  for (let i = 0; i < 10; i++) {
    const got = new Promise<Resp>((resolve) => bidi.once('data', resolve));
    bidi.write({ message: `ping${i}` });
    echoed.push((await got).message);
  }
  bidi.end();
  await new Promise((r) => bidi.on('status', r));
  assert.deepEqual(echoed, Array.from({ length: 10 }, (_, i) => `ping${i}`));
});

test('8 MiB messages pass both ways', async () => {
  const payload = Buffer.alloc(8 * 1024 * 1024 + 17);
  for (let i = 0; i < payload.length; i += 4096) payload[i] = i % 251;
  const r = await unary(client, { message: 'big', payload });
  assert.equal(r.error, null);
  assert.ok(r.resp!.payload.equals(payload));
});

test('gzip-compressed messages pass untouched (the proxy never decompresses)', async () => {
  const gz = testClient(proxy.target, { 'grpc.default_compression_algorithm': 2 });
  try {
    const before = proxy.finishedCalls.length;
    const payload = Buffer.alloc(1 << 20); // zeros: compress to almost nothing
    const r = await unary(gz, { message: 'gz', payload });
    assert.equal(r.error, null);
    assert.equal(r.resp!.payload.length, payload.length);
    const call = proxy.finishedCalls.slice(before).find((c) => c.bytesIn > 0)!;
    assert.ok(call.bytesIn < 64 * 1024, `request bytes through the proxy: ${call.bytesIn}`);
  } finally {
    gz.close();
  }
});

test('grpc-timeout: the remaining budget is forwarded', async () => {
  const r = await unary(client, { message: 'd' }, { deadlineMs: 5000 });
  const left = Number(r.resp!.deadline_ms);
  assert.ok(left > 3000 && left <= 5000, `backend saw ${left} ms`);
});

test('grpc-timeout: the router answers DEADLINE_EXCEEDED and cancels upstream when it expires', { timeout: 20_000 }, async () => {
  // An endpoint that never answers and keeps no deadline of its own (a gRPC server would end the
  // call itself at the forwarded grpc-timeout): only the router can end the call.
  let closed!: (code: number) => void;
  const endpointClosed = new Promise<number>((r) => (closed = r));
  const silent = await startRawBackend((stream) => stream.on('close', () => closed(stream.rstCode)));
  const held = await new ProxyHarness(addr(silent.port)).start();
  try {
    // A raw request with a grpc-timeout the client itself does not enforce.
    const r = await raw(
      { ':path': '/kgr.test.TestService/Unary', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '200m' },
      frame(Buffer.alloc(0)),
      held.target,
    );
    assert.equal(r.headers['grpc-status'] ?? r.trailers?.['grpc-status'], '4');
    assert.equal(await endpointClosed, http2.constants.NGHTTP2_CANCEL, 'the router cancelled its stream to the endpoint');
    // The router's own deadline is not the endpoint's failure: failure accrual never hears of it.
    assert.equal(held.client.endpoints[0]!.failures, 0);
  } finally {
    await held.close();
    await silent.close();
  }
});

test('client cancellation reaches the endpoint', async () => {
  const cancelledBefore = backend.cancelled;
  const call = client.ServerStream({ count: 1000, size: 10, delay_ms: 20 });
  call.on('error', () => {});
  await new Promise((r) => call.once('data', r));
  call.cancel();
  await eventually('the backend seeing the cancellation', () => backend.cancelled > cancelledBefore, 1000);
});

test('flow control: a client that does not read slows the endpoint; the proxy buffers a bounded amount', async () => {
  const writtenBefore = backend.written;
  // A raw client (grpc-js buffers whole messages itself) that never reads: Req{count=1024, size=65536}.
  const session = http2.connect(`http://${proxy.target}`);
  const req = session.request({ ':method': 'POST', ':path': '/kgr.test.TestService/ServerStream', 'content-type': 'application/grpc', te: 'trailers' });
  req.end(frame(Buffer.from([0x18, 0x80, 0x08, 0x20, 0x80, 0x80, 0x04])));
  req.pause();
  await new Promise((r) => setTimeout(r, 1000));
  const written = backend.written - writtenBefore;
  assert.ok(written < 8 * 1024 * 1024, `endpoint wrote ${written} bytes to a client that read nothing`);
  // Reading resumes the flow: all 64 MiB arrive.
  let got = 0;
  req.on('data', (c: Buffer) => (got += c.length));
  req.resume();
  await new Promise((r) => req.on('close', r));
  session.close();
  assert.ok(got > 64 * 1024 * 1024, `got ${got} bytes`);
});

test('flow control: an endpoint that reads slowly slows the client, and the flow resumes when it reads', async () => {
  // ClientStream whose first message asks the endpoint to pause reading for 1.5 s, then 32 MiB more.
  const session = http2.connect(`http://${proxy.target}`);
  session.on('error', () => {});
  const req = session.request({ ':method': 'POST', ':path': '/kgr.test.TestService/ClientStream', 'content-type': 'application/grpc', te: 'trailers' });
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise((r) => req.on('close', r));
  req.write(frame(Buffer.from([0x38, 0xdc, 0x0b]))); // delay_ms = 1500
  const chunk = frame(Buffer.concat([Buffer.from([0x12, 0x80, 0x80, 0x04]), Buffer.alloc(65536)])); // payload 64 KiB
  const total = 512;
  let written = 0;
  let acceptedEarly = -1;
  const t0 = Date.now();
  while (written < total) {
    if (acceptedEarly < 0 && Date.now() - t0 > 800) acceptedEarly = written * chunk.length;
    if (req.write(chunk)) written++;
    else {
      written++;
      await new Promise((r) => {
        req.once('drain', r);
        setTimeout(r, 100);
      });
    }
  }
  req.end();
  await closed;
  session.close();
  assert.ok(acceptedEarly >= 0 && acceptedEarly < 8 * 1024 * 1024, `client could push ${acceptedEarly} bytes at an endpoint that read nothing`);
  // Resp{count=513 (field 6), bytes=33554432 (field 7)} somewhere in the reply.
  const body = Buffer.concat(chunks);
  assert.ok(body.includes(Buffer.from([0x30, 0x81, 0x04])), `count 513 in ${body.toString('hex')}`);
  assert.ok(body.includes(Buffer.from([0x38, 0x80, 0x80, 0x80, 0x10])), `bytes 32 MiB in ${body.toString('hex')}`);
});

test('a non-gRPC request gets a plain HTTP error', async () => {
  const empty = await new ProxyHarness({ type: 'neg' }).start();
  try {
    const r = await new Promise<{ status: number; body: string; err: string | undefined }>((resolve, reject) => {
      const s = http2.connect(`http://${empty.target}`);
      s.on('error', reject);
      const req = s.request({ ':path': '/index.html' });
      let status = 0;
      let err: string | undefined;
      let body = '';
      req.on('response', (h) => {
        status = h[':status'] as number;
        err = h['l5d-err'] as string;
      });
      req.setEncoding('utf8');
      req.on('data', (c) => (body += c));
      req.on('close', () => {
        s.close();
        resolve({ status, body, err });
      });
      req.end();
    });
    assert.equal(r.status, 502);
    assert.match(r.body, /no endpoints/);
    assert.match(r.err ?? '', /no endpoints/);
  } finally {
    await empty.close();
  }
});

/**
 * A TCP relay in front of `port` that reads the frame types the router sends that way (RFC 9113
 * §4.1: a 9-octet header after the 24-octet client preface), to see frames the endpoint's
 * node:http2 hides.
 */
async function frameTap(port: number): Promise<{ port: number; types: number[]; close(): void }> {
  const types: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(port, '127.0.0.1');
    sockets.add(down).add(up);
    let pending = Buffer.alloc(0);
    let preface = 24;
    down.on('data', (chunk: Buffer) => {
      up.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      if (preface > 0) {
        const n = Math.min(preface, pending.length);
        preface -= n;
        pending = pending.subarray(n);
      }
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        types.push(pending[3]!);
        pending = pending.subarray(9 + pending.readUIntBE(0, 3));
      }
    });
    up.on('data', (chunk: Buffer) => down.write(chunk));
    for (const [a, b] of [[down, up], [up, down]] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    types,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

test('a call that ended normally is not reset at the endpoint: no RST_STREAM follows its trailers', async () => {
  // The endpoint's trailers end both sides of the router's upstream stream (RFC 9113 §5.1): a
  // RST_STREAM(CANCEL) after them is a wasted frame per call, and says the call was cancelled.
  const endpoint = await startRawBackend((stream) => {
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame(Buffer.from('pong')));
    });
  });
  const tap = await frameTap(endpoint.port);
  const p = await new ProxyHarness(addr(tap.port)).start();
  const session = http2.connect(`http://${p.target}`);
  try {
    for (let i = 0; i < 5; i++) {
      const req = session.request({ ':method': 'POST', ':path': '/t.S/M', 'content-type': 'application/grpc', te: 'trailers' });
      const trailers = new Promise<http2.IncomingHttpHeaders>((r) => req.on('trailers', r));
      req.on('data', () => {});
      req.end(frame(Buffer.from('ping')));
      assert.equal((await trailers)['grpc-status'], '0');
    }
    // Closing drains: the router's GOAWAY (type 7) to the endpoint follows everything it sent before.
    await p.close();
    await eventually('the router said GOAWAY to the endpoint', () => tap.types.includes(7), 5000);
    assert.equal(tap.types.filter((t) => t === 3).length, 0, `RST_STREAM frames the router sent the endpoint (frame types seen: ${tap.types.join(',')})`);
  } finally {
    session.close();
    tap.close();
    await endpoint.close();
  }
});

test('flow control: an answer that ends while the client still holds it back gives the endpoint connection its window back', async () => {
  // The client opens a window of 1 MiB and never reads past it. Each call's 1.375 MiB answer and
  // trailers reach the router: its stream window to the endpoint grew to 1 MiB as the client took
  // the first 1 MiB, so the router holds the other 384 KiB when the endpoint's stream closes; then
  // the client cancels. 24 such calls hold 9 MiB in all, more than the 8 MiB window of the one
  // connection to the endpoint: unless every call gives its share back, the endpoint can no longer
  // send anything on that connection, to anyone.
  let closed = 0;
  const endpoint = await startRawBackend((stream) => {
    stream.on('close', () => closed++);
    stream.on('data', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frame(Buffer.alloc(1408 * 1024 - 5, 0x61)));
  });
  const p = await new ProxyHarness(addr(endpoint.port)).start();
  const session = http2.connect(`http://${p.target}`, { settings: { initialWindowSize: 1024 * 1024 } });
  try {
    for (let i = 1; i <= 24; i++) {
      const req = session.request({ ':method': 'POST', ':path': '/t.S/Stream', 'content-type': 'application/grpc', te: 'trailers' });
      req.end(frame(Buffer.from('go')));
      await eventually(`the endpoint finished answering call ${i} of 24`, () => closed === i, 5000);
      req.close(http2.constants.NGHTTP2_CANCEL);
    }
    const r = await raw({ ':path': '/t.S/Stream', 'content-type': 'application/grpc', te: 'trailers' }, frame(Buffer.from('go')), p.target);
    assert.equal(r.trailers?.['grpc-status'], '0');
    assert.equal(r.body.length, 1408 * 1024);
  } finally {
    session.destroy();
    await p.close();
    await endpoint.close();
  }
});

/** A call on `session` sending `body`; resolves with its trailers' grpc-status and the response body's length. */
function call(session: http2.ClientHttp2Session, path: string, body: Buffer): Promise<{ status: string | undefined; bytes: number }> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    let bytes = 0;
    req.on('response', (h) => (status ??= h['grpc-status'] as string | undefined));
    req.on('trailers', (t) => (status = t['grpc-status'] as string | undefined));
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('close', () => resolve({ status, bytes }));
    // A reset after the answer (the rest of a body the endpoint will not read) still ends the call with its status.
    req.on('error', () => {});
    req.end(body);
  });
}

test('flow control: a request body the endpoint never took gives the client connection its window back when the call ends', async () => {
  // The endpoint answers before it reads the 900 KiB body (its stream window is 64 KiB) and never
  // reads it. The body is larger than the client's connection window (256 KiB here): the client can
  // finish its request only if the router, once the answer is complete, tells the endpoint the rest
  // is not wanted (RST_STREAM NO_ERROR) and drops it, returning its window. Then the next large
  // body on the same connection must not stall either.
  const endpoint = await startRawBackend((stream, headers) => {
    if (headers[':path'] === '/t.S/Reject') {
      stream.pause();
      setImmediate(() => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '3' }, { endStream: true }));
      return;
    }
    stream.on('data', () => {});
    stream.on('end', () => stream.destroyed || answerOk(stream));
  });
  const p = await new ProxyHarness(addr(endpoint.port), {}, { maxBufferedBytesPerConnection: 256 * 1024 }).start();
  const session = http2.connect(`http://${p.target}`);
  try {
    assert.equal((await call(session, '/t.S/Reject', frame(Buffer.alloc(900 * 1024)))).status, '3');
    const second = call(session, '/t.S/Echo', frame(Buffer.alloc(600 * 1024)));
    const outcome = await Promise.race([second, new Promise((r) => setTimeout(r, 5000, 'stalled'))]);
    assert.notEqual(outcome, 'stalled', 'the second body got through');
    assert.equal((outcome as { status: string }).status, '0');
  } finally {
    session.destroy();
    await p.close();
    await endpoint.close();
  }
});

test('flow control: clients that hold finished answers back do not freeze the endpoint connection while window is free', async () => {
  // Eight answers of 1.375 MiB each, to a client that opened 1 MiB and never reads past it: the
  // router's stream windows grew to 1 MiB as it took those (eight take the client's 8 MiB share of
  // window growth), and it holds the other 384 KiB of each, 3 MiB of the endpoint connection's
  // 8 MiB window. The rest is free, so a 4 MiB answer to another
  // client must get through: the window the router gave back must reach the endpoint even though
  // less than half the window is pending.
  let closed = 0;
  const endpoint = await startRawBackend((stream, headers) => {
    stream.on('close', () => closed++);
    stream.on('data', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    const size = headers[':path'] === '/t.S/Huge' ? 4 * 1024 * 1024 : 1408 * 1024;
    stream.end(frame(Buffer.alloc(size - 5, 0x61)));
  }, { maxSessionMemory: 64 }); // the endpoint's Node keeps the answers' buffers (Node 24: past 10 MB, ENHANCE_YOUR_CALM)
  const p = await new ProxyHarness(addr(endpoint.port)).start();
  const slow = http2.connect(`http://${p.target}`, { settings: { initialWindowSize: 1024 * 1024 } });
  const fast = http2.connect(`http://${p.target}`);
  try {
    for (let i = 1; i <= 8; i++) {
      const req = slow.request({ ':method': 'POST', ':path': '/t.S/Slow', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.end(frame(Buffer.from('go')));
      await eventually(`the endpoint finished answering slow call ${i} of 8`, () => closed === i, 5000);
    }
    const huge = call(fast, '/t.S/Huge', frame(Buffer.from('go')));
    const outcome = await Promise.race([huge, new Promise((r) => setTimeout(r, 5000, 'stalled'))]);
    assert.notEqual(outcome, 'stalled', 'the 4 MiB answer got through');
    assert.equal((outcome as { bytes: number }).bytes, 4 * 1024 * 1024);
  } finally {
    slow.destroy();
    fast.destroy();
    await p.close();
    await endpoint.close();
  }
});
