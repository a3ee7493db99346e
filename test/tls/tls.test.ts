import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { startRouter } from '../router/setup.js';
import { clientState } from '../../src/admin/views.js';
import { SERVER_DEFAULTS } from '../proxy/harness.js';
import { startTestServer, testClient, unary } from '../fixtures/grpc/test-service.js';
import { TestPki } from '../fixtures/tls/pki.js';
import { eventually } from '../support/eventually.js';
import { BACKEND_NAME, clientTls, counter, makeCerts, startTlsBackend, tlsClient, type Certs } from './helpers.js';

const SVC = '/svc/kgr.test.TestService';
/** grpc-js would send 127.0.0.1 as SNI (Node warns, RFC 6066 forbids it); the router's certificate also names router.local. */
const ROUTER_NAME = { 'grpc.ssl_target_name_override': 'router.local', 'grpc.default_authority': 'router.local' };
const skip = !TestPki.available() && 'openssl not installed';
let certs: Certs;

before(() => {
  if (!skip) certs = makeCerts(new TestPki());
});
after(() => certs?.pki.remove());

test('server TLS: a grpc-js TLS client on the TLS port and an h2c client on the plaintext port, side by side', { skip }, async () => {
  const backend = await startTestServer({ name: 'plain' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`, {
    servers: [{ ...SERVER_DEFAULTS }, { ...SERVER_DEFAULTS, tls: { certPath: certs.router.cert, keyPath: certs.router.key, requireClientAuth: false } }],
  });
  const [plainPort, tlsPort] = h.router.boundPorts.map((b) => b.port);
  const secure = tlsClient(`127.0.0.1:${tlsPort}`, certs.pki.ca.cert, undefined, ROUTER_NAME);
  const plain = testClient(`127.0.0.1:${plainPort}`);
  try {
    const a = await unary(secure, { message: 'over tls' });
    assert.equal(a.error, null, a.error?.details);
    assert.equal(a.resp!.message, 'over tls');
    const b = await unary(plain, { message: 'over h2c' });
    assert.equal(b.error, null, b.error?.details);
    // The dashboard's data: the serving certificate and its days left.
    const certsShown = h.router.snapshot().certificates!;
    assert.equal(certsShown.length, 1);
    assert.match(certsShown[0]!.use, /^server 127\.0\.0\.1:\d+$/);
    assert.ok(certsShown[0]!.daysLeft >= 28 && certsShown[0]!.daysLeft <= 30, String(certsShown[0]!.daysLeft));

    // ALPN h2 only: a client offering only http/1.1 is refused in the handshake, one offering none after it.
    const refused = (ALPNProtocols: string[] | undefined) =>
      new Promise<string>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port: tlsPort!, ca: readFileSync(certs.pki.ca.cert), ...(ALPNProtocols ? { ALPNProtocols } : {}) });
        s.on('error', (e) => resolve(`error ${e.message}`));
        s.on('close', () => resolve('closed'));
        s.resume();
      });
    assert.match(await refused(['http/1.1']), /no application protocol/);
    assert.equal(await refused(undefined), 'closed');
    assert.equal(await counter(h.metrics, 'kgr_tls_handshake_failures_total', { side: 'server', reason: 'no_h2' }), 2);
    // Plaintext h2c on the TLS port is not TLS.
    const wrong = testClient(`127.0.0.1:${tlsPort}`);
    const c = await unary(wrong, { message: 'x' }, { deadlineMs: 2000 });
    wrong.close();
    assert.equal(c.error?.code, grpc.status.UNAVAILABLE);
    assert.equal(await counter(h.metrics, 'kgr_tls_handshake_failures_total', { side: 'server', reason: 'protocol' }), 1);
  } finally {
    secure.close();
    plain.close();
    await h.close();
    await backend.close();
  }
});

test('server TLS: a connection past maxConnectionsPerClient is closed before any handshake, counted as that limit and not as a TLS failure', { skip }, async () => {
  const backend = await startTestServer({ name: 'plain' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`, {
    servers: [{ ...SERVER_DEFAULTS, maxConnectionsPerClient: 1, tls: { certPath: certs.router.cert, keyPath: certs.router.key, requireClientAuth: false } }],
  });
  const port = h.router.boundPorts[0]!.port;
  const open = (): tls.TLSSocket => tls.connect({ host: '127.0.0.1', port, ca: readFileSync(certs.pki.ca.cert), servername: 'router.local', ALPNProtocols: ['h2'] });
  const first = open();
  try {
    await new Promise<void>((resolve, reject) => first.once('secureConnect', resolve).once('error', reject));
    const second = open();
    const ended = await new Promise<string>((resolve) => {
      second.once('secureConnect', () => resolve('handshake completed'));
      second.once('error', (e) => resolve(`error ${e.message}`));
      second.once('close', () => resolve('closed'));
    });
    assert.notEqual(ended, 'handshake completed');
    // Its slot back, a later connection completes a handshake: by then the router has seen all
    // there was to see of the refused one.
    first.destroy();
    const third = await eventually('a handshake once the first connection is gone', () => new Promise<tls.TLSSocket | undefined>((resolve) => {
      const s = open();
      s.once('secureConnect', () => resolve(s));
      s.once('error', () => resolve(undefined));
      s.once('close', () => resolve(undefined));
    }));
    third.destroy();
    const limits = (await h.metrics.registry.metrics()).split('\n').find((l) => l.includes('limit="servers[].maxConnectionsPerClient"'));
    assert.ok(Number(limits?.split(' ').pop()) >= 1, String(limits)); // tries before the slot was back count too
    assert.equal((await h.metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('kgr_tls_handshake_failures_total{')).length, 0, 'no handshake failure counted');
  } finally {
    first.destroy();
    await h.close();
    await backend.close();
  }
});

test('server mutual TLS: requireClientAuth admits CA-signed client certificates only, and counts the rest by reason', { skip }, async () => {
  const backend = await startTestServer({ name: 'plain' });
  const h = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`, {
    servers: [{ ...SERVER_DEFAULTS, tls: { certPath: certs.router.cert, keyPath: certs.router.key, caCertPath: certs.pki.ca.cert, requireClientAuth: true } }],
  });
  const clients = [certs.client, undefined, certs.untrustedClient].map((c) => tlsClient(h.target, certs.pki.ca.cert, c, ROUTER_NAME));
  try {
    const [good, none, untrusted] = await Promise.all(clients.map((c) => unary(c, { message: 'm' }, { deadlineMs: 3000 })));
    assert.equal(good!.error, null, good!.error?.details);
    assert.equal(none!.error?.code, grpc.status.UNAVAILABLE);
    assert.equal(untrusted!.error?.code, grpc.status.UNAVAILABLE);
    assert.ok((await counter(h.metrics, 'kgr_tls_handshake_failures_total', { side: 'server', reason: 'no_client_certificate' })) >= 1);
    assert.ok((await counter(h.metrics, 'kgr_tls_handshake_failures_total', { side: 'server', reason: 'unknown_authority' })) >= 1);
  } finally {
    for (const c of clients) c.close();
    await h.close();
  }
  // caCertPath without requireClientAuth: a certificate is optional, but one that is shown must verify.
  const optional = await startRouter(`${SVC} => /$/inet/127.0.0.1/${backend.port}`, {
    servers: [{ ...SERVER_DEFAULTS, tls: { certPath: certs.router.cert, keyPath: certs.router.key, caCertPath: certs.pki.ca.cert, requireClientAuth: false } }],
  });
  const more = [certs.client, undefined, certs.untrustedClient].map((c) => tlsClient(optional.target, certs.pki.ca.cert, c, ROUTER_NAME));
  try {
    const [good, none, untrusted] = await Promise.all(more.map((c) => unary(c, { message: 'm' }, { deadlineMs: 3000 })));
    assert.equal(good!.error, null, good!.error?.details);
    assert.equal(none!.error, null, none!.error?.details);
    assert.equal(untrusted!.error?.code, grpc.status.UNAVAILABLE);
    assert.ok((await counter(optional.metrics, 'kgr_tls_handshake_failures_total', { side: 'server', reason: 'unknown_authority' })) >= 1);
  } finally {
    for (const c of more) c.close();
    await optional.close();
    await backend.close();
  }
});

test('client TLS: io.l5d.static prefix variables fill commonName (SNI and the checked name), mutual TLS, sessions resumed', { skip }, async () => {
  // A backend requiring a client certificate, which closes connections every 100 ms so new handshakes happen.
  const backend = await startTlsBackend(certs.backend, { clientCa: certs.pki.ca.cert, serverOptions: { 'grpc.max_connection_age_ms': 100 } });
  const h = await startRouter(`${SVC} => /#/test/echo`, {
    client: {
      ...(await import('../proxy/harness.js')).CLIENT_DEFAULTS,
      configs: [
        { prefix: '/#/test/*', tls: clientTls(certs, { commonName: 'never.used' }) },
        { prefix: '/#/test/{svc}', tls: clientTls(certs, { commonName: '{svc}.default.svc.cluster.local', clientAuth: { certPath: certs.client.cert, keyPath: certs.client.key } }) },
      ],
    },
  });
  h.namer.serve('echo', [backend.port]);
  const client = testClient(h.target);
  try {
    const first = await unary(client, { message: 'hello' });
    assert.equal(first.error, null, first.error?.details);
    assert.equal(first.resp!.from, 'tls-backend');
    const snap = h.router.snapshot().clients[0]!;
    assert.deepEqual({ ...snap.tls, resumedSessions: 0 }, { name: BACKEND_NAME, validated: true, resumedSessions: 0 });
    // Keep calling until the backend's connection-age limit made the router reconnect with a resumed session.
    let resumed = 0;
    for (let i = 0; i < 200 && resumed === 0; i++) {
      const r = await unary(client, { message: String(i), delay_ms: 5 });
      assert.equal(r.error, null, r.error?.details);
      resumed = h.router.snapshot().clients[0]!.tls!.resumedSessions;
    }
    assert.ok(resumed > 0, 'no TLS session was resumed');
    // …and /client_state.json says so.
    const state = clientState([{ label: 'h2', snapshot: () => h.router.snapshot(), delegate: () => Promise.reject(new Error('unused')) }]);
    assert.equal(state['/#/test/echo']!.tls!.name, BACKEND_NAME);
    assert.equal(h.router.snapshot().certificates!.map((c) => c.use).join(), 'client.configs[1].tls.clientAuth.certPath');
  } finally {
    client.close();
    await h.close();
    await backend.close();
  }
});

