// Helpers for the connection tests: a recording handler, a listening server made of
// H2Connection, and a raw peer (node:net + FrameWriter/FrameReader) for hand-built
// frame sequences. Everything waits on events, never on sleeps.

import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { H2Connection, type H2ConnectionHandler, type H2ConnectionOptions } from '../../src/h2/connection.js';
import type { H2Stream } from '../../src/h2/stream.js';
import { CLIENT_PREFACE, FrameReader, FrameType, FrameWriter, type Setting } from '../../src/h2/frames.js';
import { HeaderList, HpackDecoder, HpackEncoder, type FieldInput } from '../../src/h2/hpack/index.js';
import { Recorder, type Event } from './frames-helpers.js';
import { SharedReads, adoptWithReads } from '../../src/h2/shared-reads.js';

export type ConnEvent =
  | { kind: 'stream'; id: number; headers: [string, string][]; endStream: boolean }
  | { kind: 'too-large'; id: number; endStream: boolean }
  | { kind: 'headers'; id: number; headers: [string, string][]; endStream: boolean }
  | { kind: 'data'; id: number; length: number; endStream: boolean }
  | { kind: 'reset'; id: number; code: number; refused: boolean }
  | { kind: 'close-stream'; id: number }
  | { kind: 'drain'; id: number }
  | { kind: 'goaway'; lastStreamId: number; code: number }
  | { kind: 'ping-ack' }
  | { kind: 'close'; error: Error | null };

/** Records every event; tests override the hooks they answer with. */
export class TestHandler implements H2ConnectionHandler {
  events: ConnEvent[] = [];
  private waiters: { pred: (e: ConnEvent) => boolean; resolve: (e: ConnEvent) => void }[] = [];
  /** Body bytes per stream id, when `keepData`. */
  bodies = new Map<number, Buffer[]>();
  keepData = true;
  /** consume(n) on every DATA at once (unless a test takes over consumption). */
  autoConsume = true;

  onStreamHook: ((s: H2Stream, h: HeaderList, end: boolean) => void) | null = null;
  onTooLargeHook: ((s: H2Stream, h: HeaderList, end: boolean) => void) | null = null;
  onDataHook: ((s: H2Stream, d: Buffer, end: boolean) => void) | null = null;
  onHeadersHook: ((s: H2Stream, h: HeaderList, end: boolean) => void) | null = null;
  onDrainHook: ((s: H2Stream) => void) | null = null;

  private push(e: ConnEvent): void {
    this.events.push(e);
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) if (w.pred(e)) w.resolve(e); else this.waiters.push(w);
  }

  /** The first event (already seen or future) matching pred. */
  wait(pred: (e: ConnEvent) => boolean): Promise<ConnEvent> {
    const seen = this.events.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  onStream(s: H2Stream, h: HeaderList, end: boolean): void {
    this.push({ kind: 'stream', id: s.id, headers: h.toArray(), endStream: end });
    this.onStreamHook?.(s, h, end);
  }
  onHeaderListTooLarge(s: H2Stream, h: HeaderList, end: boolean): void {
    this.push({ kind: 'too-large', id: s.id, endStream: end });
    this.onTooLargeHook?.(s, h, end);
  }
  onHeaders(s: H2Stream, h: HeaderList, end: boolean): void {
    this.push({ kind: 'headers', id: s.id, headers: h.toArray(), endStream: end });
    this.onHeadersHook?.(s, h, end);
  }
  onData(s: H2Stream, d: Buffer, end: boolean): void {
    if (this.keepData) {
      let list = this.bodies.get(s.id);
      if (list === undefined) this.bodies.set(s.id, list = []);
      list.push(Buffer.from(d));
    }
    this.push({ kind: 'data', id: s.id, length: d.length, endStream: end });
    if (this.autoConsume) s.consumed(d.length);
    this.onDataHook?.(s, d, end);
  }
  onReset(s: H2Stream, code: number, refused: boolean): void {
    this.push({ kind: 'reset', id: s.id, code, refused });
  }
  onStreamClose(s: H2Stream): void {
    this.push({ kind: 'close-stream', id: s.id });
  }
  onDrain(s: H2Stream): void {
    this.push({ kind: 'drain', id: s.id });
    this.onDrainHook?.(s);
  }
  onGoaway(lastStreamId: number, code: number): void {
    this.push({ kind: 'goaway', lastStreamId, code });
  }
  onPingAck(): void {
    this.push({ kind: 'ping-ack' });
  }
  onClose(error: Error | null): void {
    this.push({ kind: 'close', error });
  }

  body(id: number): Buffer {
    return Buffer.concat(this.bodies.get(id) ?? []);
  }
}

