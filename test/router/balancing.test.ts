import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoServer, type EchoServer } from '../../examples/echo/server.js';
import { echoClient } from '../../examples/echo/client.js';
import { startRouter } from './setup.js';
import { CLIENT_DEFAULTS } from '../proxy/harness.js';
import { startTestServer, testClient, unary } from '../fixtures/grpc/test-service.js';

const ECHO = '/svc/com.example.grpc.EchoService';

async function threeEchoes(): Promise<EchoServer[]> {
  return Promise.all([startEchoServer(), startEchoServer(), startEchoServer()]);
}

async function spread(kind: string, concurrency: number): Promise<Map<string, number>> {
  const backends = await threeEchoes();
  const h = await startRouter(`${ECHO} => /#/test/echo`, { client: { ...CLIENT_DEFAULTS, loadBalancer: { kind, decayTimeMs: 10_000 } } });
  h.namer.serve('echo', backends.map((b) => b.port));
  // One client, one HTTP/2 connection to the router.
  const client = echoClient(h.target);
  try {
    const counts = new Map<string, number>();
    for (let done = 0; done < 300; done += concurrency) {
      const batch = await Promise.all(Array.from({ length: concurrency }, (_, i) => client.echo(`m${done + i}`)));
      for (const r of batch) counts.set(r.from, (counts.get(r.from) ?? 0) + 1);
    }
    return counts;
  } finally {
    client.close();
    await h.close();
    await Promise.all(backends.map((b) => b.close()));
  }
}

test('roundRobin: 300 calls on one connection over 3 echo backends give exactly 100 each', async () => {
  const counts = await spread('roundRobin', 1);
  assert.equal(counts.size, 3);
  for (const n of counts.values()) assert.equal(n, 100);
});

test('roundRobin with concurrent calls still gives exactly 100 each', async () => {
  const counts = await spread('roundRobin', 30);
  for (const n of counts.values()) assert.equal(n, 100);
});

/**
 * p2c and ewma choose by measured load and latency, so equal backends must also *look* equal: each call
 * takes 50 ms at the backend, which dwarfs the scheduling noise of a loaded machine, and a 1 s decay lets
 * one stall's peak fade within the test (with instant echo replies and a 10 s decay, one busy moment
 * made a backend look slow for the whole run and peak-EWMA rightly avoided it: 89/123/88).
 */
async function spreadOverEqualBackends(kind: string, concurrency: number): Promise<Map<string, number>> {
  const backends = await Promise.all(['a', 'b', 'c'].map((name) => startTestServer({ name })));
  const h = await startRouter(`/svc/kgr.test.TestService => /#/test/t`, { client: { ...CLIENT_DEFAULTS, loadBalancer: { kind, decayTimeMs: 1000 } } });
  h.namer.serve('t', backends.map((b) => b.port));
  const client = testClient(h.target);
  try {
    const counts = new Map<string, number>();
    for (let done = 0; done < 300; done += concurrency) {
      const batch = await Promise.all(Array.from({ length: concurrency }, (_, i) => unary(client, { message: `m${done + i}`, delay_ms: 50 })));
      for (const r of batch) {
        assert.equal(r.error, null);
        counts.set(r.resp!.from, (counts.get(r.resp!.from) ?? 0) + 1);
      }
    }
    return counts;
  } finally {
    client.close();
    await h.close();
    await Promise.all(backends.map((b) => b.close()));
  }
}

for (const kind of ['p2c', 'ewma'] as const) {
  test(`${kind}: 300 calls over 3 backends spread within 20 %`, async () => {
    const counts = await spreadOverEqualBackends(kind, 30);
    assert.equal(counts.size, 3, JSON.stringify([...counts]));
    for (const n of counts.values()) assert.ok(n >= 80 && n <= 120, JSON.stringify([...counts]));
  });
}

test('endpoint weights from discovery are respected', async () => {
  const backends = await Promise.all([startEchoServer(), startEchoServer()]);
  const h = await startRouter(`${ECHO} => /#/test/echo`);
  h.namer.addr('echo').set({
    type: 'bound',
    addrs: [
      { host: '127.0.0.1', port: backends[0]!.port, weight: 3, meta: {} },
      { host: '127.0.0.1', port: backends[1]!.port, weight: 1, meta: {} },
    ],
    meta: {},
  });
  const client = echoClient(h.target);
  try {
    const counts = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const r = await client.echo('w');
      counts.set(r.from, (counts.get(r.from) ?? 0) + 1);
    }
    assert.equal(counts.get(backends[0]!.address), 150);
    assert.equal(counts.get(backends[1]!.address), 50);
  } finally {
    client.close();
    await h.close();
    await Promise.all(backends.map((b) => b.close()));
  }
});

test('a Union in the dtab splits streams by weight (a weighted random pick per stream)', async () => {
  const [a, b] = await Promise.all([startEchoServer(), startEchoServer()]);
  const h = await startRouter(`${ECHO} => 3 * /$/inet/127.0.0.1/${a!.port} & 1 * /$/inet/127.0.0.1/${b!.port}`);
  const client = echoClient(h.target);
  try {
    let toA = 0;
    for (let i = 0; i < 400; i++) if ((await client.echo('u')).from === a!.address) toA++;
    // Expect 300; binomial sd ≈ 8.7, so ±45 is over 5 sd.
    assert.ok(toA > 255 && toA < 345, `A got ${toA} of 400`);
  } finally {
    client.close();
    await h.close();
    await a!.close();
    await b!.close();
  }
});

test('a backend added through discovery while a client streams gets the next calls', async () => {
  const [a, b] = await Promise.all([startEchoServer(), startEchoServer()]);
  const h = await startRouter(`${ECHO} => /#/test/echo`);
  h.namer.serve('echo', [a!.port]);
  const client = echoClient(h.target);
  try {
    for (let i = 0; i < 5; i++) assert.equal((await client.echo('x')).from, a!.address);
    h.namer.serve('echo', [a!.port, b!.port]);
    const froms = new Set<string>();
    for (let i = 0; i < 4; i++) froms.add((await client.echo('y')).from);
    assert.ok(froms.has(b!.address));
  } finally {
    client.close();
    await h.close();
    await a!.close();
    await b!.close();
  }
});

test('a dtab change moves the next calls; calls already made were unaffected', async () => {
  const [a, b] = await Promise.all([startEchoServer(), startEchoServer()]);
  const { parseDtab } = await import('../../src/dtab/parse.js');
  const h = await startRouter(`${ECHO} => /$/inet/127.0.0.1/${a!.port}`);
  const client = echoClient(h.target);
  try {
    assert.equal((await client.echo('1')).from, a!.address);
    h.dtab.set(parseDtab(`${ECHO} => /$/inet/127.0.0.1/${b!.port}`));
    for (let i = 0; i < 3; i++) assert.equal((await client.echo('2')).from, b!.address);
  } finally {
    client.close();
    await h.close();
    await a!.close();
    await b!.close();
  }
});