test('client TLS io.l5d.global: each handshake failure answers UNAVAILABLE naming the endpoint and the reason, counted and fed to failure accrual', { skip }, async () => {
  const { CLIENT_DEFAULTS } = await import('../proxy/harness.js');
  const cases: { name: string; backend: () => ReturnType<typeof startTlsBackend>; auth: boolean; message: RegExp; reason: string }[] = [
    { name: 'expired', backend: () => startTlsBackend(certs.expired), auth: false, message: /certificate expired/, reason: 'expired' },
    { name: 'unknown', backend: () => startTlsBackend(certs.untrustedServer), auth: false, message: /unknown authority/, reason: 'unknown_authority' },
    { name: 'mismatch', backend: () => startTlsBackend(certs.wrongName), auth: false, message: /name mismatch/, reason: 'name_mismatch' },
    { name: 'nocert', backend: () => startTlsBackend(certs.backend, { clientCa: certs.pki.ca.cert }), auth: false, message: /no client certificate/, reason: 'no_client_certificate' },
    {
      name: 'rejected',
      backend: () => startTlsBackend(certs.backend, { clientCa: certs.pki.otherCa.cert }),
      auth: true,
      message: /certificate rejected by the peer/,
      reason: 'certificate_rejected',
    },
  ];
  await Promise.all(
    cases.map(async (c) => {
      const backend = await c.backend();
      const tlsConfig = clientTls(certs, { commonName: BACKEND_NAME, ...(c.auth ? { clientAuth: { certPath: certs.client.cert, keyPath: certs.client.key } } : {}) });
      const h = await startRouter(`${SVC} => /#/test/echo`, {
        client: { ...CLIENT_DEFAULTS, tls: tlsConfig, failureAccrual: { kind: 'io.l5d.consecutiveFailures', failures: 100, backoff: { minMs: 5000, maxMs: 5000 } } },
      });
      h.namer.serve('echo', [backend.port]);
      const client = testClient(h.target);
      try {
        const r = await unary(client, { message: 'x' });
        assert.equal(r.error?.code, grpc.status.UNAVAILABLE, `${c.name}: ${r.error?.details}`);
        assert.match(r.error!.details, new RegExp(`TLS handshake with 127\\.0\\.0\\.1:${backend.port} failed`), c.name);
        assert.match(r.error!.details, c.message, c.name);
        // At least once: the call's retry finds the endpoint backing off (25-50 ms at first), unless a
        // loaded machine let that pass first, when a second handshake fails the same way.
        assert.ok(await counter(h.metrics, 'kgr_tls_handshake_failures_total', { side: 'client', reason: c.reason }) >= 1, c.name);
        const endpoint = h.router.snapshot().clients[0]!.endpoints[0]!;
        assert.ok(endpoint.failures >= 1, `${c.name}: failure accrual heard of it`);
        assert.equal(backend.calls['Unary'], undefined, `${c.name}: nothing reached the backend`);
      } finally {
        client.close();
        await h.close();
        await backend.close();
      }
    }),
  );
});

