import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { startRouter, type Harness } from './setup.js';
import { defaultBindingCacheConfig } from '../../src/config/load.js';
import { startRawBackend, answerOk } from '../fixtures/grpc/raw-backend.js';
import { H2Server } from '../../src/proxy/server.js';
import { Logger } from '../../src/util/log.js';
import { SERVER_DEFAULTS } from '../proxy/harness.js';

/**
 * A client with calls in flight is never evicted from the router's bound-client table
 * (`bindingCache.clients`): without a share per client address, one pod holding long-lived calls,
 * each to an id of its own through `l5d-dtab`, evicted another pod's idle client and then took
 * every slot, so every other pod's calls were refused. Its share is `bindingCache.clientsPerClient`.
 */

const SVC = '/svc/kgr.test.TestService';

/** An HTTP/2 session to the router (or to `port`) from `localAddress` (a pod of its own on 127.0.0.x). */
function connectFrom(h: Harness, localAddress: string, port = h.port): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`, {
    createConnection: () => net.connect({ host: '127.0.0.1', port, localAddress }),
  });
  session.on('error', () => {});
  return session;
}

interface Answer {
  status: string | undefined;
  message: string | undefined;
  stream: http2.ClientHttp2Stream;
}

/**
 * A gRPC call on `session` with `extra` headers, its request left open: resolves with the first
 * answer headers (the endpoint's, the call still in flight; or the router's trailers-only refusal).
 */
function call(session: http2.ClientHttp2Session, extra: http2.OutgoingHttpHeaders = {}): Promise<Answer> {
  const stream = session.request({
    ':method': 'POST',
    ':path': '/kgr.test.TestService/Unary',
    'content-type': 'application/grpc',
    te: 'trailers',
    ...extra,
  });
  stream.on('error', () => {});
  return new Promise((resolve, reject) => {
    stream.once('response', (headers) => {
      const message = headers['grpc-message'];
      resolve({ status: headers['grpc-status'] as string | undefined, message: typeof message === 'string' ? decodeURIComponent(message) : undefined, stream });
    });
    stream.once('close', () => reject(new Error('the stream closed without an answer')));
  });
}

/** A complete call: its grpc-status from the trailers (or a trailers-only answer). */
async function unaryStatus(session: http2.ClientHttp2Session): Promise<string | undefined> {
  const answer = await call(session);
  if (answer.status !== undefined) return answer.status;
  answer.stream.end(Buffer.from([0, 0, 0, 0, 0]));
  answer.stream.resume();
  return new Promise((resolve) => answer.stream.once('trailers', (t) => resolve(t['grpc-status'] as string)));
}

async function limitCount(h: Harness, key: string): Promise<number> {
  const text = await h.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith('kgr_limits_reached_total{') && l.includes(`limit="${key}"`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

test('bindingCache.clientsPerClient: one address holding calls on more ids than its share is refused RESOURCE_EXHAUSTED past it; another address keeps its idle client', async () => {
  const service = await startRawBackend((s) => answerOk(s));
  let serviceConnections = 0;
  service.server.on('session', () => serviceConnections++);
  // The held calls' endpoint answers headers and never ends: each call stays in flight.
  const held: http2.ServerHttp2Stream[] = [];
  const hold = await startRawBackend((s) => {
    held.push(s);
    s.respond({ ':status': 200, 'content-type': 'application/grpc' });
  });
  const clients = 8;
  const h = await startRouter(`${SVC} => /#/test/service`, { bindingCache: { ...defaultBindingCacheConfig(), clients, clientsPerClient: 2 } });
  h.namer.serve('service', [service.port]);
  for (let i = 0; i < clients + 1; i++) h.namer.serve(`hold${i}`, [hold.port]);
  const pod = connectFrom(h, '127.0.0.2');
  const attacker = connectFrom(h, '127.0.0.1');
  try {
    // Another pod's service has a client, idle once its call is done.
    assert.equal(await unaryStatus(pod), '0');
    assert.equal(serviceConnections, 1);

    // One address opens long-lived calls, each to an id of its own: more than the whole table.
    const answers: Answer[] = [];
    for (let i = 0; i < clients + 1; i++) {
      answers.push(await call(attacker, { 'l5d-dtab': `${SVC} => /#/test/hold${i}` }));
    }
    // Its share is held (the calls are in flight at the endpoint); past it, each is refused, naming the key.
    assert.deepEqual(answers.slice(0, 2).map((a) => a.status), [undefined, undefined]);
    for (const [i, a] of answers.slice(2).entries()) {
      assert.equal(a.status, '8', `call ${i + 2}: ${a.message}`); // RESOURCE_EXHAUSTED
      assert.match(a.message ?? '', new RegExp(`^this client has calls in flight on 2 bound clients of router h2 \\(bindingCache\\.clientsPerClient\\); cannot bind /#/test/hold${i + 2} for ${SVC}$`));
    }
    assert.equal(held.length, 2);
    assert.equal(await limitCount(h, 'bindingCache.clientsPerClient'), clients - 1);
    assert.equal(await limitCount(h, 'bindingCache.clients'), 0, 'the table never filled');

    // The other pod's call still goes through, on the client it had (no new connection).
    assert.equal(await unaryStatus(pod), '0');
    assert.equal(serviceConnections, 1, 'its client was not evicted');
    assert.ok(h.router.snapshot().clients.some((c) => c.id === '/#/test/service'));

    // A held call that ends gives its slot of the share back: the address binds a new id (the
    // cancel reaches the router before the next call's headers, on the same connection).
    const ended = answers[0]!.stream;
    const closed = new Promise<void>((resolve) => ended.once('close', () => resolve()));
    ended.close(http2.constants.NGHTTP2_CANCEL);
    await closed;
    const again = await call(attacker, { 'l5d-dtab': `${SVC} => /#/test/hold${clients}` });
    assert.equal(again.status, undefined, again.message);
    assert.equal(held.length, 3);
  } finally {
    pod.destroy();
    attacker.destroy();
    await h.close();
    await service.close();
    await hold.close();
  }
});

