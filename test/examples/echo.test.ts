import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoServer } from '../../examples/echo/server.js';
import { echoClient } from '../../examples/echo/client.js';

test('the echo fixture answers its message and its own address over real gRPC', async () => {
  const server = await startEchoServer();
  const client = echoClient(server.address);
  try {
    const res = await client.echo('hello');
    assert.deepEqual(res, { message: 'hello', from: server.address });
  } finally {
    client.close();
    await server.close();
  }
});
