import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
const [port, pid] = process.argv.slice(2).map(Number);
const body = Buffer.from([0, 0, 0, 0, 7, 0x0a, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
const ticks = () => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return [Number(f[11]), Number(f[12])]; };
function call(s) { return new Promise((res, rej) => { const r = s.request({ ':method': 'POST', ':path': '/bench.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers' }); r.on('response', () => {}); r.on('data', () => {}); r.on('end', res); r.on('error', rej); r.end(body); }); }
async function fresh(n) { for (let i = 0; i < n; i++) { const s = http2.connect(`http://127.0.0.1:${port}`); await call(s); await new Promise((r) => s.close(r)); } }
async function reuse(n) { const s = http2.connect(`http://127.0.0.1:${port}`); for (let i = 0; i < n; i++) await call(s); await new Promise((r) => s.close(r)); }
await fresh(300); await reuse(2000);
if (process.env.ONLY_FRESH) { await fresh(Number(process.env.ONLY_FRESH)); process.exit(0); }
for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
  let [u0, s0] = ticks(); await fresh(1000); let [u1, s1] = ticks();
  const fu = (u1 - u0) * 10, fs = (s1 - s0) * 10;
  [u0, s0] = ticks(); await reuse(1000); [u1, s1] = ticks();
  const ru = (u1 - u0) * 10, rs = (s1 - s0) * 10;
  console.log(`per new connection beyond its call: ${(fu + fs - ru - rs).toFixed(0)} µs (user ${(fu - ru).toFixed(0)}, system ${(fs - rs).toFixed(0)}); call on open connection ${(ru + rs).toFixed(0)} µs`);
}
