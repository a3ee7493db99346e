// Fuzz of a real H2Connection server over a real socket pair on 127.0.0.1: after a valid preface
// and SETTINGS, arbitrary frame sequences (plausible and hostile: requests split over CONTINUATION,
// padding, PRIORITY, floods, bad SETTINGS, zero WINDOW_UPDATEs, resets, unknown types, raw noise in
// well-formed envelopes). Whatever arrives:
// - nothing is thrown out of the connection's socket handler;
// - after every chunk the memory it holds stays within its configured limits (a frame, a header
//   block, the HPACK table, the streams, queued DATA, unconsumed received DATA);
// - the connection either stays usable (it answers a PING, then a new request) or ends with a
//   GOAWAY of its own (unless the peer itself said GOAWAY first), and never just hangs.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import fc from 'fast-check';
import { H2Connection, type H2ConnectionOptions } from '../../src/h2/connection.js';
import { CLIENT_PREFACE, ErrorCode, Flag, FrameReader, FrameType, FrameWriter, SettingId } from '../../src/h2/frames.js';
import { FIELD_NO_INDEX, HeaderList, HpackDecoder, HpackEncoder, HpackError, type FieldInput } from '../../src/h2/hpack/index.js';
import { TestHandler } from './connection-helpers.js';
import { Recorder, rawFrame, type Event } from './frames-helpers.js';

const OPTIONS: H2ConnectionOptions = {
  role: 'server',
  maxConcurrentStreams: 4,
  maxHeaderListSize: 1024,
  maxHeaderBlockSize: 4096,
  maxContinuationFrames: 4,
  maxQueuedBytes: 8192,
  maxPings: 20,
  maxSettings: 20,
  maxEmptyFrames: 20,
  maxRapidResets: 10,
  initialWindowSize: 16_384,
  connectionWindowSize: 65_535,
  closeTimeoutMs: 500,
};
const RESPONSE_BODY = Buffer.alloc(3000, 0x42);
const MAX_FRAME = 16_384;

const REQUEST: FieldInput[] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/fuzz'], [':authority', 'x']];
/** Literals without indexing only: decodable whatever the fuzz did to the HPACK context before. */
const SAFE_REQUEST: FieldInput[] = REQUEST.map(([n, v]) => [n, v, FIELD_NO_INDEX]);

// ------------------------------------------------------------------ the server under test

interface Internals {
  reader: FrameReader;
  decoder: HpackDecoder;
}

interface ServerSide {
  conn: H2Connection;
  handler: TestHandler;
  thrown: unknown[];
  violations: string[];
}

function checkBounds(conn: H2Connection, violations: string[]): void {
  const { reader, decoder } = conn as unknown as Internals;
  const fail = (what: string) => violations.push(what);
  if (reader.pendingFrameBytes > MAX_FRAME + 9) fail(`reader holds ${reader.pendingFrameBytes} frame octets`);
  if (reader.pendingHeaderBlockBytes > OPTIONS.maxHeaderBlockSize!) fail(`reader holds a ${reader.pendingHeaderBlockBytes}-octet header block`);
  if (decoder.table.size > decoder.table.maxSize || decoder.table.maxSize > 4096) fail(`HPACK table ${decoder.table.size}/${decoder.table.maxSize}`);
  if (conn.streams.size > OPTIONS.maxConcurrentStreams!) fail(`${conn.streams.size} streams open`);
  let queued = 0;
  for (const s of conn.streams.values()) {
    queued += s.queuedBytes;
    if (s.recvUnconsumed < 0 || s.recvUnconsumed > OPTIONS.initialWindowSize!) fail(`stream ${s.id} holds ${s.recvUnconsumed} unconsumed octets`);
    if (s.recvWindow > OPTIONS.initialWindowSize!) fail(`stream ${s.id} receive window ${s.recvWindow}`);
  }
  if (queued !== conn.queuedBytes) fail(`queuedBytes ${conn.queuedBytes} but streams hold ${queued}`);
  if (conn.queuedBytes > OPTIONS.maxConcurrentStreams! * RESPONSE_BODY.length) fail(`queued ${conn.queuedBytes}`);
  if (conn.recvWindow < 0 || conn.recvWindow > OPTIONS.connectionWindowSize!) fail(`connection receive window ${conn.recvWindow}`);
}