/** A TCP server whose every connection is an H2Connection in the server role. */
export async function h2Server(
  options: Partial<H2ConnectionOptions>,
  setup: (h: TestHandler) => void = () => {},
  /** Read as the router reads (SharedReads): DATA arrives as views of the process's read buffer. */
  sharedReads = false,
): Promise<{ server: Server; port: number; handlers: TestHandler[]; conns: H2Connection[]; next: () => Promise<TestHandler> }> {
  const handlers: TestHandler[] = [];
  const conns: H2Connection[] = [];
  const pending: ((h: TestHandler) => void)[] = [];
  const server = createServer({ pauseOnConnect: sharedReads }, (accepted) => {
    const h = new TestHandler();
    setup(h);
    handlers.push(h);
    const reads = sharedReads ? new SharedReads() : undefined;
    const socket = reads !== undefined ? adoptWithReads(accepted, reads) : accepted;
    conns.push(new H2Connection(socket, h, { ...options, role: 'server', ...(reads !== undefined ? { reads } : {}) }));
    pending.shift()?.(h);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const next = (): Promise<TestHandler> => new Promise((resolve) => {
    if (handlers.length > 0) resolve(handlers[handlers.length - 1]!); else pending.push(resolve);
  });
  return { server, port, handlers, conns, next };
}

/** Answers a request with :status 200 and an empty body (for "the next request works"). */
export function answer200(s: H2Stream): void {
  s.sendHeaders([[':status', '200']], true);
}

/** A raw HTTP/2 peer: hand-built frames out, every frame recorded (and header blocks decoded) as it arrives. */
export class RawPeer extends Recorder {
  readonly writer = new FrameWriter();
  readonly encoder = new HpackEncoder({ huffman: 'never' });
  readonly decoder = new HpackDecoder();
  readonly reader: FrameReader;
  closed = false;
  private waiters: { pred: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
  private closeWaiters: (() => void)[] = [];

  protected constructor(readonly socket: Socket, role: 'client' | 'server') {
    super();
    this.reader = new FrameReader(this, { role, maxFrameSize: 16_777_215 });
    socket.on('data', (chunk: Buffer) => {
      const before = this.events.length;
      this.reader.push(chunk);
      const fresh = this.events.slice(before);
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) {
        const hit = fresh.find(w.pred);
        if (hit !== undefined) w.resolve(hit); else this.waiters.push(w);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.closeWaiters) w();
    });
  }

  /** Writes everything queued in the writer (plus extra raw bytes). */
  send(...raw: Buffer[]): void {
    const out = [...this.writer.flush(), ...raw];
    if (out.length > 0 && !this.socket.destroyed) this.socket.write(Buffer.concat(out));
  }

  wait(pred: (e: Event) => boolean): Promise<Event> {
    const seen = this.events.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  waitClose(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  /** Every received field block, decoded in arrival order (HPACK state is per connection). */
  decoded: { streamId: number; endStream: boolean; fields: [string, string][] }[] = [];

  override onHeaders(streamId: number, endStream: boolean, block: Buffer, start: number, end: number): void {
    const list = new HeaderList();
    this.decoder.decode(block, list, start, end);
    this.decoded.push({ streamId, endStream, fields: list.toArray() });
    super.onHeaders(streamId, endStream, block, start, end);
  }

  /** Decoded blocks of one stream. */
  blocks(streamId: number): [string, string][][] {
    return this.decoded.filter((d) => d.streamId === streamId).map((d) => d.fields);
  }

  rsts(): { streamId: number; errorCode: number }[] {
    return this.events.filter((e) => e.kind === 'rst').map((e) => ({ streamId: (e as { streamId: number }).streamId, errorCode: (e as { errorCode: number }).errorCode }));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A raw client: sends the preface and its SETTINGS, ACKs the server's. */
export class RawClient extends RawPeer {
  static async connect(port: number, settings: Setting[] = [], localAddress?: string): Promise<RawClient> {
    const socket = localAddress === undefined ? connect(port, '127.0.0.1') : connect({ port, host: '127.0.0.1', localAddress });
    await once(socket, 'connect');
    const c = new RawClient(socket, 'client');
    socket.write(CLIENT_PREFACE);
    c.writer.settings(settings);
    c.send();
    // Wait for the server's SETTINGS, then ACK them, as a well-behaved client would.
    await c.wait((e) => e.kind === 'settings');
    c.writer.settingsAck();
    c.send();
    return c;
  }

  /** Queues a request HEADERS on `id`. */
  request(id: number, fields: FieldInput[], endStream: boolean): void {
    this.writer.headers(id, this.encoder.encode(fields), endStream);
  }

  static readonly GET: FieldInput[] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'x']];
}

/** A raw server for the client role: it sends nothing, not even its SETTINGS, until the test says. */
export class RawServer extends RawPeer {
  static async listen(): Promise<{ server: Server; port: number; accepted: Promise<RawServer> }> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = new Promise<RawServer>((resolve) => server.once('connection', (socket: Socket) => resolve(new RawServer(socket, 'server'))));
    return { server, port: (server.address() as AddressInfo).port, accepted };
  }

  /** Queues a response HEADERS on `id`. */
  respond(id: number, fields: FieldInput[], endStream: boolean): void {
    this.writer.headers(id, this.encoder.encode(fields), endStream);
  }
}

export { FrameType };
