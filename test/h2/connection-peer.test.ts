// The connection layer against independent implementations over real sockets on
// 127.0.0.1: node:http2 (nghttp2) as client of our server role and as server of
// our client role, and a grpc-js client making a unary call.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import http2 from 'node:http2';
import { H2Connection } from '../../src/h2/connection.js';
import type { H2Stream } from '../../src/h2/stream.js';
import { h2Server, TestHandler } from './connection-helpers.js';

describe('H2Connection server role, node:http2 client', () => {
  it('answers a POST with headers, an echoed body and trailers', async () => {
    const { server, port, next } = await h2Server({}, (h) => {
      h.onDataHook = (s, _d, end) => {
        if (!end) return;
        s.sendHeaders([[':status', '200'], ['content-type', 'text/plain']], false);
        s.write(Buffer.concat([Buffer.from('echo:'), h.body(s.id)]), false);
        s.sendHeaders([['x-trailer', 'done']], true);
      };
    });
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const req = client.request({ ':method': 'POST', ':path': '/echo', 'x-hello': 'world' });
      req.end('hello');
      const [headers] = await once(req, 'response') as [http2.IncomingHttpHeaders];
      assert.equal(headers[':status'], 200);
      assert.equal(headers['content-type'], 'text/plain');
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      const trailersP = once(req, 'trailers');
      await once(req, 'end');
      const [trailers] = await trailersP as [http2.IncomingHttpHeaders];
      assert.equal(Buffer.concat(chunks).toString(), 'echo:hello');
      assert.equal(trailers['x-trailer'], 'done');
      const h = await next();
      const ev = await h.wait((e) => e.kind === 'stream');
      assert.ok(ev.kind === 'stream');
      assert.deepEqual(ev.headers.find(([n]) => n === 'x-hello'), ['x-hello', 'world']);
      await h.wait((e) => e.kind === 'close-stream' && e.id === 1);
    } finally {
      client.close();
      server.close();
    }
  });

  it('serves many concurrent streams and a PING, and closes gracefully with GOAWAY', async () => {
    const { server, port, next, conns } = await h2Server({}, (h) => {
      h.onStreamHook = (s, _h, end) => { if (end) s.sendHeaders([[':status', '204']], true); };
    });
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const statuses = await Promise.all(Array.from({ length: 50 }, async () => {
        const req = client.request({ ':path': '/' });
        req.end();
        const [headers] = await once(req, 'response') as [http2.IncomingHttpHeaders];
        req.resume();
        await once(req, 'close');
        return headers[':status'];
      }));
      assert.deepEqual(new Set(statuses), new Set([204]));
      await new Promise<void>((resolve, reject) => client.ping((err) => err ? reject(err) : resolve()));
      const h = await next();
      const goaway = once(client, 'goaway');
      conns[0]!.close();
      const [code, last] = await goaway as [number, number];
      assert.equal(code, 0);
      assert.equal(last, 99);
      await h.wait((e) => e.kind === 'close');
      assert.equal(conns[0]!.counters.streamsOpened, 50);
    } finally {
      client.close();
      server.close();
    }
  });
});

