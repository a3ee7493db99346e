// A real peer: Node's own HTTP/2 client (nghttp2 underneath, an implementation
// independent of ours) talks over TCP on 127.0.0.1 to a tiny server made only of
// FrameReader and FrameWriter. The server checks the preface, sends SETTINGS,
// ACKs the client's SETTINGS, answers PINGs and GOAWAY, and replies to each
// request with `:status 200` (HPACK static index 8, the one-octet block 0x88, so
// no HPACK encoder is needed) and a DATA frame. The client's header blocks stay
// opaque bytes: HPACK decoding is another module.
// If the `nghttp` CLI (also nghttp2, but a different client) is installed, it is
// used too, since it sends PRIORITY frames and HEADERS with priority fields.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import http2 from 'node:http2';
import {
  ErrorCode, FrameReader, FrameType, FrameWriter, SettingId, type H2ConnectionError,
} from '../../src/h2/frames.js';
import { Recorder, type Event } from './frames-helpers.js';

/** Records like Recorder and answers like a minimal server. */
class TinyServer extends Recorder {
  readonly reader: FrameReader;
  readonly writer = new FrameWriter();
  constructor(private readonly socket: Socket) {
    super();
    this.reader = new FrameReader(this);
    // Our connection preface: a SETTINGS frame (§3.4).
    this.writer.settings([{ id: SettingId.MAX_CONCURRENT_STREAMS, value: 100 }, { id: SettingId.ENABLE_PUSH, value: 0 }]);
    this.flush();
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.flush();
    });
  }
  flush(): void {
    const out = this.writer.flush();
    if (out.length === 0 || !this.socket.writable) return;
    this.socket.cork();
    for (const b of out) this.socket.write(b);
    this.socket.uncork();
  }
  override onSettings(settings: { id: number; value: number }[]): void {
    super.onSettings(settings);
    this.writer.settingsAck();
  }
  override onPing(ack: boolean, opaque: Buffer): void {
    super.onPing(ack, opaque);
    if (!ack) this.writer.ping(opaque, true);
  }
  override onData(streamId: number, endStream: boolean, data: Buffer, flowControlLength: number): void {
    super.onData(streamId, endStream, data, flowControlLength);
    if (endStream) this.respond(streamId);
  }
  override onHeaders(streamId: number, endStream: boolean, block: Buffer, start: number, end: number): void {
    super.onHeaders(streamId, endStream, block, start, end);
    if (endStream) this.respond(streamId);
  }
  override onGoaway(lastStreamId: number, errorCode: number, debugData: Buffer): void {
    super.onGoaway(lastStreamId, errorCode, debugData);
    this.writer.goaway(this.lastStream, ErrorCode.NO_ERROR);
    this.flush();
    this.socket.end();
  }
  override onConnectionError(error: H2ConnectionError): void {
    super.onConnectionError(error);
    this.writer.goaway(this.lastStream, error.code, error.message);
    this.flush();
    this.socket.end();
  }
  private lastStream = 0;
  private respond(streamId: number): void {
    this.lastStream = Math.max(this.lastStream, streamId);
    this.writer.headers(streamId, Buffer.from([0x88]), false); // :status: 200
    this.writer.data(streamId, Buffer.from('ok'), true);
  }
}

