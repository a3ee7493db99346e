import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostNames } from '../../src/namers/host-names.js';
import { REFUSED_RETRY_MAX_MS } from '../../src/namers/ask-until-room.js';
import type { Addr } from '../../src/dtab/name.js';
import { FakeClock } from '../support/fake-clock.js';
import { eventually } from '../support/eventually.js';

test('new DNS names start resolving at most namesPerSecond after a burst: one over it stays pending, saying why, then resolves', async () => {
  const clock = new FakeClock();
  const asked: string[] = [];
  let limited = 0;
  const hosts = new HostNames({
    clock,
    rate: { perSecond: 1, burst: 2 },
    onRate: () => limited++,
    lookup: async (host) => {
      asked.push(host);
      return { kind: 'ok', records: ['10.0.0.1'], ttlSeconds: 60 };
    },
  });
  try {
    const seen = new Map<string, Addr>();
    const follows = ['a.example', 'b.example', 'c.example'].map((host) => hosts.inet(host, 80).observe((addr) => seen.set(host, addr)));
    await eventually('the burst resolves', () => seen.get('a.example')?.type === 'bound' && seen.get('b.example')?.type === 'bound', 2000);
    assert.deepEqual(asked.sort(), ['a.example', 'b.example'], 'the third was not looked up');
    assert.equal(seen.get('c.example')?.type, 'pending');
    assert.equal(limited, 1);
    clock.advance(REFUSED_RETRY_MAX_MS);
    await eventually('the third resolves once it may', () => seen.get('c.example')?.type === 'bound', 2000);
    assert.equal(limited, 1, 'asking again is not a new refusal');
    for (const f of follows) f.close();
  } finally {
    hosts.close();
  }
});