test('client TLS disableValidation: encryption without authentication reaches a backend with any certificate; SNI is the commonName', { skip }, async () => {
  const { CLIENT_DEFAULTS } = await import('../proxy/harness.js');
  const backend = await startTlsBackend(certs.untrustedServer);
  // A bare TLS listener that notes the SNI each handshake carried.
  const sni: (string | false | null)[] = [];
  const listener = tls.createServer({ cert: readFileSync(certs.backend.cert), key: readFileSync(certs.backend.key), ALPNProtocols: ['h2'] }, (s) => s.destroy());
  listener.on('tlsClientError', () => {});
  const seen = new Promise<void>((resolve) => listener.on('secureConnection', (s: tls.TLSSocket) => (sni.push(s.servername), resolve())));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const h = await startRouter(`${SVC} => /#/test/echo; /svc/sni => /#/test/sni`, {
    client: { ...CLIENT_DEFAULTS, tls: { commonName: 'sni.example', trustCerts: [], disableValidation: true } },
  });
  h.namer.serve('echo', [backend.port]);
  h.namer.serve('sni', [(listener.address() as { port: number }).port]);
  const client = testClient(h.target);
  try {
    const r = await unary(client, { message: 'x' });
    assert.equal(r.error, null, r.error?.details);
    assert.equal(r.resp!.from, 'tls-backend');
    const other = new grpc.Client(h.target, grpc.credentials.createInsecure());
    other.makeUnaryRequest('/sni/Call', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), () => {});
    await seen;
    other.close();
    assert.deepEqual(sni.slice(0, 1), ['sni.example']);
  } finally {
    client.close();
    await h.close();
    await backend.close();
    listener.close();
  }
});

