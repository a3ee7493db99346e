// A real grpc-js client makes unary calls to a tiny echo handler written directly on
// H2Connection (server role): the gRPC framing (RFC-less, grpc/PROTOCOL-HTTP2.md) is
// done by hand, HPACK by our encoder, to show the engine talks to a gRPC stack.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { h2Server } from './connection-helpers.js';

describe('H2Connection server role, grpc-js client', () => {
  it('unary echo: :status 200, application/grpc, one message, grpc-status 0 trailers', async () => {
    const { server, port, conns } = await h2Server({}, (h) => {
      h.onDataHook = (s, _d, end) => {
        if (!end) return;
        const body = h.body(s.id); // a length-prefixed message: 1 flag octet + 4 length octets + payload
        s.sendHeaders([[':status', '200'], ['content-type', 'application/grpc']], false);
        s.write(body, false);
        s.sendHeaders([['grpc-status', '0'], ['grpc-message', '']], true);
      };
    });
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = (text: string) => new Promise<string>((resolve, reject) => {
      client.makeUnaryRequest('/echo.Echo/Say', (b: Buffer) => b, (b: Buffer) => b, Buffer.from(text), (err, res) => {
        if (err) reject(err); else resolve(res!.toString());
      });
    });
    try {
      assert.equal(await call('hello'), 'hello');
      assert.equal(await call('x'.repeat(100_000)), 'x'.repeat(100_000));
      const [a, b, c] = await Promise.all([call('a'), call('b'), call('c')]);
      assert.deepEqual([a, b, c], ['a', 'b', 'c']);
      const h = conns[0]!;
      assert.equal(h.counters.streamsOpened, 5);
      assert.equal(h.counters.malformed, 0);
    } finally {
      client.close();
      server.close();
    }
  });

  it('a header list over the limit gets RESOURCE_EXHAUSTED from the owner, and the channel keeps working', async () => {
    const { server, port } = await h2Server({ maxHeaderListSize: 8 * 1024 }, (h) => {
      h.onTooLargeHook = (s) => s.sendHeaders([
        [':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', String(grpc.status.RESOURCE_EXHAUSTED)],
        ['grpc-message', 'header list too large'],
      ], true);
      h.onDataHook = (s, _d, end) => {
        if (!end) return;
        s.sendHeaders([[':status', '200'], ['content-type', 'application/grpc']], false);
        s.write(h.body(s.id), false);
        s.sendHeaders([['grpc-status', '0']], true);
      };
    });
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = (text: string, md: grpc.Metadata) => new Promise<string>((resolve, reject) => {
      client.makeUnaryRequest('/echo.Echo/Say', (b: Buffer) => b, (b: Buffer) => b, Buffer.from(text), md, (err, res) => {
        if (err) reject(err); else resolve(res!.toString());
      });
    });
    try {
      const big = new grpc.Metadata();
      big.set('x-big', 'a'.repeat(10 * 1024));
      await assert.rejects(call('hi', big), (err: grpc.ServiceError) => err.code === grpc.status.RESOURCE_EXHAUSTED);
      assert.equal(await call('after', new grpc.Metadata()), 'after');
    } finally {
      client.close();
      server.close();
    }
  });
});
