import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { installLeanAsyncResourceBind } from '../../src/proxy/async-resource-bind.js';
import '../../src/proxy/upstream.js';

test('the data plane replaces AsyncResource.prototype.bind once, and installing again is a no-op', () => {
  const installed = AsyncResource.prototype.bind;
  assert.equal(installed.name, 'bind');
  assert.doesNotMatch(installed.toString(), /deprecate/);
  installLeanAsyncResourceBind();
  assert.equal(AsyncResource.prototype.bind, installed);
});

test('a bound function runs in the async context the resource was created in, with call-time this and arguments', () => {
  const als = new AsyncLocalStorage<string>();
  let bound!: (this: unknown, ...args: unknown[]) => unknown;
  als.run('at bind', () => {
    bound = new AsyncResource('test').bind(function (this: unknown, a: unknown, b: unknown) {
      return [als.getStore(), this, a, b];
    });
  });
  als.run('elsewhere', () => {
    assert.deepEqual(bound.call('caller', 1, 2), ['at bind', 'caller', 1, 2]);
  });
  assert.deepEqual(bound(3), ['at bind', undefined, 3, undefined]);
});

test('thisArg wins over the call-time this, length is the function\'s, a non-function is refused', () => {
  const self = { name: 'fixed' };
  // @types/node leaves out Node's documented second argument.
  const bindWithThis = AsyncResource.prototype.bind as unknown as (this: AsyncResource, fn: (...a: number[]) => string, thisArg: unknown) => (...a: number[]) => string;
  const bound = bindWithThis.call(
    new AsyncResource('test'),
    function (this: typeof self, _a: number, _b: number, _c: number) {
      return this.name;
    },
    self,
  );
  assert.equal(bound.call({ name: 'other' }, 1, 2, 3), 'fixed');
  assert.equal(bound.length, 3);
  assert.throws(() => new AsyncResource('test').bind(42 as unknown as () => void), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('the deprecated asyncResource property still reads and writes the resource and warns DEP0172', async () => {
  const resource = new AsyncResource('test');
  const bound = resource.bind(() => 1) as (() => number) & { asyncResource: AsyncResource };
  const warning = new Promise<Error & { code?: string }>((resolve) => process.once('warning', resolve));
  assert.equal(bound.asyncResource, resource);
  assert.equal(Object.keys(bound).includes('asyncResource'), true, 'enumerable, as in Node');
  const other = new AsyncResource('other');
  bound.asyncResource = other;
  assert.equal(bound.asyncResource, other);
  const w = await warning;
  assert.equal(w.name, 'DeprecationWarning');
  assert.equal(w.code, 'DEP0172');
});

test('http2 requests made before the session connects (the bound path) still go out and complete', async () => {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(String(headers[':path']));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    // Issued while `connecting`: http2 queues each through AsyncResource.bind until 'connect'.
    const bodies = await Promise.all(
      ['/a', '/b', '/c'].map(
        (path) =>
          new Promise<string>((resolve, reject) => {
            const req = session.request({ ':path': path });
            let body = '';
            req.setEncoding('utf8');
            req.on('data', (d: string) => (body += d));
            req.on('end', () => resolve(body));
            req.on('error', reject);
            req.end();
          }),
      ),
    );
    assert.deepEqual(bodies, ['/a', '/b', '/c']);
  } finally {
    session.close();
    await new Promise((r) => server.close(r));
  }
});
