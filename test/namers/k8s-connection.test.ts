import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { KubeApiServer, type KubeApiServerOptions } from '../fixtures/k8s/api-server.js';
import { selfSignedCert } from '../fixtures/k8s/tls.js';
import { KubeConnection } from '../../src/namers/k8s/connection.js';
import { H2Sessions, type SessionTimes } from '../../src/namers/k8s/h2-sessions.js';
import tls from 'node:tls';
import { once } from 'node:events';
import { K8sNamer } from '../../src/namers/k8s/k8s-namer.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { Logger } from '../../src/util/log.js';
import { Path } from '../../src/dtab/path.js';
import type { BoundName } from '../../src/dtab/name.js';
import { Watching, boundOf, hostPorts, isNeg, sameSet } from './helpers.js';
import { eventually } from '../support/eventually.js';

/** The in-cluster connection's requests over TLS: HTTP/2 sessions (or HTTP/1.1 connections) they use, and CA rotation. */
const first = selfSignedCert();
const second = selfSignedCert();
const skip = (!first || !second) && 'openssl not installed';

interface Setup {
  server?: Partial<KubeApiServerOptions>;
  sessionTimes?: SessionTimes;
  /** Reach the API server through a TCP relay that can go silent (`Relay.freeze`). */
  relayed?: boolean;
}

async function inCluster(
  tls: { key: Buffer; cert: Buffer },
  run: (api: KubeApiServer, namer: K8sNamer, sa: string, relay: Relay | undefined) => Promise<void>,
  setup: Setup = {},
): Promise<void> {
  const api = await KubeApiServer.start({ token: 'token', tls, ...setup.server });
  const relay = setup.relayed ? await freezableRelay(api.port) : undefined;
  const sa = mkdtempSync(join(tmpdir(), 'kgr-sa-'));
  writeFileSync(join(sa, 'token'), 'token');
  writeFileSync(join(sa, 'ca.crt'), tls.cert);
  writeFileSync(join(sa, 'namespace'), 'default');
  const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(relay?.port ?? api.port) };
  const connection = await KubeConnection.resolve({ env, serviceAccountDir: sa, sessionTimes: setup.sessionTimes });
  assert.equal(connection.source, 'in-cluster');
  const namer = new K8sNamer({ prefix: Path.of('#', 'io.l5d.k8s'), connection, metrics: new Metrics({ processMetrics: false }), log: Logger.silent(), backoffMinMs: 20, backoffMaxMs: 200 });
  try {
    await run(api, namer, sa, relay);
  } finally {
    namer.close();
    relay?.close();
    await api.close();
    rmSync(sa, { recursive: true, force: true });
  }
}

interface Relay {
  port: number;
  /** Its connections so far go silent both ways, open (a peer gone without a FIN or RST); new ones are relayed. */
  freeze(): void;
  close(): void;
}

