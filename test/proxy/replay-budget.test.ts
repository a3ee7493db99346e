import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ProxyHarness, addr } from './harness.js';
import { startRawBackend } from '../fixtures/grpc/raw-backend.js';
import { eventually } from '../support/eventually.js';
import { REPLAY_BUDGET } from '../../src/proxy/replay-budget.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { RawClient } from '../h2/connection-helpers.js';
import { rawFrame } from '../h2/frames-helpers.js';
import { FrameType } from '../../src/h2/frames.js';

/**
 * A call keeps up to 64 KiB of its request for a transparent retry until an endpoint answers. Once
 * passed on, those bytes are in no window and no read budget: a pod's 5,000 calls that each sent
 * 64 KiB to an endpoint that had not answered yet kept 320 MB. The process now lends what calls
 * keep, a share per client; past it a call keeps nothing more for a replay and is still served.
 */
test('request bytes kept for replays are bounded by the process\'s budget and the client\'s share; calls past it are still forwarded whole', { timeout: 30_000 }, async () => {
  const saved = { limit: REPLAY_BUDGET.limit, shareLimit: REPLAY_BUDGET.shareLimit };
  REPLAY_BUDGET.resize(1 << 20, 128 << 10);
  const CALLS = 10;
  const BODY = 60_000; // under the 64 KiB a call may keep for a replay
  let received = 0;
  // The endpoint reads every request and answers none, so every call keeps its request.
  const backend = await startRawBackend((stream) => {
    stream.on('data', (c: Buffer) => (received += c.length));
  });
  const proxy = await new ProxyHarness(addr(backend.port)).start();
  const client = http2.connect(`http://${proxy.target}`);
  const refusedBefore = REPLAY_BUDGET.refused;
  try {
    for (let i = 0; i < CALLS; i++) {
      const req = client.request({ ':method': 'POST', ':path': '/t.Svc/Upload', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => {});
      req.write(Buffer.alloc(BODY, i));
    }
    await eventually('the endpoint has every request byte', () => received === CALLS * BODY, 10_000);
    // Without the budget the router kept all 600,000 bytes.
    assert.ok(REPLAY_BUDGET.held <= 128 << 10, `kept ${REPLAY_BUDGET.held} bytes for replays`);
    assert.ok(REPLAY_BUDGET.held >= 2 * BODY, `kept ${REPLAY_BUDGET.held}: the first calls keep theirs`);
    assert.ok(REPLAY_BUDGET.refused > refusedBefore);
    // The client's share is what its server counts for its address, beside its other usage.
    assert.equal(proxy.server.perClient.usageOf('127.0.0.1')?.replayBytes, REPLAY_BUDGET.held);
    const metrics = new Metrics({ processMetrics: false });
    metrics.watchReplayBudget(() => REPLAY_BUDGET);
    const text = await metrics.registry.metrics();
    assert.match(text, new RegExp(`^kgr_replay_bytes ${REPLAY_BUDGET.held}$`, 'm'));
    assert.match(text, /^kgr_replay_refused_total [1-9]\d*$/m);
    // Each refusal is a trip of the key that made it: here the client's share, never the process's budget.
    assert.ok(REPLAY_BUDGET.shareRefused > 0 && REPLAY_BUDGET.shareRefused === REPLAY_BUDGET.refused);
    assert.match(text, new RegExp(`^kgr_limits_reached_total\\{limit="endpointWindows\\.replayBytesPerClient"\\} ${REPLAY_BUDGET.shareRefused}$`, 'm'));
    assert.doesNotMatch(text, /limit="endpointWindows\.replayBytes"/);
  } finally {
    client.close();
    await proxy.close();
    await backend.close();
    REPLAY_BUDGET.resize(saved.limit, saved.shareLimit);
  }
  // The calls ended with their client: what they kept went back.
  await eventually('the replay budget is whole again', () => REPLAY_BUDGET.held === 0, 10_000);
});

/** ArrayBuffer bytes alive after a full collection (V8's gc, reached without a command-line flag). */
function retainedArrayBuffers(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // Twice: a collection frees dead ArrayBuffers on a background sweep, which the next one finishes.
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

test('request bytes kept for replays take at most twice their size in memory, though each frame came as a quarter of a 64 KiB socket read', { timeout: 30_000 }, async () => {
  let received = 0;
  // The endpoint reads every request and answers none, so every call keeps its request.
  const backend = await startRawBackend((stream) => {
    stream.on('data', (c: Buffer) => (received += c.length));
  });
  const proxy = await new ProxyHarness(addr(backend.port)).start();
  const client = await RawClient.connect(proxy.port);
  const CALLS = 48;
  const FRAMES = 2; // 32 KiB a call, under the 64 KiB kept for a replay: the list's first chunk and one appended
  // Each write is one read for the router: 16 KiB of DATA, then 48 KiB of unknown frames it skips.
  const filler = Buffer.concat([0, 1, 2].map(() => rawFrame(0x20, 0, 0, Buffer.alloc(16_372))));
  const heldBefore = REPLAY_BUDGET.held;
  try {
    const before = retainedArrayBuffers();
    for (let i = 0; i < CALLS; i++) {
      const id = 2 * i + 1;
      client.request(id, [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/Upload'], [':authority', 'x'], ['content-type', 'application/grpc'], ['te', 'trailers']], false);
      client.send();
      for (let f = 0; f < FRAMES; f++) {
        client.send(rawFrame(FrameType.DATA, 0, id, Buffer.alloc(16_384, f)), filler);
        const want = (i * FRAMES + f + 1) * 16_384;
        await eventually(`the endpoint has ${want} bytes`, () => received === want);
      }
    }
    const held = REPLAY_BUDGET.held - heldBefore;
    assert.equal(held, CALLS * FRAMES * 16_384, 'every call keeps its request');
    // Kept as views of their reads, the 1.5 MiB kept 6 MiB.
    const grown = retainedArrayBuffers() - before;
    assert.ok(grown <= 2 * held, `${(grown / 1048576).toFixed(1)} MiB of ArrayBuffers kept for ${(held / 1048576).toFixed(1)} MiB kept for replays`);
  } finally {
    client.close();
    await proxy.close();
    await backend.close();
  }
  await eventually('the replay budget is whole again', () => REPLAY_BUDGET.held === heldBefore, 10_000);
});
