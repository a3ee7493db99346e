import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRouter } from './setup.js';
import { startTestServer, testClient, unary, type Resp } from '../fixtures/grpc/test-service.js';
import { SERVER_DEFAULTS } from '../proxy/harness.js';

const SVC = '/svc/kgr.test.TestService';

test('drain: in-flight streams finish within the grace, the rest get UNAVAILABLE, then everything closes', async () => {
  const backend = await startTestServer({ name: 'b' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`);
  const client = testClient(h.target);
  try {
    assert.equal(h.router.ready, true);
    // Each stream resolves `started` on its first message, so drain begins with both truly in flight
    // (a fixed sleep raced the router under load).
    const stream = (count: number) => {
      const call = client.ServerStream({ count, size: 10, delay_ms: 50 });
      let n = 0;
      let started!: () => void;
      const first = new Promise<void>((resolve) => (started = resolve));
      const done = new Promise<{ n: number; status: grpc.StatusObject }>((resolve) => {
        call.on('data', () => {
          if (n++ === 0) started();
        });
        call.on('error', () => {});
        call.on('status', (status) => resolve({ n, status }));
      });
      return { first, done };
    };
    const short = stream(4); // ~150 ms left after its first message: well inside the grace
    const long = stream(200); // ~10 s: cut at the grace
    await Promise.all([short.first, long.first]);
    // A grace many times the short stream's remaining time, so a loaded machine still finishes it.
    await h.router.drain(2000);
    assert.equal(h.router.ready, false);
    const [s, l] = await Promise.all([short.done, long.done]);
    assert.equal(s.status.code, grpc.status.OK);
    assert.equal(s.n, 4);
    // Drain did not wait for the long stream: it was cut part way with UNAVAILABLE.
    assert.equal(l.status.code, grpc.status.UNAVAILABLE);
    assert.ok(l.n >= 1 && l.n < 200, `long stream cut part way (got ${l.n} of 200)`);
    assert.match(l.status.details, /shutting down/);
    // The listener is closed: new connections are refused.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const sock = net.connect(h.port, '127.0.0.1', () => resolve(sock));
        sock.on('error', reject);
      }),
    );
  } finally {
    client.close();
    await h.close();
    await backend.close();
  }
});

test('access log: one line per stream with client, authority, path, logical name, endpoint, statuses, duration and bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-access-'));
  const file = join(dir, 'access.log');
  const backend = await startTestServer({ name: 'b' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`, { h2AccessLog: file });
  const client = testClient(h.target);
  try {
    await unary(client, { message: 'logged' });
    await unary(client, { message: 'err', status: 5, trailers_only: true });
    await h.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    const f = lines[0]!.split(' ');
    assert.match(f[0]!, /^\d{4}-\d\d-\d\dT/);
    assert.equal(f[1], '127.0.0.1');
    assert.equal(f[2], h.target);
    assert.equal(f[3], '/kgr.test.TestService/Unary');
    assert.equal(f[4], SVC);
    assert.equal(f[5], `127.0.0.1:${backend.port}`);
    assert.equal(f[6], '200');
    assert.equal(f[7], '0');
    assert.ok(Number(f[8]) > 0);
    assert.ok(Number(f[9]) > 0 && Number(f[10]) > 0);
    assert.equal(lines[1]!.split(' ')[7], '5');
  } finally {
    client.close();
    await h.close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('streams beyond maxConcurrentStreamsPerConnection are refused (REFUSED_STREAM), the others proceed', async () => {
  const backend = await startTestServer({ name: 'b' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`, { servers: [{ ...SERVER_DEFAULTS, maxConcurrentStreamsPerConnection: 2 }] });
  const session = http2.connect(`http://${h.target}`);
  session.on('error', () => {});
  try {
    await new Promise((r) => session.once('remoteSettings', r));
    assert.equal(session.remoteSettings.maxConcurrentStreams, 2);
    // Ignore the advertised limit on purpose, as a misbehaving client would, via a second session's settings.
    const frame = Buffer.from([0, 0, 0, 0, 3, 0x38, 0xac, 0x02]); // delay_ms = 300
    const results = await Promise.all(
      Array.from({ length: 3 }, () =>
        new Promise<{ status?: string; rst: number | undefined }>((resolve) => {
          const req = session.request({ ':method': 'POST', ':path': '/kgr.test.TestService/Unary', 'content-type': 'application/grpc', te: 'trailers' });
          let status: string | undefined;
          req.on('response', (hd) => (status = hd['grpc-status'] as string | undefined));
          req.on('trailers', (t) => (status = t['grpc-status'] as string));
          req.on('error', () => {});
          req.on('data', () => {});
          req.on('close', () => resolve({ status, rst: req.rstCode }));
          req.end(frame);
        }),
      ),
    );
    // Node's client queues streams over the peer's limit itself, so all three succeed, two at a time.
    assert.deepEqual(results.map((r) => r.status), ['0', '0', '0']);
  } finally {
    session.close();
    await h.close();
    await backend.close();
  }
});

test('malformed input never crashes the router: garbage bytes, HTTP/1.1, oversized headers', async () => {
  const backend = await startTestServer({ name: 'b' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`, { servers: [{ ...SERVER_DEFAULTS, maxHeaderListBytes: 4096 }] });
  try {
    for (const payload of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff', 'latin1'), Buffer.alloc(100, 0xff)]) {
      await new Promise<void>((resolve) => {
        const sock = net.connect(h.port, '127.0.0.1', () => sock.end(payload));
        sock.on('data', () => {});
        sock.on('error', () => resolve());
        sock.on('close', () => resolve());
      });
    }
    // A header list over the limit is refused; the connection and router survive.
    const session = http2.connect(`http://${h.target}`);
    session.on('error', () => {});
    // Sent before the router's SETTINGS arrive, so the client itself does not hold it back.
    const big = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/kgr.test.TestService/Unary', 'content-type': 'application/grpc', 'x-big': 'x'.repeat(8000) });
      req.on('error', () => {});
      req.on('response', (hd) => resolve(hd));
      req.on('close', () => reject(new Error(`reset ${req.rstCode}`)));
      req.end();
    });
    assert.equal(big['grpc-status'], '8');
    assert.match(String(big['grpc-message']), /exceeds the limit of 4096/);
    session.destroy();
    const client = testClient(h.target);
    const r = await unary(client, { message: 'still alive' });
    client.close();
    assert.equal(r.resp?.message, 'still alive');
  } finally {
    await h.close();
    await backend.close();
  }
});

test('idleTimeoutMs closes client connections that carry no streams', async () => {
  const backend = await startTestServer({ name: 'b' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`, { servers: [{ ...SERVER_DEFAULTS, idleTimeoutMs: 200 }] });
  const session = http2.connect(`http://${h.target}`);
  session.on('error', () => {});
  try {
    const closed = await Promise.race([
      new Promise<boolean>((r) => session.once('close', () => r(true))),
      new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
    ]);
    assert.equal(closed, true);
  } finally {
    session.destroy();
    await h.close();
    await backend.close();
  }
});

test('snapshot: servers, dtab, services with their clients, clients with endpoint state', async () => {
  const backend = await startTestServer({ name: 'b' });
  const h = await startRouter(`${SVC} => /#/test/snap`);
  h.namer.serve('snap', [backend.port]);
  const client = testClient(h.target);
  try {
    await unary(client, { message: 'x' });
    const s = h.router.snapshot();
    assert.equal(s.label, 'h2');
    assert.deepEqual(s.servers, [{ ip: '127.0.0.1', port: h.port }]);
    assert.equal(s.dtab.effective, `${SVC}=>/#/test/snap`);
    assert.deepEqual(s.services, [{ name: SVC, clients: ['/#/test/snap'] }]);
    assert.equal(s.clients.length, 1);
    const c = s.clients[0]!;
    assert.equal(c.id, '/#/test/snap');
    assert.equal(c.loadBalancer, 'roundRobin');
    assert.equal(c.addr, 'bound');
    assert.equal(c.endpoints[0]!.address, `127.0.0.1:${backend.port}`);
    assert.equal(c.endpoints[0]!.state, 'connected');
    assert.equal(c.endpoints[0]!.requests, 1);
  } finally {
    client.close();
    await h.close();
    await backend.close();
  }
});

test('a router serves on several servers; each has its own options', async () => {
  const backend = await startTestServer({ name: 'b' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`, {
    servers: [{ ...SERVER_DEFAULTS }, { ...SERVER_DEFAULTS, clearContext: true }],
  });
  try {
    const ports = h.router.boundPorts;
    assert.equal(ports.length, 2);
    assert.notEqual(ports[0]!.port, ports[1]!.port);
    const bad = new grpc.Metadata();
    bad.set('l5d-dtab', '/svc => => nonsense');
    for (const [i, p] of ports.entries()) {
      const client = testClient(`127.0.0.1:${p.port}`);
      const r = await unary(client, { message: `via ${i}` }, { metadata: bad });
      client.close();
      // The first server parses l5d-dtab (and rejects it); the second, clearContext, ignores it.
      if (i === 0) assert.equal(r.error?.code, grpc.status.INVALID_ARGUMENT);
      else assert.equal(r.resp?.message, 'via 1');
    }
  } finally {
    await h.close();
    await backend.close();
  }
});
