import { hostname } from 'node:os';
import type { PrefixedNamer } from '../dtab/namer.js';
import type { ClientSnapshot } from '../introspection/snapshots.js';
import type { AdminDeps, AdminRouter } from './deps.js';
import type { DashboardSampler } from './sampler.js';

/** The JSON documents the admin serves, built from router snapshots and the sampler. */

/** `/namer_state/io.l5d.k8s.json` for `/#/io.l5d.k8s` (Linkerd names namers without the `/#`). */
export function namerStatePath(namer: PrefixedNamer): string {
  const shown = namer.prefix.show();
  const bare = shown.startsWith('/#/') ? shown.slice(3) : shown.slice(1);
  return `/namer_state/${bare}.json`;
}

interface ClientState {
  state: ClientSnapshot['addr'];
  error?: string;
  addresses: string[];
  router: string;
  loadBalancer: string;
  endpoints: ClientSnapshot['endpoints'];
  tls?: ClientSnapshot['tls'];
}

/**
 * Linkerd's `/client_state.json`: bound client id → its address state and addresses, plus the
 * per-endpoint view Linkerd lacked. A client bound by two routers appears once per router
 * (`<id> (router <label>)` for the second).
 */
export function clientState(routers: readonly AdminRouter[]): Record<string, ClientState> {
  const out: Record<string, ClientState> = {};
  for (const router of routers) {
    for (const c of router.snapshot().clients) {
      const key = c.id in out ? `${c.id} (router ${router.label})` : c.id;
      out[key] = {
        state: c.addr,
        ...(c.addrError !== undefined ? { error: c.addrError } : {}),
        addresses: c.endpoints.map((e) => e.address),
        router: router.label,
        loadBalancer: c.loadBalancer,
        endpoints: c.endpoints,
        ...(c.tls ? { tls: c.tls } : {}),
      };
    }
  }
  return out;
}

/** Everything one dashboard refresh needs, in one document. */
export function dashboardState(deps: AdminDeps, sampler: DashboardSampler, startedAt: number) {
  const mem = process.memoryUsage();
  return {
    version: deps.version,
    now: Date.now(),
    uptimeSec: Math.round((Date.now() - startedAt) / 1000),
    // Which router this page belongs to when the admin port sits behind a load balancer (Linkerd #1946).
    host: { hostname: hostname(), nodeName: process.env.NODE_NAME, podName: process.env.POD_NAME },
    process: { pid: process.pid, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, node: process.version },
    readiness: deps.readiness(),
    pages: (deps.pages ?? []).map((p) => ({ id: p.id, title: p.title, path: p.path })),
    namers: deps.namers.map((n) => ({ prefix: n.prefix.show(), kind: n.kind, statePath: n.namer.state ? namerStatePath(n) : undefined })),
    routers: deps.routers.map((router) => {
      const snap = router.snapshot();
      const label = router.label;
      return {
        label,
        servers: snap.servers,
        certificates: snap.certificates ?? [],
        dtab: snap.dtab,
        current: sampler.current('router', label),
        series: sampler.series(label),
        services: snap.services.map((s) => ({ ...s, current: sampler.current('service', label, s.name) })),
        clients: snap.clients.map((c) => ({ ...c, current: sampler.current('client', label, c.id) })),
      };
    }),
  };
}