async function freezableRelay(port: number): Promise<Relay> {
  const pairs: Array<[net.Socket, net.Socket]> = [];
  const server = net.createServer((inbound) => {
    const outbound = net.connect(port, '127.0.0.1');
    pairs.push([inbound, outbound]);
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze() {
      for (const [a, b] of pairs) for (const s of [a, b]) {
        s.unpipe();
        s.pause();
      }
    },
    close() {
      server.close();
      for (const pair of pairs) for (const s of pair) s.destroy();
    },
  };
}

/** Service `echo` with one endpoint at `ip`:80, followed through the namer until its endpoints are that. */
async function followEcho(api: KubeApiServer, namer: K8sNamer, ip: string) {
  api.applyService('default', 'echo', [{ name: 'grpc', port: 80 }]);
  setEcho(api, ip);
  const name = namer.lookup(Path.of('default', 'grpc', 'echo'));
  const w = new Watching(name);
  const bound = await eventually('bound', () => boundOf(name), 5000);
  const addr = new Watching(bound.addr);
  await seesEcho(bound, ip, 'first endpoints');
  return { bound, close: () => { addr.close(); w.close(); } };
}

function setEcho(api: KubeApiServer, ip: string): void {
  api.applySlice('default', 'echo-1', 'echo', [{ ip }], [{ name: 'grpc', port: 80 }]);
}

function seesEcho(bound: BoundName, ip: string, what: string): Promise<unknown> {
  return eventually(what, () => sameSet(hostPorts(bound.addr.sample), [`${ip}:80`]), 5000);
}

/** Made-up Services named through the namer, each one watch pair (Service, EndpointSlices). */
function nameServices(namer: K8sNamer, services: string[]) {
  return services.map((s) => new Watching(namer.lookup(Path.of('default', 'grpc', s))));
}

test('lists and watches share one HTTP/2 session to the API server', { skip }, () =>
  inCluster(first!, async (api, namer) => {
    const names = nameServices(namer, ['a', 'b', 'c']);
    await eventually('three made-up Services are Neg', () => names.every((n) => isNeg(n.v as never)), 5000);
    await eventually('their six watches are open', () => api.openWatches() === 6, 5000);
    assert.equal(api.requests.filter((r) => !r.watch).length, 6);
    // Over HTTP/1.1 each watch held a TLS connection of its own (6 for 6 lists and 6 watches).
    assert.equal(api.connectionsAccepted, 1, `${api.connectionsAccepted} connections for 6 lists and 6 watches`);
    assert.equal(api.sessionsAccepted, 1);
    // A watch the server ends resumes on the same session.
    api.closeWatches();
    await eventually('the watches resumed', () => api.requests.filter((r) => r.watch).length === 12 && api.openWatches() === 6, 5000);
    assert.equal(api.connectionsAccepted, 1);
    for (const n of names) n.close();
  }));

test("more watches than the server's SETTINGS_MAX_CONCURRENT_STREAMS open a second session", { skip }, () =>
  inCluster(
    first!,
    async (api, namer) => {
      const names = nameServices(namer, ['a', 'b', 'c']);
      await eventually('their six watches are open', () => api.openWatches() === 6, 5000);
      assert.equal(api.sessionsAccepted, 2, `${api.sessionsAccepted} sessions for 6 watches at 4 streams a session`);
      assert.equal(api.openSessions(), 2);
      // No stream was refused: each list and watch was asked for once.
      assert.equal(api.requests.length, 12);
      for (const n of names) n.close();
    },
    { server: { maxConcurrentStreams: 4 } },
  ));

test('after a GOAWAY the watches go on, then resume on a new session, and endpoints keep flowing', { skip }, () =>
  inCluster(first!, async (api, namer) => {
    const echo = await followEcho(api, namer, '10.0.0.1');
    await eventually('both watches open', () => api.openWatches() === 2, 5000);
    api.goaway();
    // The server lets the session's streams finish: the watches on it still deliver.
    setEcho(api, '10.0.0.2');
    await seesEcho(echo.bound, '10.0.0.2', 'endpoints over the session that got GOAWAY');
    assert.equal(api.sessionsAccepted, 1);
    // A new name's list and watches go on a new session while the old one still holds its watches.
    const other = nameServices(namer, ['other']);
    await eventually('a new session for new streams', () => api.openWatches() === 4 && api.sessionsAccepted === 2 && api.openSessions() === 2, 5000);
    // The old session's watches end (a server-side timeout): they resume on the new session, the old one closes.
    api.closeWatches();
    await eventually('the watches resumed on the new session', () => api.openWatches() === 4 && api.openSessions() === 1, 5000);
    assert.equal(api.sessionsAccepted, 2);
    setEcho(api, '10.0.0.3');
    await seesEcho(echo.bound, '10.0.0.3', 'endpoints over the new session');
    for (const n of other) n.close();
    echo.close();
  }));

test('a server whose ALPN offers only http/1.1 gets HTTP/1.1: one keep-alive connection per watch, a watch goes on over its list\'s', { skip }, () =>
  inCluster(
    first!,
    async (api, namer) => {
      const names = nameServices(namer, ['a', 'b']);
      const echo = await followEcho(api, namer, '10.0.0.1');
      await eventually('six watches open', () => api.openWatches() === 6, 5000);
      assert.equal(api.sessionsAccepted, 0);
      // The connection that asked ALPN for h2, then one per watch (each list's connection is its watch's).
      assert.equal(api.connectionsAccepted, 7, `${api.connectionsAccepted} connections for 6 lists and 6 watches`);
      setEcho(api, '10.0.0.2');
      await seesEcho(echo.bound, '10.0.0.2', 'endpoints over HTTP/1.1');
      echo.close();
      for (const n of names) n.close();
    },
    { server: { http1Only: true } },
  ));

test('a session with no streams closes: a namer with no watches holds no connection', { skip }, () =>
  inCluster(
    first!,
    async (api, namer) => {
      const names = nameServices(namer, ['a']);
      await eventually('its watches are open', () => api.openWatches() === 2, 5000);
      assert.equal(api.openSessions(), 1);
      for (const n of names) n.close();
      namer.close();
      await eventually('the idle session closed', () => api.openSessions() === 0, 5000);
    },
    { sessionTimes: { idleMs: 20, pingMs: 30_000, pingTimeoutMs: 15_000, connectMs: 10_000 } },
  ));

test('a session that stops answering PINGs is dropped: its watches resume on a new one', { skip }, () =>
  inCluster(
    first!,
    async (api, namer, _sa, relay) => {
      const echo = await followEcho(api, namer, '10.0.0.1');
      await eventually('both watches open', () => api.openWatches() === 2, 5000);
      relay!.freeze();
      // The frozen watches would wait out their stall timer (timeoutSeconds × 1–2 + 30 s) on the dead session.
      await eventually('the watches resumed on a new session', () => api.sessionsAccepted === 2 && api.openWatches() >= 2, 5000);
      setEcho(api, '10.0.0.2');
      await seesEcho(echo.bound, '10.0.0.2', 'endpoints over the new session');
      echo.close();
    },
    { relayed: true, sessionTimes: { idleMs: 30_000, pingMs: 50, pingTimeoutMs: 200, connectMs: 10_000 } },
  ));

test('a rotated CA bundle (ca.crt) is used for the next connection: watches converge after the API server changes its certificate', { skip }, () =>
  inCluster(first!, async (api, namer, sa) => {
    const echo = await followEcho(api, namer, '10.0.0.1');
    await api.stop();
    writeFileSync(join(sa, 'ca.crt'), second!.cert);
    await api.restart(second!);
    setEcho(api, '10.0.0.2');
    await seesEcho(echo.bound, '10.0.0.2', 'endpoints seen over the new certificate');
    echo.close();
  }));

/**
 * Every request waits on a session being made: a connect that hangs (a load balancer that accepts
 * and says nothing) held every list and watch for good, where an HTTP/1.1 request timed out alone.
 */
test('a new session that gets no TLS handshake within connectMs is given up, and the next request connects again', async () => {
  const accepted: net.Socket[] = [];
  const silent = net.createServer((socket) => accepted.push(socket));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const port = (silent.address() as net.AddressInfo).port;
  const sessions = new H2Sessions(new URL(`https://127.0.0.1:${port}`), { secureContext: tls.createSecureContext({}) }, { idleMs: 30_000, pingMs: 30_000, pingTimeoutMs: 15_000, connectMs: 50 });
  try {
    const ask = () => sessions.request({ ':method': 'GET', ':path': '/api/v1/services' });
    await assert.rejects(ask(), /no TLS handshake and HTTP\/2 SETTINGS within 50 ms/);
    await assert.rejects(ask(), /within 50 ms/);
    assert.equal(accepted.length, 2, 'the second request tried a connection of its own');
  } finally {
    for (const socket of accepted) socket.destroy();
    silent.close();
  }
});
