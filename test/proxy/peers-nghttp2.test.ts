import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRouter, type Harness } from '../router/setup.js';
import { startTestServer, type TestServer } from '../fixtures/grpc/test-service.js';
import { grpcMessage, missing, routedRecordingBackend, run, SERVICE, type RoutedBackend } from './peers-helpers.js';

/**
 * Issue 11, "real peers through the router": nghttp2's command-line peers (Debian nghttp2-client)
 * as clients of the router, with real backends behind it. h2load drives many gRPC-shaped POSTs over
 * several connections and streams; nghttp sends what it alone sends by default (PRIORITY frames on
 * idle streams 3-11 before opening stream 13, `content-length`, request trailers, padding) and shows
 * every frame it receives. Bounded in count and time; 127.0.0.1 only.
 */

const noH2load = missing('h2load', ['--version'], 'h2load is not installed (Debian nghttp2-client)');
const noNghttp = missing('nghttp', ['--version'], 'nghttp is not installed (Debian nghttp2-client)');

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kgr-peers-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** The protobuf encoding of `kgr.test.Req { message: text }` (field 1, length-delimited). */
function reqMessage(text: string): Buffer {
  const s = Buffer.from(text);
  return grpcMessage(Buffer.concat([Buffer.from([0x0a, s.length]), s]));
}

interface H2loadSummary {
  total: number;
  started: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
}

function parseH2load(out: string): H2loadSummary {
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const st = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  assert.ok(req && st, `unexpected h2load output:\n${out}`);
  const [total, started, done, succeeded, failed, errored, timeout] = req.slice(1).map(Number) as [number, number, number, number, number, number, number];
  const [s2, s3, s4, s5] = st.slice(1).map(Number) as [number, number, number, number];
  return { total, started, done, succeeded, failed, errored, timeout, status: { '2xx': s2, '3xx': s3, '4xx': s4, '5xx': s5 } };
}