async function withServer<T>(body: (port: number, servers: TinyServer[]) => Promise<T>): Promise<T> {
  const servers: TinyServer[] = [];
  const server: Server = createServer((socket) => { servers.push(new TinyServer(socket)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await body((server.address() as AddressInfo).port, servers);
  } finally {
    for (const s of servers) (s as unknown as { socket: Socket }).socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const summary = (events: Event[]): string[] =>
  events.map((e) => {
    switch (e.kind) {
      case 'data': return `DATA s${e.streamId} ${Buffer.from(e.data, 'hex').toString()}${e.endStream ? ' END_STREAM' : ''}`;
      case 'headers': return `HEADERS s${e.streamId}${e.endStream ? ' END_STREAM' : ''}`;
      case 'window-update': return `WINDOW_UPDATE s${e.streamId}`;
      case 'settings': return 'SETTINGS';
      case 'settings-ack': return 'SETTINGS ACK';
      case 'ping': return `PING${e.ack ? ' ACK' : ''}`;
      case 'goaway': return `GOAWAY ${e.lastStreamId}`;
      case 'priority': return `PRIORITY s${e.streamId}`;
      default: return e.kind;
    }
  });

describe('real peer: node:http2 client', () => {
  it('request, ping and close against a server built from the codec', async () => {
    await withServer(async (port, servers) => {
      const session = http2.connect(`http://127.0.0.1:${port}`, {
        settings: { enablePush: false, initialWindowSize: 100_000, maxFrameSize: 32_768 },
      });
      session.on('error', () => {});
      // Grow the connection receive window: node sends WINDOW_UPDATE on stream 0 (§6.9).
      session.on('connect', () => session.setLocalWindowSize(1 << 20));
      const response = await new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/echo', 'content-type': 'text/plain' });
        let body = '';
        let status: number | undefined;
        req.on('response', (h) => { status = h[':status']; });
        req.setEncoding('utf8');
        req.on('data', (d: string) => { body += d; });
        req.on('end', () => resolve({ status, body }));
        req.on('error', reject);
        req.end('hi');
      });
      assert.deepEqual(response, { status: 200, body: 'ok' });

      // session.ping() resolves only when our writer's PING ACK echoes its payload.
      const payload = Buffer.from('h2-codec');
      const pong = await new Promise<Buffer>((resolve, reject) =>
        session.ping(payload, (err, _ms, p) => (err ? reject(err) : resolve(p))));
      assert.deepEqual(pong, payload);

      await new Promise<void>((resolve) => session.close(resolve));

      assert.equal(servers.length, 1);
      const s = servers[0]!;
      assert.deepEqual(s.connectionErrors.map((e) => e.message), []);
      assert.deepEqual(s.streamErrors.map((e) => e.message), []);
      const seen = summary(s.events);
      // What nghttp2 under node:http2 sends: SETTINGS first (§3.4), a connection
      // WINDOW_UPDATE, the ACK of our SETTINGS, HEADERS with END_HEADERS (the reader
      // only delivers complete blocks), the body, the PING, and GOAWAY on close.
      assert.equal(seen[0], 'SETTINGS');
      assert.ok(s.events.some((e) => e.kind === 'window-update' && e.streamId === 0 && e.increment === (1 << 20) - 65_535), seen.join(', '));
      assert.ok(seen.includes('SETTINGS ACK'), seen.join(', '));
      const headers = s.events.find((e) => e.kind === 'headers');
      assert.ok(headers && headers.kind === 'headers' && headers.streamId === 1 && !headers.endStream && headers.block.length > 0);
      const data = s.events.filter((e): e is Extract<Event, { kind: 'data' }> => e.kind === 'data' && e.streamId === 1);
      assert.equal(data.map((d) => Buffer.from(d.data, 'hex').toString()).join(''), 'hi');
      assert.equal(data.at(-1)!.endStream, true);
      assert.ok(seen.includes('PING'));
      assert.equal(seen.at(-1), 'GOAWAY 0');
      const settings = s.events[0]!;
      assert.ok(settings.kind === 'settings');
      // The values passed to http2.connect, as the reader parsed them (order is nghttp2's).
      assert.deepEqual([...settings.settings].sort((a, b) => a.id - b.id), [
        { id: SettingId.ENABLE_PUSH, value: 0 },
        { id: SettingId.INITIAL_WINDOW_SIZE, value: 100_000 },
        { id: SettingId.MAX_FRAME_SIZE, value: 32_768 },
      ]);
    });
  });

  it('a bad frame from a raw TCP peer gets GOAWAY(PROTOCOL_ERROR) naming the rule', async () => {
    // Sanity of the error path towards a real peer: a raw socket sends the preface,
    // SETTINGS, then a PING on stream 1; the server answers GOAWAY(PROTOCOL_ERROR).
    await withServer(async (port, servers) => {
      const { connect } = await import('node:net');
      const sock = connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
      const w = new FrameWriter();
      w.settings([]);
      const frames = Buffer.concat(w.flush());
      const badPing = Buffer.alloc(17);
      badPing.writeUIntBE(8, 0, 3); badPing[3] = FrameType.PING; badPing.writeUInt32BE(1, 5);
      sock.end(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frames, badPing]));
      await closed;
      const rec = new Recorder();
      new FrameReader(rec, { role: 'client' }).push(Buffer.concat(chunks));
      const goaway = rec.events.find((e) => e.kind === 'goaway');
      assert.ok(goaway && goaway.kind === 'goaway');
      assert.equal(goaway.errorCode, ErrorCode.PROTOCOL_ERROR);
      assert.match(Buffer.from(goaway.debug, 'hex').toString(), /PING frame on stream 1, must be stream 0 \(RFC 9113 §6\.7\)/);
      assert.equal(servers[0]!.connectionErrors[0]?.reason, 'bad-stream-id');
    });
  });
});

const nghttp = await new Promise<boolean>((resolve) => execFile('nghttp', ['--version'], (err) => resolve(!err)));

describe('real peer: nghttp CLI', { skip: nghttp ? false : 'nghttp not installed' }, () => {
  it('GET with PRIORITY frames and priority-flagged HEADERS', async () => {
    await withServer(async (port, servers) => {
      const out = await new Promise<string>((resolve, reject) =>
        execFile('nghttp', ['-v', '-n', `http://127.0.0.1:${port}/`], { timeout: 5000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))));
      assert.match(out, /recv HEADERS frame/);
      assert.match(out, /:status: 200/);
      const s = servers[0]!;
      assert.deepEqual(s.connectionErrors.map((e) => e.message), []);
      const seen = summary(s.events);
      assert.equal(seen[0], 'SETTINGS');
      // nghttp opens its dependency tree with PRIORITY frames (streams 3..11), then
      // sends HEADERS with the PRIORITY flag on stream 13, whose fields are skipped.
      assert.ok(seen.filter((x) => x.startsWith('PRIORITY')).length >= 1, seen.join(', '));
      assert.ok(seen.includes('HEADERS s13 END_STREAM'), seen.join(', '));
    });
  });
});
