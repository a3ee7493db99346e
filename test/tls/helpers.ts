import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { Metrics } from '../../src/telemetry/metrics.js';
import type { ClientTlsConfig } from '../../src/config/types.js';
import { startTestServer, testClient, type TestClient, type TestServer } from '../fixtures/grpc/test-service.js';
import type { Issued, TestPki } from '../fixtures/tls/pki.js';

/** The certificates every TLS test uses, made once per test file. */
export interface Certs {
  pki: TestPki;
  /** The router's own serving certificate: router.local and 127.0.0.1. */
  router: Issued;
  /** A backend's: echo.default.svc.cluster.local only (so only SNI/commonName can match it). */
  backend: Issued;
  expired: Issued;
  wrongName: Issued;
  untrustedServer: Issued;
  client: Issued;
  untrustedClient: Issued;
}

export const BACKEND_NAME = 'echo.default.svc.cluster.local';

export function makeCerts(pki: TestPki): Certs {
  return {
    pki,
    router: pki.issue('router', { names: ['router.local'], ips: ['127.0.0.1'] }),
    backend: pki.issue('backend', { names: [BACKEND_NAME] }),
    expired: pki.issue('expired', { names: [BACKEND_NAME], expired: true }),
    wrongName: pki.issue('wrong-name', { names: ['other.default.svc.cluster.local'] }),
    untrustedServer: pki.issue('untrusted-server', { names: [BACKEND_NAME], untrusted: true }),
    client: pki.issue('client', { names: ['router-client'], client: true }),
    untrustedClient: pki.issue('untrusted-client', { names: ['router-client'], client: true, untrusted: true }),
  };
}

/** A real grpc-js TLS server (the test service) presenting `cert`; with `clientCa`, it requires client certificates from it. */
export function startTlsBackend(cert: Issued, options: { clientCa?: string; name?: string; serverOptions?: grpc.ServerOptions } = {}): Promise<TestServer> {
  const credentials = grpc.ServerCredentials.createSsl(
    options.clientCa ? readFileSync(options.clientCa) : null,
    [{ cert_chain: readFileSync(cert.cert), private_key: readFileSync(cert.key) }],
    options.clientCa !== undefined,
  );
  return startTestServer({ credentials, name: options.name ?? 'tls-backend', ...(options.serverOptions ? { serverOptions: options.serverOptions } : {}) });
}

/** A real grpc-js client over TLS trusting `ca`, optionally with a client certificate. */
export function tlsClient(target: string, ca: string, client?: Issued | undefined, options: grpc.ChannelOptions = {}): TestClient {
  const creds = grpc.credentials.createSsl(readFileSync(ca), client ? readFileSync(client.key) : null, client ? readFileSync(client.cert) : null);
  return testClient(target, options, creds);
}

/** Client TLS config as the loader makes it. */
export function clientTls(certs: Certs, extra: Partial<ClientTlsConfig> = {}): ClientTlsConfig {
  return { trustCerts: [certs.pki.ca.cert], disableValidation: false, ...extra };
}

/** The value of one counter series in the router's /metrics text, 0 when absent. */
export async function counter(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const text = await metrics.registry.metrics();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}