test('client TLS: an endpoint that never completes the handshake times out, one without h2 is refused; both named and counted', { skip }, async () => {
  const { CLIENT_DEFAULTS } = await import('../proxy/harness.js');
  const net = await import('node:net');
  const silent = net.createServer((s) => s.on('error', () => {})); // accepts TCP, never speaks TLS
  const http1 = tls.createServer({ cert: readFileSync(certs.backend.cert), key: readFileSync(certs.backend.key), ALPNProtocols: ['http/1.1'] }, (s) => s.destroy());
  http1.on('tlsClientError', () => {});
  await Promise.all([silent, http1].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const portOf = (s: { address(): unknown }) => (s.address() as { port: number }).port;
  const h = await startRouter(`${SVC} => /#/test/silent; /svc/http1 => /#/test/http1`, {
    client: { ...CLIENT_DEFAULTS, connectTimeoutMs: 200, maxAttempts: 1, tls: clientTls(certs, { commonName: BACKEND_NAME }) },
  });
  h.namer.serve('silent', [portOf(silent)]);
  h.namer.serve('http1', [portOf(http1)]);
  const client = testClient(h.target);
  const raw = new grpc.Client(h.target, grpc.credentials.createInsecure());
  try {
    const timedOut = await unary(client, { message: 'x' });
    assert.equal(timedOut.error?.code, grpc.status.UNAVAILABLE);
    assert.match(timedOut.error!.details, new RegExp(`TLS handshake with 127\\.0\\.0\\.1:${portOf(silent)} failed: TLS handshake timed out \\(no handshake within 200 ms\\)`));
    const noH2 = await new Promise<grpc.ServiceError | null>((resolve) => raw.makeUnaryRequest('/http1/Call', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (e) => resolve(e)));
    assert.equal(noH2?.code, grpc.status.UNAVAILABLE);
    assert.match(noH2!.details, /ALPN did not negotiate h2/);
    assert.equal(await counter(h.metrics, 'kgr_tls_handshake_failures_total', { side: 'client', reason: 'timeout' }), 1);
    assert.equal(await counter(h.metrics, 'kgr_tls_handshake_failures_total', { side: 'client', reason: 'no_h2' }), 1);
  } finally {
    client.close();
    raw.close();
    await h.close();
    silent.close();
    http1.close();
  }
});
