import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsServer } from '../fixtures/dns-server.js';
import { DnsNamer, createHostResolver } from '../../src/namers/dns.js';
import { DnsSrvNamer } from '../../src/namers/dnssrv.js';
import { DnsResolver } from '../../src/namers/dns-resolver.js';
import { Path } from '../../src/dtab/path.js';
import { Watching, boundOf, isNeg, hostPorts, sameSet } from './helpers.js';
import { eventually } from '../support/eventually.js';
import { FakeClock } from '../support/fake-clock.js';

const p = (text: string) => new Path(text.split('/').filter(Boolean));

async function withDns(fn: (dns: DnsServer) => Promise<void>): Promise<void> {
  const dns = await DnsServer.start();
  try {
    await fn(dns);
  } finally {
    await dns.close();
  }
}

test('io.l5d.dns: A and AAAA records on the port; re-resolved when the TTL runs out', () =>
  withDns(async (dns) => {
    dns.setAddresses('echo.test', ['10.0.0.1', 'fd00::1'], 1);
    const clock = new FakeClock();
    const namer = new DnsNamer(Path.of('#', 'io.l5d.dns'), { dnsHosts: [dns.address], refreshIntervalSeconds: 5, idleTtlMs: 0, clock });
    const a = namer.lookup(p('/Echo.Test/8080/rest'));
    const w = new Watching(a);
    const bound = await eventually('bound', () => boundOf(a), 5000);
    assert.equal(bound.id.show(), '/#/io.l5d.dns/echo.test/8080');
    assert.equal(bound.residual.show(), '/rest');
    const addr = new Watching(bound.addr);
    await eventually('both families', () => sameSet(hostPorts(bound.addr.sample), ['10.0.0.1:8080', '[fd00::1]:8080']), 5000);
    dns.setAddresses('echo.test', ['10.0.0.2'], 1);
    const queries = dns.count('echo.test');
    clock.advance(999);
    assert.equal(dns.count('echo.test'), queries, 'not asked again within the 1 s TTL');
    clock.advance(1);
    await eventually('change after a 1 s TTL', () => sameSet(hostPorts(bound.addr.sample), ['10.0.0.2:8080']), 2000);
    addr.close();
    w.close();
    namer.close();
  }));

test('io.l5d.dns: a long TTL is capped at refreshIntervalSeconds', () =>
  withDns(async (dns) => {
    dns.setAddresses('long.test', ['10.1.0.1'], 3600);
    const clock = new FakeClock();
    const namer = new DnsNamer(Path.of('#', 'io.l5d.dns'), { dnsHosts: [dns.address], refreshIntervalSeconds: 1, idleTtlMs: 0, clock });
    const a = namer.lookup(p('/long.test/80'));
    const w = new Watching(a);
    const bound = await eventually('boundOf(a)', () => boundOf(a));
    const addr = new Watching(bound.addr);
    await eventually("sameSet(hostPorts(bound.addr.sample), ['10.1.0.1:80'])", () => sameSet(hostPorts(bound.addr.sample), ['10.1.0.1:80']));
    dns.setAddresses('long.test', ['10.1.0.2'], 3600);
    clock.advance(1000);
    await eventually('re-resolved within the refresh interval', () => sameSet(hostPorts(bound.addr.sample), ['10.1.0.2:80']), 2000);
    addr.close();
    w.close();
    namer.close();
  }));

test('io.l5d.dns: NXDOMAIN is Neg; a name that appears later binds', () =>
  withDns(async (dns) => {
    const clock = new FakeClock();
    const namer = new DnsNamer(Path.of('#', 'io.l5d.dns'), { dnsHosts: [dns.address], refreshIntervalSeconds: 1, idleTtlMs: 0, clock });
    const a = namer.lookup(p('/missing.test/80'));
    const w = new Watching(a);
    await eventually('Neg', () => isNeg(a), 5000);
    dns.setAddresses('missing.test', ['10.2.0.1'], 1);
    clock.advance(1000);
    const bound = await eventually('bound once it exists', () => boundOf(a), 2000);
    await eventually("sameSet(hostPorts(bound.addr.sample), ['10.2.0.1:80'])", () => sameSet(hostPorts(bound.addr.sample), ['10.2.0.1:80']));
    assert.ok(isNeg(namer.lookup(p('/missing.test/notaport'))), 'a non-numeric port is Neg');
    assert.ok(isNeg(namer.lookup(p('/only-host'))));
    w.close();
    namer.close();
  }));

