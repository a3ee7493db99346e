import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Logger } from '../../src/util/log.js';
import { get } from '../e2e/process.js';
import { FakeClock } from '../support/fake-clock.js';
import { AdsClient, adsClient, startControl, type ControlHarness } from './harness.js';

/**
 * The control plane's graceful shutdown (`plane.shutdown`, SIGTERM's), with its shutdownDelay on a
 * FakeClock: time moves only when the test says, so nothing here sleeps.
 */

/** A control plane with a 30 s shutdown delay, counting its xDS server's drains and closes and the log lines. */
async function startTimedControl(t: TestContext) {
  const clock = new FakeClock();
  const messages: string[] = [];
  const log = Logger.create({ level: 'info', sink: { write: (line) => void messages.push((JSON.parse(line) as { msg: string }).msg) } });
  const control: ControlHarness = await startControl({ shutdownDelay: '30s', clock, log });
  t.after(() => control.close());
  const { xds } = control.plane;
  const calls = { drain: 0, close: 0 };
  const [drain, close] = [xds.drain.bind(xds), xds.close.bind(xds)];
  xds.drain = () => (calls.drain++, drain());
  xds.close = () => (calls.close++, close());
  return { control, clock, messages, calls };
}

const ready = (control: ControlHarness) => get(`http://127.0.0.1:${control.plane.admin.port}/ready`);

/** Let pending promise callbacks run (no time passes). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('control plane shutdown: not ready at once, streams kept through the delay, then ended UNAVAILABLE and stopped', async (t) => {
  const { control, clock, messages, calls } = await startTimedControl(t);
  const client = adsClient(control.address);
  t.after(() => client.close());
  const stream = new AdsClient(client);
  stream.request('route', ['echo.Echo']);
  await stream.nextOf('route');

  const done = control.plane.shutdown('test');
  assert.equal(control.plane.shutdown('again'), done, 'a second shutdown is the same one');
  const during = await ready(control);
  assert.equal(during.status, 503);
  assert.match(during.body, /shutting down/);
  clock.advance(29_999);
  await settle();
  assert.equal(calls.drain, 0, 'still serving during the delay');

  clock.advance(1);
  assert.equal((await stream.status).code, grpc.status.UNAVAILABLE, 'clients move to another replica');
  await done;
  assert.deepEqual(calls, { drain: 1, close: 1 });
  assert.deepEqual(messages.filter((m) => m.startsWith('shutting down') || m === 'stopped'), ['shutting down: not ready, ending xDS streams', 'stopped']);
});

test('control plane close() during the shutdown delay stops at once; the pending shutdown neither drains nor closes again', async (t) => {
  const { control, clock, messages, calls } = await startTimedControl(t);
  const done = control.plane.shutdown('SIGTERM');
  await control.plane.close();
  // The shutdown cut short ends with the close: it does not wait out the delay.
  const outcome = await Promise.race([done.then(() => 'ended'), settle().then(() => 'still pending')]);
  assert.equal(outcome, 'ended');
  assert.equal(clock.running, 0, 'the delay timer is gone');

  clock.advance(60_000);
  await settle();
  assert.deepEqual(calls, { drain: 0, close: 1 });
  assert.equal(messages.filter((m) => m === 'stopped').length, 1);
});
