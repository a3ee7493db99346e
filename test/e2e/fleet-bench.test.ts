import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROOT } from './process.js';

const FLEET_BENCH = fileURLToPath(new URL('../../bench/fleet.js', import.meta.url));

/**
 * `npm run bench:fleet` in miniature, so the bench keeps working as the control plane changes: the
 * real CLI in control mode, the Kubernetes API test server, and two fleets of real ADS streams. What
 * is asserted is what the bench's figures rest on: the control plane's API watches are 2 per Service
 * whatever the number of subscribers, every subscriber of a changed Service gets the change, and no
 * stream ends.
 */
test('the fleet bench: watches per Service, not per subscriber; every change reaches every subscriber', { timeout: 180_000 }, async () => {
  const env = {
    ...process.env,
    BENCH_FLEET_STREAMS: '20,60',
    BENCH_FLEET_SERVICES: '10',
    BENCH_FLEET_NAMES: '4',
    BENCH_FLEET_CHANGES: '4',
    BENCH_FLEET_REST_SECONDS: '0',
    BENCH_FLEET_STREAMS_PER_CONNECTION: '25',
  };
  const child = spawn(process.execPath, [FLEET_BENCH], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, out);

  assert.match(out, /direct-watch mode, one router \(io\.l5d\.k8s\) routing all 10 Services: 20 API watches/, out);
  const held = [...out.matchAll(/API watches held by the control plane: (\d+) on Services \+ (\d+) on EndpointSlices \(watch requests made so far: (\d+)\)/g)];
  assert.deepEqual(
    held.map((m) => m.slice(1).map(Number)),
    [
      [10, 10, 20],
      [10, 10, 20],
    ],
    out,
  );
  const reached = [...out.matchAll(/reached (\d+) of (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  assert.equal(reached.length, 2, out);
  for (const [got, expected] of reached) {
    assert.ok(expected! > 0, out);
    assert.equal(got, expected, out);
  }
  assert.doesNotMatch(out, /FAILED/, out);
});