describe('h2load through the router', { skip: noH2load }, () => {
  let backend: TestServer;
  let router: Harness;
  before(async () => {
    backend = await startTestServer();
    router = await startRouter(`/svc/${SERVICE} => /#/test/backend`);
    router.namer.serve('backend', [backend.port]);
  });
  after(async () => {
    await router.close();
    await backend.close();
  });

  it('600 unary gRPC calls over 4 connections x 16 streams to a grpc-js backend: every one succeeds', async () => {
    const n = 600;
    const body = file('unary.bin', reqMessage('from h2load'));
    const r = await run('h2load', [
      '-n', String(n), '-c', '4', '-m', '16', '-d', body,
      '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-H', 'grpc-timeout: 10S',
      `http://${router.target}/${SERVICE}/Unary`,
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const s = parseH2load(r.stdout);
    assert.deepEqual(s, { total: n, started: n, done: n, succeeded: n, failed: 0, errored: 0, timeout: 0, status: { '2xx': n, '3xx': 0, '4xx': 0, '5xx': 0 } }, r.stdout);
    // The backend handled each call (a 200 alone could be a router error in trailers).
    assert.equal(backend.calls['Unary'], n);
  });
});

describe('h2load with large bodies through the router', { skip: noH2load }, () => {
  let rb: RoutedBackend;
  before(async () => {
    rb = await routedRecordingBackend();
  });
  after(async () => {
    await rb.close();
  });

  it('200 echo calls of 100 KiB each (beyond the initial 64 KiB windows) over 2 connections x 8 streams: every octet arrives', async () => {
    const n = 200;
    const payload = Buffer.alloc(100 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
    const body = grpcMessage(payload);
    const r = await run('h2load', [
      '-n', String(n), '-c', '2', '-m', '8', '-d', file('big.bin', body),
      '-H', 'content-type: application/grpc', '-H', 'te: trailers',
      `http://${rb.router.target}/${SERVICE}/Echo`,
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const s = parseH2load(r.stdout);
    assert.equal(s.succeeded, n, r.stdout);
    assert.equal(s.status['2xx'], n, r.stdout);
    const seen = await rb.backend.closed('/Echo', n);
    assert.equal(seen.length, n);
    for (const rec of seen) {
      assert.ok(rec.ended);
      assert.ok(rec.body.equals(body), `a body of ${rec.body.length} octets differs`);
    }
  });
});

describe('nghttp through the router', { skip: noNghttp }, () => {
  let rb: RoutedBackend;
  before(async () => {
    rb = await routedRecordingBackend();
  });
  after(async () => {
    await rb.close();
  });

  /** nghttp -v: a POST of `body` to Echo; returns its verbose frame log. */
  async function nghttp(body: Buffer, extra: string[]): Promise<string> {
    const r = await run('nghttp', [
      '-v', '-d', file(`body-${rb.backend.requests.length}.bin`, body),
      '-H', ':method: POST', '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-H', 'x-from: nghttp',
      ...extra,
      `http://${rb.router.target}/${SERVICE}/Echo`,
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    return r.stdout;
  }

  it('a request with a body and trailers, after PRIORITY frames on idle streams: the backend sees body and trailers, nghttp gets grpc-status 0', async () => {
    const body = Buffer.concat([grpcMessage(Buffer.from('first')), grpcMessage(Buffer.from('second'))]);
    const out = await nghttp(body, ['--trailer', 'x-request-trailer: tv', '--trailer', 'x-count: 2']);
    // nghttp's default dependency tree: PRIORITY on idle streams 3..11, the request on 13.
    assert.match(out, /send PRIORITY frame <length=5, flags=0x00, stream_id=3>/);
    assert.match(out, /send HEADERS frame <[^>]*stream_id=13>/);
    assert.match(out, /recv \(stream_id=13\) :status: 200/);
    assert.match(out, /recv \(stream_id=13\) grpc-status: 0/);
    assert.match(out, new RegExp(`recv \\(stream_id=13\\) x-body-bytes: ${body.length}`));
    assert.doesNotMatch(out, /RST_STREAM|recv GOAWAY/);
    const [rec] = await rb.backend.closed('/Echo');
    assert.ok(rec!.body.equals(body));
    assert.equal(rec!.headers['x-from'], 'nghttp');
    assert.equal(rec!.trailers?.['x-request-trailer'], 'tv');
    assert.equal(rec!.trailers?.['x-count'], '2');
    assert.ok(rec!.ended);
  });

  it('padded HEADERS, DATA and trailers (--padding 255), with a 1.25 MiB body, beyond the router\'s 1 MiB windows: delivered exactly', async () => {
    const payload = Buffer.alloc(1280 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 13) & 0xff;
    const body = grpcMessage(payload);
    const before = rb.backend.requests.length;
    const out = await nghttp(body, ['--padding', '255', '--trailer', 'x-request-trailer: padded']);
    assert.match(out, /send HEADERS frame <[^>]*flags=0x2c, stream_id=13>\s+; END_HEADERS \| PADDED \| PRIORITY/);
    assert.match(out, /send DATA frame <[^>]*stream_id=13>\s+; PADDED/);
    assert.match(out, /recv WINDOW_UPDATE frame <length=4, flags=0x00, stream_id=13>/);
    assert.match(out, /recv \(stream_id=13\) grpc-status: 0/);
    assert.match(out, new RegExp(`recv \\(stream_id=13\\) x-body-bytes: ${body.length}`));
    const seen = await rb.backend.closed('/Echo', before + 1);
    const rec = seen.at(-1)!;
    assert.ok(rec.body.equals(body), `got ${rec.body.length} octets`);
    assert.equal(rec.trailers?.['x-request-trailer'], 'padded');
  });

  it('several requests multiplexed on one connection (-m 8), padded: all answered', async () => {
    const body = grpcMessage(Buffer.from('multiplexed'));
    const before = rb.backend.requests.length;
    const out = await nghttp(body, ['-m', '8', '--padding', '17']);
    const ok = out.match(/recv \(stream_id=\d+\) grpc-status: 0/g) ?? [];
    assert.equal(ok.length, 8, out);
    const seen = await rb.backend.closed('/Echo', before + 8);
    assert.equal(seen.length, before + 8);
    for (const rec of seen.slice(before)) assert.ok(rec.body.equals(body));
  });
});
