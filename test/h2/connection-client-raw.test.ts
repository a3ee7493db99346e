// The client role against a raw server that decides when its SETTINGS go out: requests past
// `streamsBeforeSettings` wait for them, go out in order as the server's stream limit allows, and
// are refused (never sent, so retryable) when the connection cannot send them. Each step waits for
// a frame: a PING from the client marks that everything it wrote before has arrived.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { H2Connection } from '../../src/h2/connection.js';
import { ErrorCode, SettingId } from '../../src/h2/frames.js';
import type { H2Stream } from '../../src/h2/stream.js';
import type { RequestFields } from '../../src/h2/connection.js';
import { RawServer, TestHandler } from './connection-helpers.js';

const REQ = (path: string) => [[':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'test']] as [string, string][];

async function setup(streamsBeforeSettings: number) {
  const { server, port, accepted } = await RawServer.listen();
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const h = new TestHandler();
  const conn = new H2Connection(socket, h, { role: 'client', streamsBeforeSettings });
  const peer = await accepted;
  let pings = 0;
  /** Everything the client wrote so far has reached the peer. */
  const sync = async (): Promise<void> => {
    const n = ++pings;
    conn.ping(Buffer.from(`sync${String(n).padStart(4, '0')}`));
    await peer.wait((e) => e.kind === 'ping' && !e.ack && Buffer.from(e.opaque, 'hex').toString() === `sync${String(n).padStart(4, '0')}`);
  };
  /** The peer sends SETTINGS and waits until the client has ACKed them and sent what they released. */
  const settings = async (list: { id: number; value: number }[]): Promise<void> => {
    const acks = peer.events.filter((e) => e.kind === 'settings-ack').length;
    peer.writer.settings(list);
    peer.send();
    await peer.wait((e) => e.kind === 'settings-ack' && peer.events.filter((x) => x.kind === 'settings-ack').length > acks);
    await sync();
  };
  const requests = () => peer.decoded.filter((d) => d.fields.some(([n]) => n === ':path')).map((d) => ({ id: d.streamId, path: d.fields.find(([n]) => n === ':path')![1], end: d.endStream }));
  const close = () => { conn.destroy(); peer.close(); server.close(); };
  return { conn, h, peer, sync, settings, requests, close };
}

describe('H2Connection client role, streams waiting for the peer\'s SETTINGS', () => {
  it('past streamsBeforeSettings requests wait and go out in order with their DATA and trailers; the SETTINGS refuse what their limit does not allow; a reset one never reaches the wire', async () => {
    const { conn, h, peer, sync, settings, requests, close } = await setup(3);
    try {
      const streams: H2Stream[] = [];
      for (let i = 0; i < 8; i++) streams.push(conn.request(REQ(`/r${i}`), i < 3 || i === 4)!);
      assert.ok(streams.every((s) => s !== null), 'every request is accepted before SETTINGS');
      assert.equal(conn.waitingStreams, 5);
      assert.ok(streams[3]!.unsent && !streams[0]!.unsent);
      streams[3]!.write(Buffer.from('body-3'), true); // DATA queued behind waiting HEADERS
      streams[5]!.reset(ErrorCode.CANCEL);            // the owner gives up on a waiting stream
      streams[6]!.write(Buffer.from('body-6'), false);
      streams[6]!.sendHeaders([['x-trailer', 'six']], true);
      await h.wait((e) => e.kind === 'close-stream' && e.id === 0);
      await sync();
      assert.deepEqual(requests(), [{ id: 1, path: '/r0', end: true }, { id: 3, path: '/r1', end: true }, { id: 5, path: '/r2', end: true }]);

      // Before any SETTINGS (the server's first frame must be SETTINGS, so it cannot answer yet), a
      // stream that ends lets the next waiting one go.
      streams[2]!.reset(ErrorCode.CANCEL);
      await sync();
      assert.deepEqual(requests().slice(3), [{ id: 7, path: '/r3', end: false }]);
      const data7 = peer.events.filter((e) => e.kind === 'data' && e.streamId === 7);
      assert.deepEqual(data7.map((e) => e.kind === 'data' && [Buffer.from(e.data, 'hex').toString(), e.endStream]), [['body-3', true]]);

      // The server's SETTINGS allow 5 (3 are open): two more go, with the next ids; the last one
      // is refused as never sent, for its owner to place elsewhere.
      await settings([{ id: SettingId.MAX_CONCURRENT_STREAMS, value: 5 }]);
      assert.deepEqual(requests().slice(4), [{ id: 9, path: '/r4', end: true }, { id: 11, path: '/r6', end: false }]);
      assert.deepEqual(peer.blocks(11)[1], [['x-trailer', 'six']]);
      assert.ok(peer.decoded.find((d) => d.streamId === 11 && d.fields[0]![0] === 'x-trailer')!.endStream);
      assert.deepEqual(h.events.filter((e) => e.kind === 'reset'), [{ kind: 'reset', id: 0, code: ErrorCode.REFUSED_STREAM, refused: true }]);
      assert.ok(streams[7]!.closed && streams[7]!.unsent);
      assert.equal(conn.waitingStreams, 0);
      assert.equal(conn.request(REQ('/late'), true), null, 'at the stated limit: no new stream here');

      assert.deepEqual(peer.rsts(), [{ streamId: 5, errorCode: ErrorCode.CANCEL }], 'no RST_STREAM for the reset and refused streams that never had an id');
      assert.equal(peer.events.filter((e) => e.kind === 'goaway').length, 0, 'no connection error at the peer');
    } finally {
      close();
    }
  });

  it('closing the connection (the endpoint is drained) before SETTINGS refuses the waiting streams as never sent', async () => {
    const { conn, h, sync, close } = await setup(1);
    try {
      for (let i = 0; i < 3; i++) conn.request(REQ(`/r${i}`), true);
      await sync();
      conn.close();
      const resets = h.events.filter((e) => e.kind === 'reset');
      assert.deepEqual(resets, [0, 0].map(() => ({ kind: 'reset', id: 0, code: ErrorCode.REFUSED_STREAM, refused: true })));
      assert.equal(conn.waitingStreams, 0);
      assert.equal(conn.activeStreams, 1, 'the stream that went out finishes');
      assert.equal(conn.request(REQ('/late'), true), null, 'no new streams after our GOAWAY');
    } finally {
      close();
    }
  });

  it('a connection lost before SETTINGS refuses its waiting streams as never sent; the sent ones are not', async () => {
    const { conn, h, peer, sync, close } = await setup(2);
    try {
      for (let i = 0; i < 5; i++) conn.request(REQ(`/r${i}`), true);
      await sync();
      peer.close();
      await h.wait((e) => e.kind === 'close');
      const resets = h.events.filter((e) => e.kind === 'reset');
      assert.equal(resets.length, 5);
      assert.equal(resets.filter((e) => e.kind === 'reset' && e.refused).length, 3);
      assert.deepEqual(resets.filter((e) => e.kind === 'reset' && !e.refused).map((e) => e.kind === 'reset' && e.id).sort(), [1, 3]);
    } finally {
      close();
    }
  });

  it('SETTINGS with a larger limit send every waiting request at once; ids stay in request order', async () => {
    const { conn, peer, settings, requests, close } = await setup(100);
    try {
      for (let i = 0; i < 1000; i++) conn.request(REQ(`/r${i}`), true);
      assert.equal(conn.waitingStreams, 900);
      await settings([]); // no limit stated: unlimited (RFC 9113 §6.5.2)
      const got = requests();
      assert.equal(got.length, 1000);
      got.forEach((r, i) => assert.deepEqual(r, { id: 2 * i + 1, path: `/r${i}`, end: true }));
      assert.equal(conn.waitingStreams, 0);
      assert.equal(peer.events.filter((e) => e.kind === 'goaway' || e.kind === 'rst').length, 0);
    } finally {
      close();
    }
  });

  it('a request whose field block cannot be encoded ends the connection, and every stream hears of it: sent, waiting, or asked for after', async () => {
    const { conn, h, peer, close } = await setup(1);
    const unencodable: RequestFields = { requestFields: () => { throw new Error('no such field'); } };
    try {
      const sent = conn.request(REQ('/sent'), false)!;
      const bad = conn.request(unencodable, true)!;
      const after = conn.request(REQ('/after'), true)!;
      assert.equal(conn.waitingStreams, 2);
      // The SETTINGS send the waiting ones in order: the bad one fails the connection (its HPACK
      // table would be out of step), and the stream behind it is refused as never sent.
      peer.writer.settings([]);
      peer.send();
      await h.wait((e) => e.kind === 'close');
      assert.ok([sent, bad, after].every((s) => s.closed), 'no stream is left waiting for an event that never comes');
      assert.equal(conn.waitingStreams, 0);
      assert.deepEqual(h.events.filter((e) => e.kind === 'reset').map((e) => e.kind === 'reset' && [e.id, e.refused]), [[1, false], [3, false], [0, true]]);
      assert.match((h.events.find((e) => e.kind === 'close') as { error: Error }).error.message, /a field block could not be encoded: no such field/);
    } finally {
      close();
    }
  });

  it('a request asked for on a settled connection whose block cannot be encoded is refused at once (null), not handed back already reset', async () => {
    const { conn, h, settings, close } = await setup(100);
    try {
      await settings([]);
      assert.equal(conn.request({ requestFields: () => { throw new Error('bad'); } }, true), null);
      assert.equal(conn.request(REQ('/next'), true), null, 'the connection takes nothing more');
      await h.wait((e) => e.kind === 'close');
    } finally {
      close();
    }
  });
});

describe('H2Connection client role, malformed responses (RFC 9113 §8.1.1, §8.3.2)', () => {
  it('each malformed response resets its own stream with PROTOCOL_ERROR; a good one on the same connection is delivered', async () => {
    const { conn, h, peer, sync, settings, close } = await setup(100);
    try {
      await settings([]);
      const cases: { name: string; fields: [string, string][] }[] = [
        { name: 'two digits', fields: [[':status', '20']] },
        { name: 'leading zero', fields: [[':status', '099']] },
        { name: 'not a digit', fields: [[':status', '2x0']] },
        { name: 'four digits', fields: [[':status', '2000']] },
        { name: 'no :status', fields: [['content-type', 'application/grpc']] },
        { name: 'pseudo-field after a regular one', fields: [['content-type', 'application/grpc'], [':status', '200']] },
        { name: 'a request pseudo-field', fields: [[':status', '200'], [':path', '/']] },
      ];
      const streams = cases.map((c) => conn.request(REQ(`/${c.name}`), true)!);
      const good = conn.request(REQ('/good'), true)!;
      await sync();
      cases.forEach((c, i) => peer.respond(streams[i]!.id, c.fields, false));
      peer.respond(good.id, [[':status', '200'], ['content-type', 'application/grpc']], false);
      peer.send();
      const delivered = await h.wait((e) => e.kind === 'headers' && e.id === good.id);
      assert.deepEqual(delivered.kind === 'headers' && delivered.headers[0], [':status', '200']);
      await sync();
      for (const [i, c] of cases.entries()) {
        assert.ok(h.events.some((e) => e.kind === 'reset' && e.id === streams[i]!.id && e.code === ErrorCode.PROTOCOL_ERROR), c.name);
        assert.ok(!h.events.some((e) => e.kind === 'headers' && e.id === streams[i]!.id), `${c.name}: not delivered`);
      }
      assert.deepEqual(peer.rsts().map((r) => r.errorCode), cases.map(() => ErrorCode.PROTOCOL_ERROR));
      assert.equal(conn.counters.malformed, cases.length);
    } finally {
      close();
    }
  });
});