test('io.l5d.dns: resolver errors (SERVFAIL, no answer) keep the last good answer, then recover', () =>
  withDns(async (dns) => {
    dns.setAddresses('flaky.test', ['10.3.0.1'], 1);
    const clock = new FakeClock();
    const namer = new DnsNamer(Path.of('#', 'io.l5d.dns'), {
      dnsHosts: [dns.address],
      refreshIntervalSeconds: 1,
      idleTtlMs: 0,
      timeoutMs: 200,
      tries: 1,
      clock,
    });
    const a = namer.lookup(p('/flaky.test/80'));
    const w = new Watching(a);
    const bound = await eventually('boundOf(a)', () => boundOf(a));
    const addr = new Watching(bound.addr);
    await eventually("sameSet(hostPorts(bound.addr.sample), ['10.3.0.1:80'])", () => sameSet(hostPorts(bound.addr.sample), ['10.3.0.1:80']));
    for (const how of ['servfail', 'drop'] as const) {
      dns.fail('flaky.test', how);
      const before = dns.count('flaky.test');
      // Each look moves time a step on: the retries back off on the clock (the query timeout is real).
      await eventually(`${how} queried again`, () => (clock.advance(500), dns.count('flaky.test') >= before + 4), 6000);
      assert.ok(sameSet(hostPorts(bound.addr.sample), ['10.3.0.1:80']), `last good kept through ${how}`);
      assert.ok(boundOf(a), 'still bound');
    }
    dns.setAddresses('flaky.test', ['10.3.0.2'], 1);
    await eventually('recovered', () => (clock.advance(500), sameSet(hostPorts(bound.addr.sample), ['10.3.0.2:80'])), 6000);
    addr.close();
    w.close();
    namer.close();
  }));

test('resolveHost for /$/inet: IP literals are constant, host names re-resolve while observed', () =>
  withDns(async (dns) => {
    dns.setAddresses('inet.test', ['10.4.0.1'], 1);
    const clock = new FakeClock();
    const resolveHost = createHostResolver({ dnsHosts: [dns.address], refreshIntervalSeconds: 1, idleTtlMs: 0, clock });
    const literal = resolveHost('127.0.0.1', 9000);
    assert.deepEqual(hostPorts(literal.sample), ['127.0.0.1:9000']);
    const v = resolveHost('inet.test', 9000);
    assert.equal(resolveHost('inet.test', 9000), v, 'shared while in use');
    const w = new Watching(v);
    await eventually('resolved', () => sameSet(hostPorts(v.sample), ['10.4.0.1:9000']), 5000);
    dns.setAddresses('inet.test', ['10.4.0.2', '10.4.0.3'], 1);
    clock.advance(1000);
    await eventually('re-resolved', () => sameSet(hostPorts(v.sample), ['10.4.0.2:9000', '10.4.0.3:9000']), 2000);
    w.close();
    const queries = dns.count('inet.test');
    clock.advance(5000);
    // A name resolved after the advance: its query reaches the server after any the advance set off.
    dns.setAddresses('probe.test', ['10.4.0.9'], 1);
    const probe = new Watching(resolveHost('probe.test', 1));
    await eventually('the probe resolved', () => sameSet(hostPorts(probe.v.sample), ['10.4.0.9:1']), 2000);
    probe.close();
    assert.equal(dns.count('inet.test'), queries, 'stops resolving once nobody observes');
  }));

test('resolveHost with the system resolver finds localhost through getaddrinfo', async () => {
  const resolveHost = createHostResolver({ idleTtlMs: 0 });
  const v = resolveHost('localhost', 8080);
  const w = new Watching(v);
  await eventually('localhost', () => v.sample.type === 'bound' && v.sample.addrs.length > 0, 5000);
  const hosts = v.sample.type === 'bound' ? v.sample.addrs.map((a) => a.host) : [];
  assert.ok(hosts.some((h) => h === '127.0.0.1' || h === '::1'), hosts.join(','));
  w.close();
});