async function startServer() {
  const sides: ServerSide[] = [];
  const waiting: ((s: ServerSide) => void)[] = [];
  const server = createServer((socket) => {
    const handler = new TestHandler();
    handler.keepData = false;
    handler.onStreamHook = (s, _h, end) => {
      s.sendHeaders([[':status', '200']], false);
      s.write(RESPONSE_BODY, end);
      if (!end) s.sendHeaders([['x-trailer', 'fuzz']], true);
    };
    const conn = new H2Connection(socket, handler, OPTIONS);
    const side: ServerSide = { conn, handler, thrown: [], violations: [] };
    // Run the connection's own 'data' listener inside a try, so a throw is a failed property
    // (and shrinks) rather than an uncaught exception; check the bounds after every chunk.
    const own = socket.listeners('data') as ((chunk: Buffer) => void)[];
    socket.removeAllListeners('data');
    socket.on('data', (chunk: Buffer) => {
      for (const l of own) {
        try {
          l(chunk);
        } catch (e) {
          side.thrown.push(e);
        }
      }
      checkBounds(conn, side.violations);
    });
    sides.push(side);
    waiting.shift()?.(side);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const next = (): Promise<ServerSide> => new Promise((resolve) => waiting.push(resolve));
  return { server, port, next };
}

// ------------------------------------------------------------------ a raw client that never throws

class FuzzClient extends Recorder {
  readonly reader = new FrameReader(this, { role: 'client', maxFrameSize: 16_777_215 });
  readonly decoder = new HpackDecoder();
  closed = false;
  decodeErrors: string[] = [];
  private wake: (() => void)[] = [];

  constructor(readonly socket: Socket) {
    super();
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.poke();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.poke();
    });
  }

  override onHeaders(streamId: number, endStream: boolean, block: Buffer, start: number, end: number): void {
    try {
      this.decoder.decode(block, new HeaderList(), start, end);
    } catch (e) {
      this.decodeErrors.push(e instanceof HpackError ? e.message : String(e));
    }
    super.onHeaders(streamId, endStream, block, start, end);
  }

  private poke(): void {
    for (const w of this.wake.splice(0)) w();
  }

  /** Resolves with the first event matching pred, or null once the socket has closed, or 'timeout'. */
  async until(pred: (e: Event) => boolean, ms = 3000): Promise<Event | null | 'timeout'> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit !== undefined) return hit;
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  send(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }
}

// ------------------------------------------------------------------ frame generators

type Op =
  | { k: 'request'; id: Target; end: boolean; split: number; pad: number; priority: boolean; extra: number }
  | { k: 'data'; id: Target; len: number; end: boolean; pad: number }
  | { k: 'trailers'; id: Target }
  | { k: 'rst'; id: Target; code: number }
  | { k: 'settings'; values: [number, number][] }
  | { k: 'settings-ack' }
  | { k: 'ping'; ack: boolean }
  | { k: 'priority'; id: Target; dep: number }
  | { k: 'window'; id: Target; inc: number }
  | { k: 'goaway' }
  | { k: 'raw'; type: number; flags: number; id: number; payload: Uint8Array };

/** A stream id: mostly the stream opened last ('recent') or the next one ('next'), sometimes any. */
type Target = number | 'recent' | 'next';
const anyId = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(1, 3, 5, 7, 9, 11) }, { weight: 1, arbitrary: fc.constantFrom(0, 2, 4, 0x7fff_fffd) });
const requestId: fc.Arbitrary<Target> = fc.oneof({ weight: 8, arbitrary: fc.constant('next' as const) }, { weight: 1, arbitrary: anyId });
const streamId: fc.Arbitrary<Target> = fc.oneof({ weight: 6, arbitrary: fc.constant('recent' as const) }, { weight: 1, arbitrary: anyId });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('request' as const), id: requestId, end: fc.boolean(), split: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 4, max: 8 }) }), pad: fc.integer({ min: 0, max: 40 }), priority: fc.boolean(), extra: fc.integer({ min: 0, max: 1500 }) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('data' as const), id: streamId, len: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1000, max: MAX_FRAME })), end: fc.boolean(), pad: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('trailers' as const), id: streamId }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('rst' as const), id: streamId, code: fc.constantFrom(ErrorCode.CANCEL, ErrorCode.NO_ERROR, 0xff) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('settings' as const), values: fc.array(fc.tuple(fc.integer({ min: 0, max: 8 }), fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constantFrom(0, 1, 16_383, 16_384, 16_777_216, 2 ** 31, 2 ** 32 - 1))), { maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'settings-ack' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('ping' as const), ack: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('priority' as const), id: streamId, dep: anyId }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('window' as const), id: streamId, inc: fc.oneof({ weight: 1, arbitrary: fc.constantFrom(0, 2 ** 31 - 1) }, { weight: 6, arbitrary: fc.integer({ min: 1, max: 70_000 }) }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'goaway' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('raw' as const), type: fc.integer({ min: 0, max: 12 }), flags: fc.integer({ min: 0, max: 255 }), id: fc.oneof(anyId, fc.integer({ min: 0, max: 2 ** 31 - 1 })), payload: fc.uint8Array({ maxLength: 64 }) }) },
);

