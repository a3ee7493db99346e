import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as http2 from 'node:http2';
import { startRawBackend } from '../fixtures/grpc/raw-backend.js';
import { ProxyHarness, addr } from './harness.js';
import { queueCopySlabs } from '../../src/h2/queue-copies.js';

/**
 * The router reads every connection into one buffer the process shares, and DATA is a view of it
 * only until its frame has been handled: whatever keeps it (a stream queue while a peer reads
 * slowly, a request kept for a replay, a frame writer's slab until the socket has written it) must
 * copy it first, and a queue's copy on a shared slab must be copied again before its stream lets
 * it go. Any place that forgot would send bytes of a later read. So: random bytes, in chunks of
 * random sizes (1 byte to 40 KiB), on many streams at once, both ways through the router, with some
 * readers pausing, and every stream's echo compared with what it sent.
 */
test('random bytes on 24 concurrent streams, some read slowly, come back through the router exactly', { timeout: 60_000 }, async (t) => {
  const backend = await startRawBackend((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.pipe(stream); // echo, with node:http2's own flow control
  });
  const proxy = await new ProxyHarness(addr(backend.port)).start();
  const session = http2.connect(`http://${proxy.target}`);
  session.on('error', () => {});
  t.after(async () => {
    session.destroy();
    await proxy.close();
    await backend.close();
  });

  const copiesBefore = queueCopySlabs().made;
  const streams = Array.from({ length: 24 }, (_, i) => exchange(session, i));
  const results = await Promise.all(streams);
  for (const r of results) assert.equal(r.got, r.sent, `stream ${r.index}: ${r.bytes} bytes`);
  assert.ok(queueCopySlabs().made > copiesBefore, 'DATA waited in stream queues, as copies on slabs');
  assert.deepEqual([queueCopySlabs().slabs, queueCopySlabs().liveBytes], [0, 0], 'every queue copy went out, and its slab back');
});

async function exchange(session: http2.ClientHttp2Session, index: number): Promise<{ index: number; sent: string; got: string; bytes: number }> {
  const sent = createHash('sha256');
  const got = createHash('sha256');
  const req = session.request({ ':method': 'POST', ':path': `/integrity.Echo/Bidi${index}`, 'content-type': 'application/grpc', te: 'trailers' });
  const slow = index % 3 === 0;
  let bytes = 0;
  const done = new Promise<void>((resolve, reject) => {
    req.on('data', (chunk: Buffer) => {
      got.update(chunk);
      // A slow reader: the router queues the endpoint's answer meanwhile, window by window.
      if (slow && Math.random() < 0.2) {
        req.pause();
        setImmediate(() => req.resume());
      }
    });
    req.on('end', resolve);
    req.on('error', reject);
  });
  const total = 300_000 + index * 20_000;
  while (bytes < total) {
    const n = Math.min(total - bytes, Math.random() < 0.3 ? 1 + Math.floor(Math.random() * 64) : 1 + Math.floor(Math.random() * 40_000));
    const chunk = randomBytes(n);
    sent.update(chunk);
    bytes += n;
    if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
  }
  req.end();
  await done;
  return { index, sent: sent.digest('hex'), got: got.digest('hex'), bytes };
}
