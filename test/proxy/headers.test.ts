import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ProxyHarness, addr } from './harness.js';
import { startRawBackend, answerOk } from '../fixtures/grpc/raw-backend.js';
import { testClient, unary } from '../fixtures/grpc/test-service.js';

test('request headers reach the endpoint as the client sent them (te, grpc-timeout, encodings, user-agent, -bin)', async () => {
  const backend = await startRawBackend((stream) => answerOk(stream));
  const proxy = await new ProxyHarness(addr(backend.port)).start();
  const client = testClient(proxy.target, { 'grpc.default_compression_algorithm': 2, 'grpc.primary_user_agent': 'kgr-test' });
  try {
    const md = new grpc.Metadata();
    md.set('x-custom', 'v1');
    md.set('x-blob-bin', Buffer.from([0, 255]));
    const r = await unary(client, { message: 'h' }, { metadata: md, deadlineMs: 10_000 });
    assert.equal(r.error, null);
    const h = backend.seen[0]!;
    assert.equal(h[':path'], '/kgr.test.TestService/Unary');
    assert.equal(h[':method'], 'POST');
    assert.equal(h['te'], 'trailers');
    assert.equal(h['content-type'], 'application/grpc');
    assert.equal(h['grpc-encoding'], 'gzip');
    assert.match(String(h['grpc-accept-encoding']), /gzip/);
    assert.match(String(h['user-agent']), /^kgr-test grpc-node-js/);
    assert.equal(h['x-custom'], 'v1');
    assert.equal(Buffer.from(String(h['x-blob-bin']), 'base64').toString('hex'), '00ff');
    assert.match(String(h['grpc-timeout']), /^\d+[umS]$/);
    assert.equal(h['connection'], undefined);
  } finally {
    client.close();
    await proxy.close();
    await backend.close();
  }
});
