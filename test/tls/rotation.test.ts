import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ProxyHarness, addr } from '../proxy/harness.js';
import { startTestServer, unary, type TestClient } from '../fixtures/grpc/test-service.js';
import { TestPki, type Issued } from '../fixtures/tls/pki.js';
import { tlsClient } from './helpers.js';

const skip = !TestPki.available() && 'openssl not installed';
const NAME = { 'grpc.ssl_target_name_override': 'router.local', 'grpc.default_authority': 'router.local' };
let pki: TestPki;
let first: Issued;
let second: Issued;

before(() => {
  if (skip) return;
  pki = new TestPki();
  first = pki.issue('first', { names: ['router.local'], ips: ['127.0.0.1'] });
  second = pki.issue('second', { names: ['router.local'], ips: ['127.0.0.1'] });
});
after(() => pki?.remove());

/**
 * A Secret volume as kubelet lays it out: `tls.crt -> ..data/tls.crt`, `..data -> ..<timestamp>`.
 * An update writes a new timestamped directory and renames a new `..data` link over the old one.
 */
class SecretVolume {
  private n = 0;
  constructor(readonly dir: string) {
    mkdirSync(dir);
  }
  get cert(): string {
    return join(this.dir, 'tls.crt');
  }
  get key(): string {
    return join(this.dir, 'tls.key');
  }
  publish(cert: string, key: string): void {
    const version = `..2026_12_01_00_00_0${this.n++}`;
    mkdirSync(join(this.dir, version));
    copyFileSync(cert, join(this.dir, version, 'tls.crt'));
    copyFileSync(key, join(this.dir, version, 'tls.key'));
    if (this.n === 1) {
      symlinkSync(version, join(this.dir, '..data'));
      symlinkSync('..data/tls.crt', this.cert);
      symlinkSync('..data/tls.key', this.key);
      return;
    }
    symlinkSync(version, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
  }
}

/** The serial of the certificate a new TLS connection to `port` is shown. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(pki.ca.cert), servername: 'router.local', ALPNProtocols: ['h2'] }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.destroy();
    });
    s.on('error', reject);
  });
}

const serialOf = (file: string) => new X509Certificate(readFileSync(file)).serialNumber;

test('rotation under load: the kubelet ..data swap switches the served certificate without a failed call; a mismatched pair is never served', { skip }, async () => {
  const backend = await startTestServer({ name: 'b' });
  const volume = new SecretVolume(join(pki.dir, 'secret'));
  volume.publish(first.cert, first.key);
  const h = await new ProxyHarness(addr(backend.port), {}, { tls: { certPath: volume.cert, keyPath: volume.key, requireClientAuth: false } }).start();
  const material = h.server.tlsMaterial!;
  const nextChange = () => new Promise<void>((resolve) => material.onChange(() => resolve()));
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const clients: TestClient[] = [];
  // Long-lived channels (their connections must survive the swap) and a churn of new channels (new handshakes throughout).
  const loop = async (fresh: boolean) => {
    let client = tlsClient(h.target, pki.ca.cert, undefined, NAME);
    clients.push(client);
    while (!stop) {
      const r = await unary(client, { message: 'r' });
      if (r.error) failures.push(r.error.details);
      else ok++;
      if (fresh) {
        client.close();
        client = tlsClient(h.target, pki.ca.cert, undefined, NAME);
        clients.push(client);
      }
    }
  };
  const loops = [loop(false), loop(false), loop(true), loop(true)];
  const closedBefore = h.server.closedConnections;
  try {
    assert.equal(await servedSerial(h.port), serialOf(first.cert));

    // A half-rotated Secret (the new certificate beside the old key) does not load: the old pair keeps serving.
    volume.publish(second.cert, first.key);
    assert.equal(material.reload(), false);
    assert.match(material.lastError ?? '', /private key does not match the certificate/);
    assert.equal(await servedSerial(h.port), serialOf(first.cert));

    // The complete pair arrives by the same swap; the directory watch picks it up.
    const changed = nextChange();
    volume.publish(second.cert, second.key);
    await changed;
    assert.equal(await servedSerial(h.port), serialOf(second.cert));
    const okAtSwap = ok;
    // Calls keep flowing after the switch, on old connections and new ones.
    while (ok < okAtSwap + 50 && failures.length === 0) await new Promise((r) => setImmediate(r));
  } finally {
    stop = true;
    await Promise.all(loops);
    for (const c of clients) c.close();
    await h.close();
    await backend.close();
  }
  assert.deepEqual(failures, []);
  assert.ok(ok > 50, `only ${ok} calls`);
  // No connection was cut by the router while it rotated.
  const closed = h.server.closedConnections;
  for (const reason of ['error', 'protocol_error', 'unresponsive'] as const) assert.equal(closed[reason], closedBefore[reason], reason);
  assert.equal(material.reloads, 1);
});

test('client certificate material follows the ..data swap too; files vanishing mid-rotation keep the last good set', { skip }, async () => {
  const { ReloadingMaterial } = await import('../../src/tls/material.js');
  const { Logger } = await import('../../src/util/log.js');
  const client1 = pki.issue('client1', { names: ['c1'], client: true });
  const client2 = pki.issue('client2', { names: ['c2'], client: true });
  const volume = new SecretVolume(join(pki.dir, 'client-secret'));
  volume.publish(client1.cert, client1.key);
  const m = new ReloadingMaterial({ certPath: volume.cert, keyPath: volume.key, caPaths: [pki.ca.cert] }, { log: Logger.silent(), use: 'test' });
  // The watches do not hold the process open (a router's servers do); this test must.
  const alive = setInterval(() => {}, 1000);
  try {
    assert.equal(m.certificate('x')!.subject, 'CN=c1');
    const changed = new Promise<void>((resolve) => m.onChange(() => resolve()));
    volume.publish(client2.cert, client2.key);
    await changed;
    assert.equal(m.certificate('x')!.subject, 'CN=c2');
    rmSync(join(volume.dir, '..2026_12_01_00_00_00'), { recursive: true });
    // Files gone mid-rotation: nothing changes, the last good set stays.
    assert.equal(m.reload(), false);
  } finally {
    clearInterval(alive);
    m.close();
  }
});
