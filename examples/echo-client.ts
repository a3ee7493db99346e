#!/usr/bin/env node
// Calls the echo service forever and logs who answered (the example app in daemonset.yaml):
//   node dist/examples/echo-client.js 10.0.0.5:4140 --interval 1s
import { parseArgs } from 'node:util';
import { echoClient } from './echo/client.js';
import { parseDuration } from '../src/config/duration.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { interval: { type: 'string', default: '1s' }, message: { type: 'string', default: 'hello' } },
});
const target = positionals[0] ?? '127.0.0.1:4140';
const intervalMs = parseDuration(values.interval!) ?? 1000;
const client = echoClient(target);
let n = 0;
const timer = setInterval(() => {
  const i = ++n;
  client.echo(`${values.message} ${i}`, { deadlineMs: 5000 }).then(
    (res) => console.log(JSON.stringify({ n: i, from: res.from, message: res.message })),
    (err: Error) => console.log(JSON.stringify({ n: i, error: err.message })),
  );
}, intervalMs);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    clearInterval(timer);
    client.close();
  });
}
