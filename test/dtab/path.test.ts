import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Path } from '../../src/dtab/path.js';

test('Path shows label segments as text and escapes a segment with any other byte', () => {
  assert.equal(Path.empty.show(), '/');
  assert.equal(Path.of('svc', 'com.example.grpc.EchoService').show(), '/svc/com.example.grpc.EchoService');
  assert.equal(Path.of('a b').show(), '/\\x61\\x20\\x62');
});
