#!/usr/bin/env node
// One echo call, printed as JSON: the README's "call it yourself" command.
//   node dist/examples/echo-call.js 127.0.0.1:4140 hello
//   node dist/examples/echo-call.js 127.0.0.1:4140 hello --dtab '/svc/com.example.grpc.EchoService=>/$/inet/127.0.0.1/9999'
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { echoClient } from './echo/client.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dtab: { type: 'string' },
    count: { type: 'string', default: '1' },
    deadline: { type: 'string', default: '5000' },
  },
});
if (positionals.length < 1) {
  console.error('usage: echo-call HOST:PORT [MESSAGE] [--dtab DTAB] [--count N]');
  process.exit(2);
}
const [target, message = 'hello'] = positionals as [string, string?];
const client = echoClient(target);
const metadata = new grpc.Metadata();
// A per-request dtab override, applied by the router to this call only.
if (values.dtab) metadata.set('l5d-dtab', values.dtab);
let failed = false;
for (let i = 0; i < Number(values.count); i++) {
  try {
    const res = await client.echo(message, { metadata, deadlineMs: Number(values.deadline) });
    console.log(JSON.stringify(res));
  } catch (err) {
    const e = err as grpc.ServiceError;
    console.error(JSON.stringify({ code: grpc.status[e.code] ?? e.code, details: e.details }));
    failed = true;
  }
}
client.close();
process.exitCode = failed ? 1 : 0;
