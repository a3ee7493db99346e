// The server role against hand-built frame sequences (node:net + FrameWriter), for
// the rules a well-behaved peer never breaks: stream-id and state rules, flow
// control, malformed requests, and the abuse limits. Each test waits for the frame
// or the socket 'close' it expects; the test runner's timeout bounds it.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, FrameType, SettingId } from '../../src/h2/frames.js';
import { FIELD_NO_INDEX } from '../../src/h2/hpack/index.js';
import { answer200, h2Server, RawClient } from './connection-helpers.js';
import { rawFrame } from './frames-helpers.js';
import { FakeClock } from '../support/fake-clock.js';
import { WindowCounter } from '../../src/h2/limits.js';
import { eventually } from '../support/eventually.js';

const GET = RawClient.GET;

function goaway(c: RawClient) {
  return c.wait((e) => e.kind === 'goaway') as Promise<{ kind: 'goaway'; lastStreamId: number; errorCode: number; debug: string }>;
}
function rst(c: RawClient, streamId: number) {
  return c.wait((e) => e.kind === 'rst' && e.streamId === streamId) as Promise<{ kind: 'rst'; streamId: number; errorCode: number }>;
}
function response(c: RawClient, streamId: number) {
  return c.wait((e) => e.kind === 'headers' && e.streamId === streamId);
}
function debugText(g: { debug: string }): string {
  return Buffer.from(g.debug, 'hex').toString();
}

