import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { grpcMessage, missing, routedRecordingBackend, run, type RoutedBackend } from './peers-helpers.js';

/**
 * Issue 11, "real peers through the router": Python's h2 (Debian python3-h2) as the client, for
 * frame sequences node:http2 and grpc-js never produce. h2 checks every frame the router sends back
 * (it raises on a flow-control or state violation), and the recording backend shows what the router
 * passed on. Each scenario ends with a fresh call on the same connection: the connection survives
 * wherever RFC 9113 says it must. The client is test/fixtures/h2peer/client.py.
 */

const PYTHON = '/usr/bin/python3'; // Debian's python: a pyenv `python3` on PATH may lack h2
const CLIENT = fileURLToPath(new URL('../../../test/fixtures/h2peer/client.py', import.meta.url));
const skip = missing(PYTHON, ['-c', 'import h2, hyperframe'], 'Python h2 is not installed (Debian python3-h2)');

interface PyStream {
  headers: Record<string, string> | null;
  data: number;
  body: string | null;
  trailers: Record<string, string> | null;
  reset: number | null;
  ended: boolean;
}
interface PyReport {
  streams: Record<string, PyStream>;
  goaway: { code: number; last: number } | null;
  closed: boolean;
  [fact: string]: unknown;
}

const hex = (s: string) => grpcMessage(Buffer.from(s)).toString('hex');

describe('Python h2 through the router', { skip }, () => {
  let rb: RoutedBackend;
  before(async () => {
    rb = await routedRecordingBackend();
  });
  after(async () => {
    await rb.close();
  });

  /** Runs one scenario; returns its report and the backend requests it caused (all closed). */
  async function scenario(name: string, requests: number): Promise<{ report: PyReport; seen: RoutedBackend['backend']['requests'] }> {
    const from = rb.backend.requests.length;
    const r = await run(PYTHON, [CLIENT, name, String(rb.router.port)]);
    assert.equal(r.code, 0, `client.py ${name} failed:\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as PyReport;
    await rb.backend.closed('', from + requests);
    return { report, seen: rb.backend.requests.slice(from) };
  }

  /** A stream answered OK with the given body echoed. */
  function ok(report: PyReport, sid: unknown, body?: string): void {
    const s = report.streams[String(sid)];
    assert.ok(s, `stream ${String(sid)} in ${JSON.stringify(report)}`);
    assert.equal(s.reset, null, `stream ${String(sid)} reset`);
    assert.equal(s.headers?.[':status'], '200');
    assert.equal(s.trailers?.['grpc-status'], '0', JSON.stringify(s));
    assert.ok(s.ended);
    if (body !== undefined) assert.equal(s.body, body);
  }

  /** The connection carried on: a last call succeeded and the router never sent GOAWAY. */
  function survived(report: PyReport): void {
    ok(report, report['after'], hex('after'));
    assert.equal(report.goaway, null);
    assert.equal(report.closed, false);
  }

  it('a request header block split over HEADERS and CONTINUATION frames arrives whole', async () => {
    const { report, seen } = await scenario('continuation', 2);
    const frames = report['frames'] as string[];
    assert.equal(frames[0], 'HeadersFrame');
    assert.ok(frames.filter((f) => f === 'ContinuationFrame').length >= 8, frames.join());
    ok(report, report['first'], hex('continued'));
    assert.equal(seen[0]!.headers['x-long'], 'c'.repeat(200));
    assert.equal(seen[0]!.headers['x-split'], 'yes');
    assert.equal(seen[0]!.body.toString('hex'), hex('continued'));
    survived(report);
  });

  it('PRIORITY frames (idle, open and closed streams) and HEADERS with priority are advisory only', async () => {
    const { report, seen } = await scenario('priority', 3);
    ok(report, report['first'], hex('prioritised'));
    ok(report, report['second'], hex('second'));
    assert.deepEqual(seen.map((r) => r.body.toString()).map((b) => b.slice(5)), ['prioritised', 'second', 'after']);
    survived(report);
  });

  it('padded HEADERS, DATA (0-255 octets of padding) and trailers on interleaved streams: the backend sees the exact octets', async () => {
    const { report, seen } = await scenario('padding', 7);
    const sids = report['sids'] as number[];
    const sent = report['sent'] as Record<string, string>;
    assert.equal(sids.length, 6);
    for (const [i, sid] of sids.entries()) {
      assert.equal((report['echoed'] as Record<string, boolean>)[String(sid)], true, `stream ${sid} echoed`);
      ok(report, sid);
      const rec = seen.find((r) => r.headers['x-stream'] === String(i));
      assert.ok(rec, `backend saw stream ${i}`);
      assert.equal(rec.body.toString('hex'), sent[String(sid)]);
      assert.equal(rec.trailers?.['x-request-trailer'], `padded-${i}`);
      assert.ok(rec.ended);
    }
    survived(report);
  });

  it('request trailers after a body in several DATA frames reach the backend', async () => {
    const { report, seen } = await scenario('trailers', 2);
    ok(report, report['first'], hex('one') + hex('two'));
    assert.equal(seen[0]!.headers['x-meta'], 'm1');
    assert.equal(seen[0]!.trailers?.['x-request-trailer'], 'tv');
    assert.equal(seen[0]!.trailers?.['x-other-trailer'], 'second');
    const echoed = JSON.parse(report.streams[String(report['first'])]!.trailers!['x-request-trailers']!) as Record<string, string>;
    assert.equal(echoed['x-request-trailer'], 'tv');
    survived(report);
  });

  it('a slow reader (1 KiB window, WINDOW_UPDATE per window read): the router fills the window exactly, stops, and resumes to the end', async () => {
    const { report } = await scenario('slow-reader', 2);
    const window = report['window'] as number;
    assert.equal(report['stalledAt'], window, 'the router sent exactly one window before any WINDOW_UPDATE');
    const size = report['size'] as number;
    const message = 5 + 16 * 1024;
    assert.equal(report['total'], Math.ceil(size / message) * message);
    assert.ok((report['updates'] as number) >= Math.floor(size / window) - 1, `updates ${String(report['updates'])}`);
    ok(report, report['first']);
    survived(report);
  });

  it('RST_STREAM mid-request cancels the backend stream; a late DATA frame and an immediate open+reset leave the connection usable', async () => {
    const from = rb.backend.requests.length;
    const r = await run(PYTHON, [CLIENT, 'rst-mid-request', String(rb.router.port)]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as PyReport;
    survived(report);
    // The held call was reset by the client with CANCEL: the router cancels it upstream.
    const [held] = await rb.backend.closed('/Hold');
    assert.equal(held!.rstCode, 8, 'CANCEL upstream');
    assert.equal(held!.body.toString('hex'), hex('partial'));
    // The open-and-reset stream, if it reached the backend at all, was cancelled there too.
    await rb.backend.closed('', rb.backend.requests.length);
    for (const rec of rb.backend.requests.slice(from).filter((x) => x.path.endsWith('/Hold'))) assert.equal(rec.rstCode, 8);
  });
});
