#!/usr/bin/env node
// The seed's echo server as a program (the example app in daemonset.yaml):
//   node dist/examples/echo-server.js --host 0.0.0.0 --port 8080
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { startEchoServer } from './echo/server.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '0.0.0.0' },
    port: { type: 'string', default: '8080' },
    name: { type: 'string' },
  },
});
const port = Number(values.port);
const server = await startEchoServer({ host: values.host!, port, name: values.name ?? process.env.POD_NAME ?? `${hostname()}:${port}` });
console.log(`echo server listening on ${server.address}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void server.close().then(() => process.exit(0)));
}