describe('H2Connection server role, raw frames', () => {
  it('DATA on an idle stream: GOAWAY PROTOCOL_ERROR, then the socket closes', async () => {
    const { server, port, next } = await h2Server({});
    const c = await RawClient.connect(port);
    try {
      c.writer.data(1, Buffer.from('x'), false);
      c.send();
      const g = await goaway(c);
      assert.equal(g.errorCode, ErrorCode.PROTOCOL_ERROR);
      assert.match(debugText(g), /data-on-idle-stream/);
      await c.waitClose();
      const h = await next();
      const closed = await h.wait((e) => e.kind === 'close');
      assert.ok(closed.kind === 'close' && closed.error !== null);
    } finally {
      c.close();
      server.close();
    }
  });

  it('a new stream id below the highest seen: GOAWAY PROTOCOL_ERROR naming the last processed stream', async () => {
    const { server, port } = await h2Server({}, (h) => { h.onStreamHook = (s) => answer200(s); });
    const c = await RawClient.connect(port);
    try {
      c.request(5, GET, true);
      c.request(3, GET, true);
      c.send();
      const g = await goaway(c);
      assert.equal(g.errorCode, ErrorCode.PROTOCOL_ERROR);
      assert.equal(g.lastStreamId, 5);
      assert.match(debugText(g), /stream-id-not-increasing/);
      await c.waitClose();
    } finally {
      c.close();
      server.close();
    }
  });

  it('DATA beyond the connection window: GOAWAY FLOW_CONTROL_ERROR', async () => {
    const { server, port } = await h2Server({ connectionWindowSize: 65_535, initialWindowSize: 1 << 20 }, (h) => {
      h.autoConsume = false; // the owner has not passed the bytes on: no window comes back
    });
    const c = await RawClient.connect(port);
    try {
      c.request(1, [[':method', 'POST'], [':scheme', 'http'], [':path', '/'], [':authority', 'x']], false);
      // 5 x 16384 = 81920 > 65535, while the stream window (1 MiB after the ACK) is not the limit.
      for (let i = 0; i < 5; i++) c.writer.data(1, Buffer.alloc(16_384), false);
      c.send();
      const g = await goaway(c);
      assert.equal(g.errorCode, ErrorCode.FLOW_CONTROL_ERROR);
      await c.waitClose();
    } finally {
      c.close();
      server.close();
    }
  });

  it('DATA beyond a stream window: RST_STREAM FLOW_CONTROL_ERROR, the connection carries on', async () => {
    const { server, port } = await h2Server({ initialWindowSize: 16_384 }, (h) => {
      h.autoConsume = false;
      h.onStreamHook = (s, _h, end) => { if (end) answer200(s); };
    });
    const c = await RawClient.connect(port);
    try {
      c.request(1, [[':method', 'POST'], [':scheme', 'http'], [':path', '/'], [':authority', 'x']], false);
      c.writer.data(1, Buffer.alloc(16_384), false);
      c.writer.data(1, Buffer.alloc(1), false);
      c.request(3, GET, true);
      c.send();
      assert.equal((await rst(c, 1)).errorCode, ErrorCode.FLOW_CONTROL_ERROR);
      await response(c, 3);
      assert.deepEqual(c.blocks(3)[0], [[':status', '200']]);
      assert.ok(!c.events.some((e) => e.kind === 'goaway'));
    } finally {
      c.close();
      server.close();
    }
  });

  it('malformed requests are refused one stream at a time with RST_STREAM PROTOCOL_ERROR', async () => {
    const { server, port, next, conns } = await h2Server({}, (h) => { h.onStreamHook = (s) => answer200(s); });
    const c = await RawClient.connect(port);
    try {
      c.request(1, [...GET, ['X-Upper', 'a']], true);
      c.request(3, [...GET, ['connection', 'keep-alive']], true);
      c.request(5, [[':method', 'GET'], [':scheme', 'http'], [':authority', 'x']], true); // no :path
      c.request(7, [...GET, ['te', 'gzip']], true);
      c.request(9, [[':path', '/'], ...GET], true); // duplicated pseudo-field
      c.request(11, [...GET, [':status', '200']], true); // response pseudo-field in a request
      c.request(13, [['x', 'y'], ...GET], true); // pseudo-fields after a regular one
      c.request(15, [...GET, ['te', 'trailers']], true); // fine
      // §8.2.1: NUL, CR or LF in a value; sent as a literal (and added to both tables), then by index.
      c.request(17, [...GET, ['x-smuggle', 'a\r\nhost: b']], true);
      c.request(19, [...GET, ['x-smuggle', 'a\r\nhost: b']], true);
      c.request(21, [...GET, ['x-nul', 'a\0b', FIELD_NO_INDEX]], true);
      c.request(23, [...GET, ['x-smuggle', 'fine']], true); // the table's name, a value of its own: fine
      c.send();
      // Answered or refused: either way the last stream's fate is known, and the others' before it.
      await c.wait((e) => (e.kind === 'headers' || e.kind === 'rst') && e.streamId === 23);
      const codes = new Map(c.rsts().map((r) => [r.streamId, r.errorCode]));
      for (const id of [1, 3, 5, 7, 9, 11, 13, 17, 19, 21]) assert.equal(codes.get(id), ErrorCode.PROTOCOL_ERROR, `stream ${id}`);
      for (const id of [15, 23]) assert.equal(codes.has(id), false, `stream ${id}`);
      assert.ok(!c.events.some((e) => e.kind === 'goaway'));
      const h = await next();
      assert.deepEqual(h.events.filter((e) => e.kind === 'stream').map((e) => (e as { id: number }).id), [15, 23]);
      assert.equal(conns[0]!.counters.malformed, 10);
    } finally {
      c.close();
      server.close();
    }
  });

  it('rapid reset (open + RST_STREAM 1000 streams): GOAWAY ENHANCE_YOUR_CALM', async () => {
    const { server, port, conns } = await h2Server({});
    const c = await RawClient.connect(port);
    try {
      for (let id = 1; id < 2000; id += 2) {
        c.request(id, GET, false);
        c.writer.rstStream(id, ErrorCode.CANCEL);
      }
      c.send();
      const g = await goaway(c);
      assert.equal(g.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
      assert.match(debugText(g), /rapid-reset/);
      await c.waitClose();
      assert.equal(conns[0]!.counters.connectionErrors['rapid-reset'], 1);
    } finally {
      c.close();
      server.close();
    }
  });

  it('rapid reset with a shared counter (rapidResetCounter): resets count over the connections sharing it; the one that passes its limit gets GOAWAY ENHANCE_YOUR_CALM', async () => {
    // A minute's window: both connections' resets fall in one, however slow the machine.
    const { server, port, conns } = await h2Server({ rapidResetCounter: new WindowCounter(20, 60_000), rapidResetScope: 'from this client address' });
    const first = await RawClient.connect(port);
    const second = await RawClient.connect(port);
    const resets = async (c: RawClient, tag: string): Promise<{ kind: string; errorCode?: number; debug?: string }> => {
      for (let id = 1; id < 30; id += 2) { // 15 each: under the limit alone, over it together
        c.request(id, GET, false);
        c.writer.rstStream(id, ErrorCode.CANCEL);
      }
      c.writer.ping(Buffer.from(tag), false);
      c.send();
      return c.wait((e) => e.kind === 'goaway' || (e.kind === 'ping' && e.ack && Buffer.from(e.opaque, 'hex').toString() === tag)) as Promise<{ kind: string; errorCode?: number; debug?: string }>;
    };
    try {
      assert.equal((await resets(first, 'first---')).kind, 'ping');
      const g = await resets(second, 'second--');
      assert.equal(g.kind, 'goaway');
      assert.equal(g.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
      assert.match(debugText(g as { debug: string }), /^rapid-reset: more than 20 streams reset before their response within 60000 ms from this client address \(CVE-2023-44487/);
      await second.waitClose();
      assert.equal(conns[1]!.counters.connectionErrors['rapid-reset'], 1);
      assert.equal(conns[0]!.counters.connectionErrors['rapid-reset'] ?? 0, 0);
      assert.equal(first.events.filter((e) => e.kind === 'goaway').length, 0);
    } finally {
      first.close();
      second.close();
      server.close();
    }
  });

  it('a PING flood: GOAWAY ENHANCE_YOUR_CALM; a few PINGs are answered', async () => {
    const { server, port } = await h2Server({ maxPings: 50 });
    const c = await RawClient.connect(port);
    try {
      c.writer.ping(Buffer.from('12345678'), false);
      c.send();
      const ack = await c.wait((e) => e.kind === 'ping' && e.ack);
      assert.ok(ack.kind === 'ping' && ack.opaque === Buffer.from('12345678').toString('hex'));
      for (let i = 0; i < 1000; i++) c.writer.ping(Buffer.alloc(8, i & 0xff), false);
      c.send();
      const g = await goaway(c);
      assert.equal(g.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
      assert.match(debugText(g), /ping-flood/);
      await c.waitClose();
    } finally {
      c.close();
      server.close();
    }
  });

  it('a repeated GOAWAY that lowers nothing changes nothing: the owner hears of the first only, and open streams carry on', async () => {
    // Each GOAWAY used to walk every open stream: 17-byte frames over 1,000 open streams took a
    // core for 2.5 MB/s. One that does not lower last-stream-id is now a no-op.
    const { server, port, next } = await h2Server({});
    const c = await RawClient.connect(port);
    try {
      c.request(1, GET, false);
      c.send();
      const h = await next();
      await h.wait((e) => e.kind === 'stream' && e.id === 1);
      for (let i = 0; i < 1000; i++) c.writer.goaway(0, ErrorCode.NO_ERROR);
      c.writer.ping(Buffer.from('synced!!'), false);
      c.send();
      await c.wait((e) => e.kind === 'ping' && e.ack);
      assert.equal(h.events.filter((e) => e.kind === 'goaway').length, 1);
      assert.ok(!h.events.some((e) => e.kind === 'close' || e.kind === 'reset'), JSON.stringify(h.events.slice(-3)));
      // The stream the client opened before its GOAWAY is still served.
      c.writer.data(1, Buffer.from('x'), true);
      c.send();
      await h.wait((e) => e.kind === 'data' && e.id === 1 && e.endStream);
    } finally {
      c.close();
      server.close();
    }
  });

  it('a field block not ended within headerBlockTimeoutMs fails the connection, however slowly its CONTINUATION bytes drip', async () => {
    // The fragments of an open block are held until END_HEADERS, and a peer dripping bytes of a
    // CONTINUATION keeps keepalive and idle timers quiet: it held them for good.
    const clock = new FakeClock(1_000);
    const { server, port, conns } = await h2Server({ clock, headerBlockTimeoutMs: 5_000 });
    const c = await RawClient.connect(port);
    // Each step waits until the router has read what was sent, so the clock moves between reads.
    let sent = 0;
    const drip = async (bytes: Buffer): Promise<void> => {
      sent += bytes.length;
      c.send(bytes);
      await eventually('the router read the drip', () => conns[0]!.socket.bytesRead >= sent + OPENING_BYTES, 5_000);
    };
    const OPENING_BYTES = conns[0]!.socket.bytesRead;
    try {
      await drip(rawFrame(FrameType.HEADERS, 0, 1, [0x82])); // :method GET, no END_HEADERS
      const continuation = rawFrame(FrameType.CONTINUATION, 0x4, 1, [0x86, 0x84, 0x41, 0x01, 0x78]);
      await drip(continuation.subarray(0, 3));
      clock.advance(4_000);
      await drip(continuation.subarray(3, 6)); // 4 s after the block began: read on
      assert.ok(!c.events.some((e) => e.kind === 'goaway'));
      clock.advance(2_000);
      c.send(continuation.subarray(6, 7)); // 6 s
      const g = await goaway(c);
      assert.equal(g.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
      assert.match(debugText(g), /header-block-timeout/);
      await c.waitClose();
    } finally {
      c.close();
      server.close();
    }
  });

  it('a SETTINGS flood and an empty-DATA flood: GOAWAY ENHANCE_YOUR_CALM', async () => {
    const { server, port } = await h2Server({ maxSettings: 20, maxEmptyFrames: 100 });
    const c1 = await RawClient.connect(port);
    const c2 = await RawClient.connect(port);
    try {
      for (let i = 0; i < 100; i++) c1.writer.settings([]);
      c1.send();
      const g1 = await goaway(c1);
      assert.equal(g1.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
      assert.match(debugText(g1), /settings-flood/);
      c2.request(1, [[':method', 'POST'], [':scheme', 'http'], [':path', '/'], [':authority', 'x']], false);
      for (let i = 0; i < 500; i++) c2.writer.data(1, Buffer.alloc(0), false);
      c2.send();
      const g2 = await goaway(c2);
      assert.equal(g2.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
      assert.match(debugText(g2), /empty-frame-flood/);
      await c1.waitClose();
      await c2.waitClose();
    } finally {
      c1.close();
      c2.close();
      server.close();
    }
  });

  it('streams beyond max concurrent streams: RST_STREAM REFUSED_STREAM, then room again after one ends', async () => {
    const { server, port, next, conns } = await h2Server({ maxConcurrentStreams: 2 });
    const c = await RawClient.connect(port);
    try {
      c.request(1, GET, false);
      c.request(3, GET, false);
      c.request(5, GET, false);
      c.send();
      assert.equal((await rst(c, 5)).errorCode, ErrorCode.REFUSED_STREAM);
      const h = await next();
      await h.wait((e) => e.kind === 'stream' && e.id === 3);
      assert.deepEqual(h.events.filter((e) => e.kind === 'stream').map((e) => (e as { id: number }).id), [1, 3]);
      // The client ends stream 1; the server answers it; stream 7 then fits.
      c.writer.data(1, Buffer.alloc(0), true);
      c.send();
      h.onStreamHook = (s) => answer200(s);
      await h.wait((e) => e.kind === 'data' && e.id === 1 && e.endStream);
      // Stream 1 is half-closed (remote); answering it closes it.
      answer200(conns[0]!.streams.get(1)!);
      await h.wait((e) => e.kind === 'close-stream' && e.id === 1);
      c.request(7, GET, true);
      c.send();
      await response(c, 7);
      assert.equal(c.rsts().filter((r) => r.streamId === 7).length, 0);
    } finally {
      c.close();
      server.close();
    }
  });

  it('a 70 KiB header over a 64 KiB max header list size refuses only that stream; the next request works', async () => {
    const { server, port, next, conns } = await h2Server({}, (h) => {
      h.onStreamHook = (s) => answer200(s);
      // The router answers trailers-only RESOURCE_EXHAUSTED (gRPC status 8).
      h.onTooLargeHook = (s) => s.sendHeaders([[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '8']], true);
    });
    const c = await RawClient.connect(port);
    try {
      c.request(1, [...GET, ['x-big', 'a'.repeat(70 * 1024)]], true);
      c.send();
      await response(c, 1);
      assert.deepEqual(c.blocks(1)[0], [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '8']]);
      c.request(3, [...GET, ['x-small', 'b']], true);
      c.send();
      await response(c, 3);
      assert.deepEqual(c.blocks(3)[0], [[':status', '200']]);
      assert.ok(!c.events.some((e) => e.kind === 'goaway'));
      const h = await next();
      assert.ok(h.events.some((e) => e.kind === 'too-large' && e.id === 1));
      assert.equal(conns[0]!.counters.headerListTooLarge, 1);
    } finally {
      c.close();
      server.close();
    }
  });

  it('an over-limit header with nobody answering: RST_STREAM REFUSED_STREAM on that stream only', async () => {
    const { server, port } = await h2Server({}, (h) => { h.onStreamHook = (s) => answer200(s); });
    const c = await RawClient.connect(port);
    try {
      c.request(1, [...GET, ['x-big', 'a'.repeat(70 * 1024)]], true);
      c.request(3, GET, true);
      c.send();
      assert.equal((await rst(c, 1)).errorCode, ErrorCode.REFUSED_STREAM);
      await response(c, 3);
    } finally {
      c.close();
      server.close();
    }
  });

  it('WINDOW_UPDATE on an idle, even (server-initiated) stream: GOAWAY PROTOCOL_ERROR', async () => {
    const { server, port } = await h2Server({});
    const c = await RawClient.connect(port);
    try {
      c.send(rawFrame(FrameType.WINDOW_UPDATE, 0, 2, [0, 0, 0, 1]));
      const g = await goaway(c);
      assert.equal(g.errorCode, ErrorCode.PROTOCOL_ERROR);
      await c.waitClose();
    } finally {
      c.close();
      server.close();
    }
  });

  it('SETTINGS_INITIAL_WINDOW_SIZE changes move open streams\' send windows, below zero too (§6.9.2)', async () => {
    const body = Buffer.alloc(1000, 7);
    const { server, port, conns } = await h2Server({}, (h) => {
      h.onStreamHook = (s) => { s.sendHeaders([[':status', '200']], false); s.write(body, true); };
    });
    const c = await RawClient.connect(port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 100 }]);
    const got = () => c.events.reduce((n, e) => n + (e.kind === 'data' && e.streamId === 1 ? e.data.length / 2 : 0), 0);
    const dataUntil = (n: number) => c.wait(() => got() >= n);
    try {
      c.request(1, GET, true);
      c.send();
      await dataUntil(100);
      assert.equal(got(), 100);
      const stream = conns[0]!.streams.get(1)!;
      c.writer.settings([{ id: SettingId.INITIAL_WINDOW_SIZE, value: 50 }]);
      c.send();
      await c.wait((e) => e.kind === 'settings-ack' && c.events.filter((x) => x.kind === 'settings-ack').length >= 2);
      assert.equal(stream.sendWindow, -50);
      // Many entries in one frame: processed in order, so the last one counts (the streams are
      // walked once for the frame, not per entry).
      const many = (last: number) => Array.from({ length: 2000 }, (_, i) => ({ id: SettingId.INITIAL_WINDOW_SIZE, value: i % 2 === 0 ? 0 : 65_535 })).concat([{ id: SettingId.INITIAL_WINDOW_SIZE, value: last }]);
      c.writer.settings(many(75));
      c.send();
      await c.wait((e) => e.kind === 'settings-ack' && c.events.filter((x) => x.kind === 'settings-ack').length >= 3);
      assert.equal(stream.sendWindow, -25);
      c.writer.settings(many(50));
      c.send();
      await c.wait((e) => e.kind === 'settings-ack' && c.events.filter((x) => x.kind === 'settings-ack').length >= 4);
      assert.equal(stream.sendWindow, -50);
      c.writer.windowUpdate(1, 60); // -50 + 60: room for 10 octets
      c.send();
      await dataUntil(110);
      c.writer.settings([{ id: SettingId.INITIAL_WINDOW_SIZE, value: 1000 }]); // +950
      c.send();
      const end = await c.wait((e) => e.kind === 'data' && e.streamId === 1 && e.endStream);
      assert.ok(end.kind === 'data');
      assert.equal(got(), 1000);
      assert.ok(!c.events.some((e) => e.kind === 'goaway'));
    } finally {
      c.close();
      server.close();
    }
  });
  it('write() asks the caller to stop once this tick\'s frames reach maxQueuedBytes, however wide the windows', async () => {
    const chunk = Buffer.alloc(1 << 20, 1);
    let accepted = -1;
    const { server, port } = await h2Server({ maxQueuedBytes: 4 << 20 }, (h) => {
      h.onStreamHook = (s) => {
        s.sendHeaders([[':status', '200']], false);
        // One synchronous burst: nothing reaches the socket before it ends.
        for (accepted = 0; accepted < 64; accepted++) if (!s.write(chunk, false)) break;
        s.reset(ErrorCode.CANCEL);
      };
    });
    const c = await RawClient.connect(port, [{ id: SettingId.INITIAL_WINDOW_SIZE, value: 2 ** 31 - 1 }]);
    try {
      c.writer.windowUpdate(0, 2 ** 31 - 1 - 65_535);
      c.request(1, GET, true);
      c.send();
      await rst(c, 1);
      // 4 MiB straight into the tick's frames, then as much again queued (the bound is soft): not 64.
      assert.ok(accepted >= 4 && accepted <= 9, `${accepted} MiB accepted in one tick`);
    } finally {
      c.close();
      server.close();
    }
  });
});