function padded(payload: Buffer, pad: number): Buffer {
  return Buffer.concat([Buffer.from([pad]), payload, Buffer.alloc(pad)]);
}

/** The client's side of the sequence: its HPACK context and the stream ids it used. */
interface Seq {
  enc: HpackEncoder;
  w: FrameWriter;
  next: number;
  /** The last stream a request went to; 0 before the first. */
  recent: number;
}

/** The octets of one op. */
function materialize(op: Op, seq: Seq): Buffer {
  const { enc, w } = seq;
  let id = 0;
  if ('id' in op) {
    const target = op.id as Target;
    // 'recent' before any request: the op is dropped (a frame on an idle stream is tried by 'any' ids).
    if (target === 'recent' && seq.recent === 0) return Buffer.alloc(0);
    id = target === 'next' ? seq.next : target === 'recent' ? seq.recent : target;
    if (op.k === 'request') {
      seq.recent = id;
      if (id >= seq.next) seq.next = id + 2 - (id % 2 === 0 ? 1 : 0);
    }
  }
  switch (op.k) {
    case 'request': {
      const fields: FieldInput[] = op.extra > 0 ? [...REQUEST, ['x-extra', 'e'.repeat(op.extra)]] : REQUEST;
      let block = enc.encode(fields);
      const pieces = Math.min(op.split + 1, Math.max(1, block.length));
      const size = Math.ceil(block.length / pieces);
      const frags: Buffer[] = [];
      for (let i = 0; i < pieces; i++) frags.push(block.subarray(i * size, (i + 1) * size));
      block = frags[0]!;
      let flags = (op.end ? Flag.END_STREAM : 0) | (pieces === 1 ? Flag.END_HEADERS : 0);
      let payload = block;
      if (op.priority) {
        flags |= Flag.PRIORITY;
        payload = Buffer.concat([Buffer.from([0, 0, 0, 0, 15]), payload]);
      }
      if (op.pad > 0) {
        flags |= Flag.PADDED;
        payload = padded(payload, op.pad);
      }
      const out = [rawFrame(FrameType.HEADERS, flags, id, payload)];
      for (let i = 1; i < pieces; i++) out.push(rawFrame(FrameType.CONTINUATION, i === pieces - 1 ? Flag.END_HEADERS : 0, id, frags[i]!));
      return Buffer.concat(out);
    }
    case 'data': {
      const body = Buffer.alloc(op.len, 0x33);
      return op.pad > 0 && op.len + op.pad + 1 <= MAX_FRAME
        ? rawFrame(FrameType.DATA, (op.end ? Flag.END_STREAM : 0) | Flag.PADDED, id, padded(body, op.pad))
        : rawFrame(FrameType.DATA, op.end ? Flag.END_STREAM : 0, id, body);
    }
    case 'trailers':
      return rawFrame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, id, enc.encode([['x-trailer', 't']]));
    case 'rst': {
      const code = Buffer.alloc(4);
      code.writeUInt32BE(op.code);
      return rawFrame(FrameType.RST_STREAM, 0, id, code); // stream 0 too, which FrameWriter refuses to write
    }
    case 'settings':
      return rawFrame(FrameType.SETTINGS, 0, 0, Buffer.concat(op.values.map(([id, v]) => { const b = Buffer.alloc(6); b.writeUInt16BE(id); b.writeUInt32BE(v >>> 0, 2); return b; })));
    case 'settings-ack':
      w.settingsAck();
      break;
    case 'ping':
      w.ping(Buffer.from('fuzzping'), op.ack);
      break;
    case 'priority':
      return rawFrame(FrameType.PRIORITY, 0, id, Buffer.from([0, 0, 0, op.dep & 0xff, 100]).fill(0, 0, 3));
    case 'window':
      return rawFrame(FrameType.WINDOW_UPDATE, 0, id, Buffer.from([(op.inc >>> 24) & 0x7f, (op.inc >>> 16) & 0xff, (op.inc >>> 8) & 0xff, op.inc & 0xff]));
    case 'goaway':
      w.goaway(0, ErrorCode.NO_ERROR, 'fuzz');
      break;
    case 'raw':
      return rawFrame(op.type, op.flags, id, Buffer.from(op.payload));
  }
  return Buffer.concat(w.flush());
}