/**
 * A client's share is held by what its server counts for its address (ClientUsage). A call whose
 * stream no server counts (none today: every router stream comes from its servers) is not left
 * unbounded: all such calls hold one share together, whatever their addresses.
 */
test('bindingCache.clientsPerClient: calls no server counts for an address share one share', async () => {
  const held: http2.ServerHttp2Stream[] = [];
  const hold = await startRawBackend((s) => {
    held.push(s);
    s.respond({ ':status': 200, 'content-type': 'application/grpc' });
  });
  const h = await startRouter(`${SVC} => /#/test/service`, { bindingCache: { ...defaultBindingCacheConfig(), clients: 8, clientsPerClient: 2 } });
  for (let i = 0; i < 4; i++) h.namer.serve(`hold${i}`, [hold.port]);
  // A server beside the router's that hands it streams counted for no client address.
  const uncounted = new H2Server({ ...SERVER_DEFAULTS }, {
    handleStream: (stream, headers) => {
      stream.shares = null;
      h.router.route(h.router.config.servers[0]!, stream, headers);
    },
  }, Logger.silent());
  const port = (await uncounted.listen()).port;
  const pods = [connectFrom(h, '127.0.0.1', port), connectFrom(h, '127.0.0.2', port)];
  try {
    const answers: Answer[] = [];
    for (let i = 0; i < 4; i++) answers.push(await call(pods[i % 2]!, { 'l5d-dtab': `${SVC} => /#/test/hold${i}` }));
    assert.deepEqual(answers.map((a) => a.status), [undefined, undefined, '8', '8'], answers.map((a) => a.message).join('; '));
    assert.equal(held.length, 2);
    // A call that ends gives its slot back (the cancel reaches the router before the next call's
    // headers, on the same connection).
    const ended = answers[0]!.stream;
    const closed = new Promise<void>((resolve) => ended.once('close', () => resolve()));
    ended.close(http2.constants.NGHTTP2_CANCEL);
    await closed;
    const again = await call(pods[0]!, { 'l5d-dtab': `${SVC} => /#/test/hold2` });
    assert.equal(again.status, undefined, again.message);
    assert.equal(held.length, 3);
  } finally {
    for (const p of pods) p.destroy();
    await uncounted.close();
    await h.close();
    await hold.close();
  }
});
