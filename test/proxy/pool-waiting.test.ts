import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { SessionPool, type UpstreamEvents } from '../../src/proxy/upstream.js';
import { ErrorCode } from '../../src/h2/constants.js';
import type { H2Stream } from '../../src/h2/stream.js';
import { CLIENT_DEFAULTS } from './harness.js';
import { answerOk } from '../fixtures/grpc/raw-backend.js';
import { eventually } from '../support/eventually.js';

/**
 * The pool's count of waiting streams lets a stream's close skip looking for one to move when none
 * waits; one that reached 0 while a stream waited would strand it. So it follows every way out of
 * waiting: sent, moved to another connection, reset by its owner (a deadline, a cancel), refused
 * by a GOAWAY, lost with its connection.
 */
test('the pool counts its waiting streams exactly, through every way a stream stops waiting', async () => {
  // One stream per connection, held until answered, by the name its request gave (x-call).
  const endpoint = http2.createServer({ settings: { maxConcurrentStreams: 1 } });
  const held = new Map<string, http2.ServerHttp2Stream>();
  /** The connection each call came on (a stream forgets it once it ends). */
  const sessionOf = new Map<string, http2.Http2Session>();
  endpoint.on('stream', (s, headers) => {
    s.on('error', () => {});
    held.set(String(headers['x-call']), s);
    sessionOf.set(String(headers['x-call']), s.session!);
  });
  await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
  const pool = new SessionPool('127.0.0.1', (endpoint.address() as net.AddressInfo).port, {
    connectTimeoutMs: CLIENT_DEFAULTS.connectTimeoutMs,
    keepAliveIntervalMs: 0,
    keepAliveTimeoutMs: CLIENT_DEFAULTS.keepAliveTimeoutMs,
    maxConnections: 2,
  });
  const streams = new Map<string, H2Stream>();
  const closed = new Set<string>();
  const open = (name: string): void => {
    const owner: UpstreamEvents = {
      onUpHeaders: () => {},
      onUpData: (s, data) => s.consumed(data.length),
      onUpReset: () => {},
      onUpDrain: () => {},
      onUpClose: () => closed.add(name),
    };
    const fields = [[':method', 'POST'], [':scheme', 'http'], [':path', '/t.Svc/Hold'], [':authority', 'endpoint'], ['content-type', 'application/grpc'], ['te', 'trailers'], ['x-call', name]] as const;
    const stream = pool.request(fields, false, owner);
    stream.write(Buffer.alloc(5), true);
    streams.set(name, stream);
  };
  /** The count is what the streams say, and `n`. */
  const waiting = (n: number, when: string): void => {
    const seen = [...streams.values()].filter((s) => s.waiting).length;
    assert.equal(seen, n, `streams waiting ${when}`);
    assert.equal(pool.waiting.streams, n, `the pool's count ${when}`);
  };
  const answered = async (name: string) => {
    answerOk(held.get(name)!);
    await eventually(`${name} closed`, () => closed.has(name), 10_000);
  };
  try {
    // The pool learns the endpoint's limit of one stream.
    open('warm');
    await eventually('warm reached the endpoint', () => held.has('warm'), 10_000);
    await answered('warm');
    // a and b take both connections (b's before its SETTINGS); c, d and e wait, c and e on a's.
    open('a');
    open('b');
    for (const name of ['c', 'd', 'e']) open(name);
    waiting(3, 'at maxConnections');
    streams.get('e')!.reset(ErrorCode.CANCEL);
    waiting(2, 'after its owner reset one');
    await eventually('a and b reached the endpoint', () => held.has('a') && held.has('b'), 10_000);
    await answered('b');
    await eventually('d, which waited on b\'s connection, reached the endpoint', () => held.has('d'), 10_000);
    waiting(1, 'after one was sent');
    await answered('d');
    await eventually('c, moved from a\'s connection, reached the endpoint', () => held.has('c'), 10_000);
    waiting(0, 'after one was moved and sent');
    assert.equal(sessionOf.get('c'), sessionOf.get('d'), 'c went out on b\'s connection');

    // f waits on a's connection, g on c's.
    open('f');
    open('g');
    waiting(2, 'again');
    sessionOf.get('a')!.goaway(http2.constants.NGHTTP2_NO_ERROR, held.get('a')!.id!);
    await eventually('f refused by the GOAWAY', () => closed.has('f'), 10_000);
    waiting(1, 'after a GOAWAY refused one');
    sessionOf.get('c')!.destroy();
    await eventually('g refused with its connection', () => closed.has('g'), 10_000);
    waiting(0, 'after its connection closed');
  } finally {
    pool.destroy(); // not the connection drained by the GOAWAY, which a still holds
    for (const s of sessionOf.values()) s.destroy();
    endpoint.close();
  }
});
