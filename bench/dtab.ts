// npm run bench:dtab — what the dtab engine costs: parsing a big dtab, binding many names, and the
// per-request price of a warm name through the BindingCache.
import { performance } from 'node:perf_hooks';
import { BindingCache } from '../src/dtab/binding-cache.js';
import { Dtab, NameInterpreter, Path, parseDtab, parsePath } from '../src/dtab/index.js';
import type { Addr, BoundName, Name } from '../src/dtab/name.js';
import type { NameTree } from '../src/dtab/nametree.js';
import type { Namer } from '../src/namers/namer.js';
import { ok, type Activity, type ActivityState } from '../src/util/activity.js';
import { Var } from '../src/util/var.js';
import { globalNamer } from '../src/namers/global.js';

/** A namer that binds every name at once to one fixed address, one shared Activity per name. */
class StaticNamer implements Namer {
  private readonly answers = new Map<string, Activity<NameTree<Name>>>();
  private readonly addr = Var.value<Addr>({ type: 'bound', addrs: [{ host: '10.0.0.1', port: 8080, weight: 1, meta: {} }], meta: {} });
  constructor(private readonly prefix: Path) {}
  lookup(path: Path): Activity<NameTree<Name>> {
    const key = path.show();
    let a = this.answers.get(key);
    if (a === undefined) {
      const bound: BoundName = { kind: 'bound', id: this.prefix.concat(path.take(3)), addr: this.addr, residual: path.drop(3) };
      a = Var.value<ActivityState<NameTree<Name>>>(ok({ kind: 'leaf', value: bound }));
      this.answers.set(key, a);
    }
    return a;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function fmt(ms: number): string {
  return ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(1)} µs`;
}

// 1. Parse a 1,000-dentry dtab.
const bigText = Array.from(
  { length: 1000 },
  (_, i) => `/svc/com.example.Service${i} => 0.9 * /#/io.l5d.k8s/ns${i % 10}/grpc/service-${i} & 0.1 * /#/io.l5d.k8s/canary/grpc/service-${i} | /$/inet/10.0.${i % 250}.${i % 200}/${8000 + i} ; # entry ${i}`,
).join('\n');
const parseTimes: number[] = [];
for (let i = 0; i < 30; i++) {
  const t0 = performance.now();
  const d = parseDtab(bigText);
  parseTimes.push(performance.now() - t0);
  if (d.size !== 1000) throw new Error('bad parse');
}
console.log(`parse 1,000-dentry dtab (${(bigText.length / 1024).toFixed(0)} KiB): median ${fmt(median(parseTimes))} over 30 runs`);

// 2. Bind 10,000 distinct names through a 100-dentry dtab.
const k8s = parsePath('/#/io.l5d.k8s');
const interpreter = new NameInterpreter({ global: globalNamer(), namers: [{ prefix: k8s, kind: 'static', namer: new StaticNamer(k8s) }] });
const dtab100 = parseDtab(
  [
    '/srv => /#/io.l5d.k8s/default/grpc',
    '/svc => /$/io.buoyant.http.domainToPathPfx/grpc',
    '/grpc => /srv',
    ...Array.from({ length: 97 }, (_, i) => `/other${i} => /#/io.l5d.k8s/ns${i}/grpc | /$/fail`),
  ].join(';\n'),
);
const names = Array.from({ length: 10_000 }, (_, i) => parsePath(`/svc/com.example.grpc${i}.EchoService`));
{
  const t0 = performance.now();
  let bound = 0;
  for (const name of names) {
    const o = interpreter.bind(dtab100, name).observe((s) => {
      if (s.status === 'ok' && s.value.kind === 'leaf') bound++;
    });
    o.close();
  }
  const ms = performance.now() - t0;
  if (bound !== names.length) throw new Error(`bound ${bound} of ${names.length}`);
  console.log(`bind 10,000 distinct names through a 100-dentry dtab: ${fmt(ms)} total, ${fmt(ms / names.length)} per name`);
}

// 3. Per-request cost of a warm name through BindingCache.get.
{
  const cache = new BindingCache(interpreter, new Var(dtab100));
  const name = parsePath('/svc/com.example.grpc.EchoService');
  const local = Dtab.empty;
  cache.get(name, local);
  const rounds = 5;
  const n = 2_000_000;
  const perOp: number[] = [];
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) if (cache.get(name, local).sample.status === 'ok') sink++;
    perOp.push(((performance.now() - t0) * 1e6) / n);
  }
  console.log(`warm BindingCache.get (same Path, empty local dtab): median ${median(perOp).toFixed(0)} ns per request`);

  const withLocal = parseDtab('/svc/com.example.grpc.EchoService => /srv/canary');
  cache.get(name, withLocal);
  const perOpLocal: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) if (cache.get(name, withLocal).sample.status === 'ok') sink++;
    perOpLocal.push(((performance.now() - t0) * 1e6) / n);
  }
  console.log(`warm BindingCache.get (same Path, a parsed l5d-dtab): median ${median(perOpLocal).toFixed(0)} ns per request`);

  // A router that builds a new Path per request pays for Path.show() of it on each get.
  const segs = ['svc', 'com.example.grpc.EchoService'];
  const perOpFresh: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n / 4; i++) if (cache.get(new Path(segs), local).sample.status === 'ok') sink++;
    perOpFresh.push(((performance.now() - t0) * 1e6) / (n / 4));
  }
  console.log(`warm BindingCache.get (a new Path object each request): median ${median(perOpFresh).toFixed(0)} ns per request`);
  cache.close();
  if (sink === 0) console.log('');
}