test('io.l5d.dnssrv: targets and ports of the lowest priority, weighted; no records is Neg', () =>
  withDns(async (dns) => {
    dns.setSrv('_grpc._tcp.echo.test', [
      { priority: 10, weight: 3, port: 50051, target: 'a.echo.test' },
      { priority: 10, weight: 1, port: 50052, target: 'b.echo.test' },
      { priority: 20, weight: 1, port: 50053, target: 'c.echo.test' },
    ]);
    dns.setAddresses('a.echo.test', ['10.5.0.1'], 1);
    dns.setAddresses('b.echo.test', ['10.5.0.2'], 1);
    dns.setAddresses('c.echo.test', ['10.5.0.3'], 1);
    const clock = new FakeClock();
    const namer = new DnsSrvNamer(Path.of('#', 'io.l5d.dnssrv'), { dnsHosts: [dns.address], refreshIntervalSeconds: 1, idleTtlMs: 0, clock });
    const a = namer.lookup(p('/_grpc._tcp.echo.test/residual'));
    const w = new Watching(a);
    const bound = await eventually('bound', () => boundOf(a), 5000);
    assert.equal(bound.id.show(), '/#/io.l5d.dnssrv/_grpc._tcp.echo.test');
    const addr = new Watching(bound.addr);
    await eventually('priority 10 group', () => sameSet(hostPorts(bound.addr.sample), ['10.5.0.1:50051', '10.5.0.2:50052']), 5000);
    const s = bound.addr.sample;
    assert.deepEqual(s.type === 'bound' ? s.addrs.map((x) => x.weight) : [], [3, 1]);
    dns.setSrv('_grpc._tcp.echo.test', [{ priority: 20, weight: 1, port: 50053, target: 'c.echo.test' }]);
    clock.advance(1000);
    await eventually('SRV change', () => sameSet(hostPorts(bound.addr.sample), ['10.5.0.3:50053']), 2000);
    dns.remove('_grpc._tcp.echo.test');
    clock.advance(1000);
    await eventually('Neg once the SRV name is gone', () => isNeg(a), 2000);
    addr.close();
    w.close();
    namer.close();
  }));

test('dnsHosts must be IP addresses', () => {
  assert.throws(() => new DnsResolver({ dnsHosts: ['dns.example.com'] }), /dnsHosts: "dns.example.com" is not an IP address/);
  assert.doesNotThrow(() => new DnsResolver({ dnsHosts: ['10.0.0.10', '10.0.0.11:5353', '::1'] }));
});

test('io.l5d.dns: names clients choose are capped at maxNames; idle ones make room, and with all in use a new name fails naming the limit', () =>
  withDns(async (dns) => {
    let full = 0;
    const namer = new DnsNamer(Path.of('#', 'io.l5d.dns'), { dnsHosts: [dns.address], refreshIntervalSeconds: 5, idleTtlMs: 600_000, maxNames: 3, onFull: () => full++ });
    // Ten made-up hosts, one after another: each is kept warm for its idle TTL until room is needed.
    for (let i = 0; i < 10; i++) {
      const w = new Watching(namer.lookup(p(`/made-up-${i}.test/80`)));
      await eventually(`made-up-${i} is Neg`, () => isNeg(w.v as never), 5000);
      w.close();
    }
    assert.equal(Object.keys(namer.state() as object).length, 3);
    const held = [0, 1, 2].map((i) => new Watching(namer.lookup(p(`/held-${i}.test/80`))));
    await eventually('held names answered', () => held.every((h) => isNeg(h.v as never)), 5000);
    const refused = new Watching(namer.lookup(p('/one-more.test/80')));
    const bound = await eventually('refused name answered', () => boundOf(refused.v as never), 5000);
    assert.deepEqual(bound.addr.sample, { type: 'failed', cause: 'too many DNS names in use (maxNames 3): not resolving one-more.test/80' });
    assert.equal(Object.keys(namer.state() as object).length, 3);
    // Full at made-up-3..9 (7), at each held name (3, evicting made-up ones) and at one-more (1).
    assert.equal(full, 11);
    for (const h of [...held, refused]) h.close();
    namer.close();
  }));