// ------------------------------------------------------------------ the property

const FINAL_ID = 0x7fff_ffff;

it('arbitrary frame sequences into a live H2Connection server: no throw, bounded memory, usable or GOAWAY', async () => {
  const { server, port, next } = await startServer();
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), fc.integer({ min: 1, max: 3 }), async (ops, chunks) => {
        const accepted = next();
        const socket = connect(port, '127.0.0.1');
        await once(socket, 'connect');
        const side = await accepted;
        const c = new FuzzClient(socket);
        try {
          // A valid opening: preface, SETTINGS, and the ACK of the server's SETTINGS.
          const w = new FrameWriter();
          w.settings([{ id: SettingId.INITIAL_WINDOW_SIZE, value: 65_535 }]);
          c.send(Buffer.concat([CLIENT_PREFACE, ...w.flush()]));
          assert.notEqual(await c.until((e) => e.kind === 'settings'), 'timeout');
          w.settingsAck();
          c.send(Buffer.concat(w.flush()));

          const enc = new HpackEncoder({ huffman: 'never' });
          const seq: Seq = { enc, w, next: 1, recent: 0 };
          const bytes = Buffer.concat(ops.map((op) => materialize(op, seq)));
          // Delivered in a few pieces, so frames straddle socket reads.
          const step = Math.ceil(bytes.length / chunks);
          for (let i = 0; i < bytes.length; i += step) c.send(bytes.subarray(i, i + step));
          const sentGoaway = ops.some((o) => o.k === 'goaway' || (o.k === 'raw' && o.type === FrameType.GOAWAY));

          // Then a PING: answered if the connection lives.
          c.send(rawFrame(FrameType.PING, 0, 0, Buffer.from('lastping')));
          const pong = await c.until((e) => e.kind === 'ping' && e.ack && e.opaque === Buffer.from('lastping').toString('hex'));
          assert.notEqual(pong, 'timeout', 'the connection neither answered the PING nor closed');
          if (pong === null) {
            assert.ok(sentGoaway || c.events.some((e) => e.kind === 'goaway'), 'closed without a GOAWAY');
          } else if (!side.conn.failed && side.conn.lastPeerStreamId < FINAL_ID && !sentGoaway && !c.events.some((e) => e.kind === 'goaway')) {
            // Usable: a new request on a fresh stream gets a response or a refusal for that stream.
            c.send(rawFrame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, FINAL_ID, new HpackEncoder({ huffman: 'never', tableSize: 0 }).encode(SAFE_REQUEST)));
            const answer = await c.until((e) => (e.kind === 'headers' || e.kind === 'rst') && e.streamId === FINAL_ID);
            assert.ok(answer !== 'timeout' && answer !== null, `no answer to a new request (${JSON.stringify(answer)})`);
            if (answer.kind === 'rst') assert.equal(answer.errorCode, ErrorCode.REFUSED_STREAM);
          }
          assert.deepEqual(side.thrown.map(String), []);
          assert.deepEqual(side.violations, []);
          assert.deepEqual(c.decodeErrors, [], 'the server\'s header blocks must decode');
        } finally {
          socket.destroy();
        }
      }),
      { numRuns: 150, includeErrorInReport: true },
    );
  } finally {
    server.close();
  }
});
