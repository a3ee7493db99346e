import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameInterpreter, addrJson, delegate, parseDtab, parsePath, type Addr, type DelegateNode } from '../../src/dtab/index.js';
import { globalNamer, resolvePolling } from '../../src/namers/global.js';
import { resolveHost } from '../../src/namers/dns.js';
import { HostNames } from '../../src/namers/host-names.js';
import type { Var } from '../../src/util/var.js';
import { DnsServer } from '../fixtures/dns-server.js';

/** The address set routing would use for `path`: bind it and wait for the leaf's address set. */
async function routed(interpreter: NameInterpreter, path: string): Promise<Addr> {
  const binding = interpreter.bind(parseDtab(''), parsePath(path));
  const keep = binding.observe(() => {});
  try {
    const state = binding.sample;
    assert.ok(state.status === 'ok' && state.value.kind === 'leaf', `${path} binds to a leaf`);
    return await settled(state.value.value.addr);
  } finally {
    keep.close();
  }
}

/** The first address set that is not pending, or pending after 3 s. */
function settled(addr: Var<Addr>): Promise<Addr> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      o.close();
      resolve(addr.sample);
    }, 3000);
    const o = addr.observe((a) => {
      if (a.type === 'pending') return;
      clearTimeout(timer);
      queueMicrotask(() => o.close());
      resolve(a);
    });
  });
}

function leafAddr(node: DelegateNode): unknown {
  if (node.type === 'leaf') return node.bound.addr;
  if (node.type === 'delegate') return leafAddr(node.delegate);
  assert.fail(`no leaf in ${JSON.stringify(node)}`);
}

// Routing used createHostResolver (c-ares, then getaddrinfo) and `dtab delegate`, the playground and
// library users the global namer's own dns.lookup poller: the same name could get two answers.
test('/$/inet: routing, dtab delegate and the library answer the same for the same literal or host', async () => {
  const routing = new NameInterpreter({ global: globalNamer({ resolveHost }) }); // how the router was wired
  const cli = new NameInterpreter({ global: globalNamer() }); // how `dtab delegate` builds its interpreter
  for (const path of ['/$/inet/\\x5b::1\\x5d/443', '/$/inet/LOCALHOST/4140', '/$/inet/localhost/4140', '/$/inet/127.1/80', '/$/inet/10.1.2.3/80', '/$/inet/::1/443', '/$/inet/4140', '/$/fixedinet/localhost/8080']) {
    const viaRouting = await routed(routing, path);
    const viaDelegate = leafAddr(await delegate(cli, parseDtab(''), parsePath(path)));
    assert.deepEqual(addrJson(viaRouting), viaDelegate, path);
    const [host, port] = parsePath(path).segments.slice(2);
    if (path.startsWith('/$/inet/') && port !== undefined) assert.deepEqual(await settled(resolvePolling(host!, Number(port))), viaRouting, `${path} (library)`);
  }
});

test('/$/inet and /$/fixedinet share one DNS table: the same host is one name, resolved the same way', async () => {
  const dns = await DnsServer.start();
  const hosts = new HostNames({ dnsHosts: [dns.address], refreshIntervalSeconds: 1 });
  try {
    dns.setAddresses('shared.test', ['10.8.0.1', '10.8.0.2'], 1);
    const interpreter = new NameInterpreter({ global: globalNamer({ hosts }) });
    const inet = await routed(interpreter, '/$/inet/shared.test/80/rest');
    const fixed = await routed(interpreter, '/$/fixedinet/shared.test/80');
    assert.deepEqual(inet, fixed);
    assert.deepEqual(leafAddr(await delegate(interpreter, parseDtab(''), parsePath('/$/inet/shared.test/80'))), addrJson(inet));
    assert.equal(hosts.inet('shared.test', 80), hosts.inet('SHARED.test', 80), 'one name per host:port');
    const nx = await routed(interpreter, '/$/inet/nx.test/80');
    assert.deepEqual(nx, { type: 'neg' });
    assert.deepEqual(await routed(interpreter, '/$/fixedinet/nx.test/80'), nx);
  } finally {
    hosts.close();
    await dns.close();
  }
});
