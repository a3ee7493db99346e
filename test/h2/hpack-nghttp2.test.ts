// Interop with an independent HPACK implementation: node:http2's nghttp2. Its encoder's
// blocks go through our decoder, and our encoder's blocks through its decoder, over
// loopback with hand-made frames (only what RFC 9113 §3.4/§4.1/§6.2 need; no frame codec).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { FIELD_NEVER_INDEXED, HeaderList, HpackDecoder, HpackEncoder, type FieldInput } from '../../src/h2/hpack/index.js';
import { CLIENT_PREFACE } from '../../src/h2/frames.js';
import { rawFrame as frame } from './frames-helpers.js';

const PREFACE = CLIENT_PREFACE;


/** Requests varied enough to use every table path: repeats, new values, long and binary-ish values. */
function requests(): { headers: Record<string, string>; sensitive: string[] }[] {
  const out: { headers: Record<string, string>; sensitive: string[] }[] = [];
  for (let i = 0; i < 30; i++) {
    out.push({
      headers: {
        ':method': 'POST',
        ':scheme': 'http',
        ':authority': `svc-${i % 3}.default.svc.cluster.local:8080`,
        ':path': `/pkg.Service/Method${i % 4}`,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': `${100 + i}m`,
        'x-request-id': `req-${i}-${'z'.repeat(i * 7)}`,
        ...(i % 5 === 0 ? { 'x-big': 'Q'.repeat(3000 + i) } : {}),
        authorization: `Bearer token-${i % 2}`,
      },
      sensitive: ['authorization'],
    });
  }
  return out;
}

test('nghttp2 encoder -> our decoder: every request decodes to what was sent, never-indexed where it was sensitive', async () => {
  const reqs = requests();
  const blocks: Buffer[] = [];
  let done!: () => void;
  const allIn = new Promise<void>((r) => (done = r));
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    let block: Buffer[] = [];
    sock.write(frame(0x4, 0, 0, Buffer.alloc(0))); // our SETTINGS
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!prefaceSeen) {
        if (buf.length < PREFACE.length) return;
        assert.deepEqual(buf.subarray(0, PREFACE.length), PREFACE);
        buf = buf.subarray(PREFACE.length);
        prefaceSeen = true;
      }
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3]!;
        const flags = buf[4]!;
        let payload = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === 0x4 && (flags & 0x1) === 0) sock.write(frame(0x4, 0x1, 0, Buffer.alloc(0))); // ack SETTINGS
        if (type === 0x1) {
          if (flags & 0x8) payload = payload.subarray(1, payload.length - payload[0]!); // PADDED
          if (flags & 0x20) payload = payload.subarray(5); // PRIORITY
        }
        if (type === 0x1 || type === 0x9) {
          block.push(payload);
          if (flags & 0x4) {
            blocks.push(Buffer.concat(block));
            block = [];
            if (blocks.length === reqs.length) done();
          }
        }
      }
    });
    sock.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  for (const r of reqs) {
    const s = client.request({ ...r.headers, [http2.sensitiveHeaders]: r.sensitive }, { endStream: true });
    s.on('error', () => {});
  }
  await allIn;
  client.destroy();
  server.close();

  const dec = new HpackDecoder({ maxHeaderListSize: Infinity });
  const list = new HeaderList();
  blocks.forEach((b, i) => {
    list.reset();
    dec.decode(b, list);
    const got: Record<string, string> = {};
    for (let j = 0; j < list.length; j++) got[list.names[j]!] = list.values[j]!;
    assert.deepEqual(got, reqs[i]!.headers, `request ${i}`);
    const never = list.names.slice(0, list.length).filter((_, j) => list.flags[j]! & FIELD_NEVER_INDEXED);
    assert.deepEqual(never, ['authorization'], `request ${i} never-indexed`);
  });
});

test('our encoder -> nghttp2 decoder: every request arrives as sent, sensitive fields flagged, table size updates accepted', async () => {
  const reqs = requests();
  const server = http2.createServer();
  const seen: { headers: Record<string, string>; sensitive: string[] }[] = [];
  let done!: () => void;
  const allIn = new Promise<void>((r) => (done = r));
  server.on('stream', (stream, headers) => {
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') h[k] = v;
    const sensitive = (headers as unknown as Record<symbol, string[] | undefined>)[http2.sensitiveHeaders] ?? [];
    seen.push({ headers: h, sensitive: [...sensitive] });
    stream.respond({ ':status': 200 }, { endStream: true });
    if (seen.length === reqs.length) done();
  });
  server.on('sessionError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const sock = net.connect(port, '127.0.0.1');
  sock.on('data', () => {});
  sock.on('error', () => {});
  await once(sock, 'connect');
  sock.write(Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))]));

  const enc = new HpackEncoder();
  reqs.forEach((r, i) => {
    // Midway, shrink our own table (a size update nghttp2 must honour) and grow it back.
    if (i === 10) enc.setMaxTableSize(512);
    if (i === 20) enc.setMaxTableSize(4096);
    const fields: FieldInput[] = Object.entries(r.headers).map(([n, v]) => [n, v, r.sensitive.includes(n) ? FIELD_NEVER_INDEXED : 0]);
    const block = enc.encode(fields);
    // Split every block across HEADERS + CONTINUATION to mirror what a peer may send.
    const cut = block.length >> 1;
    sock.write(frame(0x1, 0x1, 2 * i + 1, block.subarray(0, cut)));
    sock.write(frame(0x9, 0x4, 2 * i + 1, block.subarray(cut)));
  });
  await allIn;
  sock.destroy();
  server.close();
  seen.forEach((s, i) => {
    assert.deepEqual(s.headers, reqs[i]!.headers, `request ${i}`);
    assert.deepEqual(s.sensitive, ['authorization'], `request ${i} sensitive`);
  });
});