async function nodeServer(onStream: (s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void, settings: http2.Settings = {}) {
  const server = http2.createServer({ settings });
  server.on('stream', onStream);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

async function clientConn(port: number, options: Record<string, number> = {}): Promise<{ conn: H2Connection; h: TestHandler }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const h = new TestHandler();
  const conn = new H2Connection(socket, h, { role: 'client', ...options });
  return { conn, h };
}

const REQ = (path: string, method = 'POST') => [[':method', method], [':scheme', 'http'], [':path', path], [':authority', 'test']] as [string, string][];

describe('H2Connection client role, node:http2 server', () => {
  it('sends a request with a body and receives headers, DATA and trailers', async () => {
    const { server, port } = await nodeServer((stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'x-path': String(headers[':path']) }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.concat([Buffer.from('got:'), ...chunks]));
      });
    });
    const { conn, h } = await clientConn(port);
    try {
      const s = conn.request(REQ('/a'), false)!;
      assert.ok(s !== null);
      assert.equal(s.id, 1);
      s.write(Buffer.from('one,'), false);
      s.write(Buffer.from('two'), true);
      const resp = await h.wait((e) => e.kind === 'headers' && !e.endStream);
      assert.ok(resp.kind === 'headers');
      assert.deepEqual(resp.headers.slice(0, 2), [[':status', '200'], ['x-path', '/a']]);
      const trailers = await h.wait((e) => e.kind === 'headers' && e.endStream);
      assert.ok(trailers.kind === 'headers');
      assert.deepEqual(trailers.headers, [['grpc-status', '0']]);
      assert.equal(h.body(1).toString(), 'got:one,two');
      await h.wait((e) => e.kind === 'close-stream' && e.id === 1);
      assert.equal(conn.activeStreams, 0);
    } finally {
      conn.destroy();
      server.close();
    }
  });

  it('1 MiB each way with small windows: the sender stops at the window, the receiver refills only on consumed()', async () => {
    const MiB = 1024 * 1024;
    const payload = Buffer.alloc(MiB);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    let serverGot = 0;
    const { server, port } = await nodeServer((stream) => {
      stream.on('data', (c: Buffer) => { serverGot += c.length; });
      stream.on('end', () => {
        stream.respond({ ':status': 200 });
        stream.end(payload);
      });
    }, { initialWindowSize: 16_384 });
    const WINDOW = 16_384;
    const { conn, h } = await clientConn(port, { initialWindowSize: WINDOW, connectionWindowSize: 65_535 });
    h.autoConsume = false;
    let held = 0;
    let maxHeld = 0;
    let maxUnconsumed = 0;
    let pending: H2Stream | null = null;
    // The owner "writes onward" slowly: it consumes on a timer, never inside onData.
    h.onDataHook = (s, d) => {
      held += d.length;
      maxHeld = Math.max(maxHeld, held);
      maxUnconsumed = Math.max(maxUnconsumed, s.recvUnconsumed);
      pending = s;
    };
    const timer = setInterval(() => {
      if (pending !== null && held > 0) {
        pending.consumed(held);
        held = 0;
      }
    }, 2);
    try {
      const s = conn.request(REQ('/big'), false)!;
      let maxQueued = 0;
      const more = s.write(payload, true);
      assert.equal(more, false, 'write() asks the caller to stop: 1 MiB > 16 KiB window');
      const track = setInterval(() => { maxQueued = Math.max(maxQueued, s.queuedBytes); }, 1);
      await h.wait((e) => e.kind === 'drain' && e.id === 1);
      await h.wait((e) => e.kind === 'close-stream' && e.id === 1);
      clearInterval(track);
      assert.equal(serverGot, MiB);
      assert.ok(h.body(1).equals(payload), 'response body intact');
      assert.ok(maxUnconsumed <= WINDOW, `unconsumed ${maxUnconsumed} <= stream window ${WINDOW}`);
      assert.ok(maxHeld <= 65_535, `held ${maxHeld} <= connection window`);
      assert.ok(maxQueued <= MiB);
      assert.equal(conn.queuedBytes, 0);
      assert.equal(conn.counters.dataBytesSent, MiB);
      assert.equal(conn.counters.dataBytesReceived, MiB);
    } finally {
      clearInterval(timer);
      conn.destroy();
      server.close();
    }
  });

  it('a peer GOAWAY reports streams above last-stream-id as refused', async () => {
    const { server, port } = await nodeServer((stream) => {
      // Hold the first stream open; the server session then says GOAWAY(last=1).
      stream.session!.goaway(0, 1);
    });
    const { conn, h } = await clientConn(port);
    try {
      const a = conn.request(REQ('/a', 'GET'), true)!;
      await new Promise((r) => setImmediate(r));
      const b = conn.request(REQ('/b', 'GET'), true);
      assert.ok(a !== null);
      const g = await h.wait((e) => e.kind === 'goaway');
      assert.ok(g.kind === 'goaway');
      assert.equal(g.lastStreamId, 1);
      if (b !== null) {
        const r = await h.wait((e) => e.kind === 'reset' && e.id === b.id);
        assert.ok(r.kind === 'reset' && r.refused);
      }
      assert.equal(conn.request(REQ('/c', 'GET'), true), null, 'no new streams after GOAWAY');
    } finally {
      conn.destroy();
      server.close();
    }
  });
});
