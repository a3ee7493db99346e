import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Path } from '../../src/dtab/path.js';
import { Empty, Neg, leaf, union, weighted, type NameTree } from '../../src/dtab/nametree.js';
import type { Addr, BoundName } from '../../src/dtab/name.js';
import { ipBytes, MAX_ENTRIES, serverList } from '../../src/grpclb/server-list.js';
import { serviceName } from '../../src/grpclb/server.js';
import { Var } from '../../src/util/var.js';

function bound(id: string, addr: Addr): BoundName {
  return { kind: 'bound', id: Path.of(id), residual: Path.empty, addr: Var.value(addr) };
}
function at(...hostPorts: (string | [string, number])[]): Addr {
  return {
    type: 'bound',
    meta: {},
    addrs: hostPorts.map((h) => {
      const [hp, weight] = typeof h === 'string' ? [h, 1] : h;
      const i = hp.lastIndexOf(':');
      return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)), weight, meta: {} };
    }),
  };
}
const keys = (tree: NameTree<BoundName>) => serverList(tree).servers.map((s) => s.key);

test('a leaf lists its addresses once each, sorted, whatever order discovery gave', () => {
  assert.deepEqual(keys(leaf(bound('a', at('10.0.0.2:80', '10.0.0.1:80', '10.0.0.1:81')))), ['10.0.0.1:80', '10.0.0.1:81', '10.0.0.2:80']);
  assert.deepEqual(keys(leaf(bound('a', at()))), []);
  assert.deepEqual(keys(Neg as NameTree<BoundName>), []);
  assert.deepEqual(keys(Empty as NameTree<BoundName>), []);
});

test('union shares and discovery weights become repetitions, interleaved; the rarest address appears once', () => {
  const tree = union(weighted(9, leaf(bound('stable', at('10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80')))), weighted(1, leaf(bound('canary', at('10.0.1.1:80')))));
  const list = keys(tree);
  const count = (k: string) => list.filter((x) => x === k).length;
  // 0.9 over three endpoints is 0.3 each against the canary's 0.1: 3:3:3:1.
  assert.deepEqual([count('10.0.0.1:80'), count('10.0.0.2:80'), count('10.0.0.3:80'), count('10.0.1.1:80')], [3, 3, 3, 1]);
  assert.equal(list.length, 10);
  // Never the same address twice in a row when others have entries left (smooth weighted round robin).
  for (let i = 1; i < list.length; i++) assert.ok(list[i] !== list[i - 1] || list[i] === '10.0.0.1:80', list.join(' '));
  // Discovery weights, and weight 0 (no calls).
  assert.deepEqual(keys(leaf(bound('w', at(['10.0.0.1:80', 2], ['10.0.0.2:80', 1], ['10.0.0.3:80', 0])))), ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.1:80']);
  // All-zero union weights share evenly, as the router's pick does.
  assert.deepEqual(keys(union(weighted(0, leaf(bound('x', at('10.0.0.1:80')))), weighted(0, leaf(bound('y', at('10.0.0.2:80')))))), ['10.0.0.1:80', '10.0.0.2:80']);
  // The same address in two branches gets both shares: 1/2 + 1/4 against 1/4.
  assert.deepEqual(keys(union(weighted(1, leaf(bound('x', at('10.0.0.1:80')))), weighted(1, leaf(bound('y', at('10.0.0.1:80', '10.0.0.2:80')))))), ['10.0.0.1:80', '10.0.0.1:80', '10.0.0.2:80', '10.0.0.1:80']);
});

test('extreme weights stay within MAX_ENTRIES with every address still listed', () => {
  const tree = union(weighted(1e9, leaf(bound('big', at('10.0.0.1:80', '10.0.0.2:80')))), weighted(1, leaf(bound('tiny', at('10.0.0.3:80')))));
  const list = keys(tree);
  assert.ok(list.length <= MAX_ENTRIES, `${list.length} entries`);
  assert.deepEqual([...new Set(list)].sort(), ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']);
});

test('an empty branch of a union gives its share to the others; a pending leaf is reported; host names are skipped', () => {
  const tree = union(weighted(1, leaf(bound('a', at('10.0.0.1:80')))), weighted(1, leaf(bound('b', at()))), weighted(1, leaf(bound('c', { type: 'pending' }))));
  const r = serverList(tree);
  assert.deepEqual(r.servers.map((s) => s.key), ['10.0.0.1:80']);
  assert.equal(r.pending, true);
  const named = serverList(leaf(bound('h', at('backend.example:80', '10.0.0.1:80'))));
  assert.deepEqual(named.servers.map((s) => s.key), ['10.0.0.1:80']);
  assert.deepEqual(named.skipped, ['backend.example:80']);
});

test('IP addresses as network-order bytes', () => {
  assert.deepEqual([...ipBytes('10.1.2.3')], [10, 1, 2, 3]);
  assert.deepEqual([...ipBytes('::1')], [...new Array(15).fill(0), 1]);
  assert.deepEqual([...ipBytes('fd00::a:1')], [0xfd, 0, ...new Array(10).fill(0), 0, 0x0a, 0, 1]);
  assert.deepEqual([...ipBytes('::ffff:10.0.0.1')], [...new Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 1]);
  assert.deepEqual([...ipBytes('fe80::1%eth0')], [0xfe, 0x80, ...new Array(13).fill(0), 1]);
});

test('initial_request.name: the port is dropped, case folded, anything but a host name is refused', () => {
  assert.deepEqual(serviceName('echo-server-lb.default'), { host: 'echo-server-lb.default' });
  assert.deepEqual(serviceName('echo-server-lb.default:8080'), { host: 'echo-server-lb.default' });
  assert.deepEqual(serviceName('my_svc.ns.svc.cluster.local.:443'), { host: 'my_svc.ns.svc.cluster.local.' });
  assert.deepEqual(serviceName('Echo-Server-LB.Default:8080'), { host: 'echo-server-lb.default' }, 'DNS names are case-insensitive');
  for (const bad of ['', 'a:b:80', 'a/b', 'a b', '..', '.', 'a:99999', '[::1]:80', 'é', 'x'.repeat(256)]) {
    assert.ok('error' in serviceName(bad), `${JSON.stringify(bad)} is refused`);
  }
});
