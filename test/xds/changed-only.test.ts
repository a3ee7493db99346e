/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protobuf objects are read field by field */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adsClient, AdsClient, decodeResource, startControl, type ControlHarness } from './harness.js';

/**
 * What a change costs each subscriber: RDS/EDS responses carry only the resources changed or newly
 * subscribed (clients keep the rest), LDS/CDS responses every subscribed resource; an ACK's names
 * the stream already follows are not parsed again; a name that stops existing is an empty
 * ClusterLoadAssignment for EDS and left out for LDS/CDS. Raw ADS streams against a control plane
 * with an fs namer.
 */

const SERVICES = Array.from({ length: 50 }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
const IDS = SERVICES.map((s) => `/#/io.l5d.fs/${s}`);
// `extra` exists from the start but is subscribed to only later.
const endpoints = { ...Object.fromEntries(SERVICES.map((s, i) => [s, [`127.0.0.1 ${9000 + i}`]])), extra: ['127.0.0.1 9500'] };

const parsed = async (c: ControlHarness) => Number(/^kgr_xds_resource_names_parsed_total (\d+)/m.exec(await c.metrics.registry.metrics())?.[1] ?? NaN);
const ports = (cla: Record<string, any>): number[] => (cla.endpoints ?? []).flatMap((l: any) => l.lb_endpoints.map((e: any) => e.endpoint.address.socket_address.port_value));

test('EDS: a change to one of 50 names sends that one assignment; an ACK parses nothing; a new or resubscribed name is sent alone; a NACKed one is not resent; a new stream gets all', async () => {
  const c = await startControl({ endpoints });
  const client = adsClient(c.address);
  try {
    const s = new AdsClient(client);
    s.request('endpoint', IDS);
    let last = await s.nextOf('endpoint');
    assert.deepEqual(last.resources.map((r) => r.cluster_name).sort(), IDS, 'the first response: every name');
    assert.equal(await parsed(c), 50);
    s.request('endpoint', IDS, last.response);

    c.endpoints('svc-07', ['127.0.0.1 9007', '127.0.0.1 9107']);
    last = await s.nextOf('endpoint');
    assert.deepEqual(last.resources.map((r) => [r.cluster_name, ports(r)]), [['/#/io.l5d.fs/svc-07', [9007, 9107]]], 'exactly the one changed');
    s.request('endpoint', IDS, last.response);
    // A new name, sent alone: only it was parsed (the ACKs repeated 50 known names and parsed none).
    s.request('endpoint', [...IDS, '/#/io.l5d.fs/extra'], last.response);
    last = await s.nextOf('endpoint');
    assert.deepEqual(last.resources.map((r) => r.cluster_name), ['/#/io.l5d.fs/extra']);
    assert.equal(await parsed(c), 51, 'only the new name was parsed');

    // Dropped and asked for again: sent again, though unchanged.
    s.request('endpoint', IDS, last.response);
    last = await s.nextOf('endpoint');
    assert.deepEqual(last.resources, [], 'an unsubscribe is answered with nothing to send');
    s.request('endpoint', [...IDS, '/#/io.l5d.fs/extra'], last.response);
    last = await s.nextOf('endpoint');
    assert.deepEqual(last.resources.map((r) => [r.cluster_name, ports(r)]), [['/#/io.l5d.fs/extra', [9500]]]);

    // A NACKed change is not sent again until it changes again, and then alone.
    c.endpoints('svc-01', ['127.0.0.1 9201']);
    const rejected = await s.nextOf('endpoint');
    assert.deepEqual(rejected.resources.map((r) => r.cluster_name), ['/#/io.l5d.fs/svc-01']);
    s.request('endpoint', [...IDS, '/#/io.l5d.fs/extra'], rejected.response, 'no thanks');
    c.endpoints('svc-02', ['127.0.0.1 9202']);
    last = await s.nextOf('endpoint');
    assert.deepEqual(last.resources.map((r) => r.cluster_name), ['/#/io.l5d.fs/svc-02'], 'the rejected svc-01 is not resent');
    s.request('endpoint', [...IDS, '/#/io.l5d.fs/extra'], last.response);
    assert.equal(s.buffered, 0);
    s.cancel();

    // A new stream (a reconnect) knows nothing: every subscribed name is sent.
    const again = new AdsClient(client);
    again.request('endpoint', IDS);
    const all = await again.nextOf('endpoint');
    assert.equal(all.resources.length, 50);
    assert.deepEqual(ports(all.resources.find((r) => r.cluster_name === '/#/io.l5d.fs/svc-01')!), [9201]);
    again.cancel();
  } finally {
    client.close();
    await c.close();
  }
});

test('a name that stops existing: EDS sends it once with no endpoints, CDS and LDS leave it out of their full sets', async () => {
  const c = await startControl({ endpoints: { 'a.A': ['127.0.0.1 9001'], 'b.B': ['127.0.0.1 9002'] } });
  const client = adsClient(c.address);
  try {
    const s = new AdsClient(client);
    const ids = ['/#/io.l5d.fs/a.A', '/#/io.l5d.fs/b.B'];
    s.request('listener', ['a.A', 'b.B']);
    const lds = await s.nextOf('listener');
    s.request('listener', ['a.A', 'b.B'], lds.response);
    s.request('cluster', ids);
    const cds = await s.nextOf('cluster');
    s.request('cluster', ids, cds.response);
    s.request('endpoint', ids);
    const eds = await s.nextOf('endpoint');
    assert.equal(eds.resources.length, 2);
    s.request('endpoint', ids, eds.response);

    c.removeEndpoints('b.B');
    // One response of each type, in whatever order the two bindings see the deletion.
    const got = new Map<string, Record<string, any>[]>();
    for (let i = 0; i < 3; i++) {
      const r = await s.next(2000);
      got.set(r.type_url.split('.').pop()!, r.resources.map(decodeResource));
    }
    assert.deepEqual(got.get('Listener')!.map((r) => r.name), ['a.A'], 'LDS: the full set, without it');
    assert.deepEqual(got.get('Cluster')!.map((r) => r.name), ['/#/io.l5d.fs/a.A'], 'CDS: the full set, without it');
    assert.deepEqual(got.get('ClusterLoadAssignment'), [{ cluster_name: '/#/io.l5d.fs/b.B' }], 'EDS: it alone, with no endpoints');
    s.cancel();
  } finally {
    client.close();
    await c.close();
  }
});
