import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AdminConfig, AdminProbesConfig } from '../config/types.js';
import type { LogLevel } from '../util/log.js';
import type { AdminDeps, AdminTimeouts } from './deps.js';
import { DELEGATION_LIMITS, delegate, readDelegationRequest, selectRouter } from './delegator.js';
import { DELEGATIONS_IN_FLIGHT, DELEGATIONS_IN_FLIGHT_PER_CLIENT, DelegationSlots } from './delegation-slots.js';
import { HttpError, isJsonContentType, readBody, sendBody, sendJson, sendText } from './http.js';
import { listenBounded, type BoundedListener } from './listener.js';
import { flatMetrics, subtree, toFlatObject, toTree } from './metrics-json.js';
import { DashboardSampler } from './sampler.js';
import { clientState, dashboardState, namerStatePath } from './views.js';

export type { AdminDeps, AdminPage, AdminRouter } from './deps.js';
export { adminRouter, dentriesBefore } from './router-view.js';

/** Short, as admin requests are: a dashboard polls on one kept-alive connection. */
export const ADMIN_TIMEOUTS: AdminTimeouts = { idle: 5000, headers: 10_000, request: 30_000, linger: 5000, check: 2000 };

export interface AdminServer {
  readonly port: number;
  /** The probes listener's port, with `admin.probes`. */
  readonly probesPort?: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

interface Route {
  path: string;
  help: string;
  /** Methods answered; default GET and HEAD. */
  methods?: readonly string[];
  /** Mutates the process: only served with `admin.controlEnabled`. */
  control?: boolean;
  handler: Handler;
}

const READ_ONLY = ['GET', 'HEAD'] as const;

const ASSETS = new URL('./assets/', import.meta.url);
const ASSET_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};
/** Flat names only (no `/`, no `..`): the page's modules, stylesheet and icon. */
const ASSET_NAME = /^[a-z][a-z0-9-]*\.(js|css|svg)$/;
/** A page's id: its tab's `#<id>` and its script's file name. */
const PAGE_ID = /^[a-z][a-z0-9]*$/;
const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * What the probes listener (`admin.probes`) serves, on the pod IP where any pod reaches it: the
 * kubelet's probes, and Prometheus text if asked. The dashboard, the delegator and the config stay
 * on the admin server, which can then bind 127.0.0.1.
 */
function probePaths(probes: AdminProbesConfig): string[] {
  return probes.metrics ? ['/ready', '/live', '/metrics'] : ['/ready', '/live'];
}

/** Start the admin HTTP server (node:http, no framework) on `config.ip:config.port`. */
export async function startAdmin(config: AdminConfig, deps: AdminDeps): Promise<AdminServer> {
  const log = deps.log.child({ component: 'admin' });
  const sampler = new DashboardSampler(deps.metrics);
  const startedAt = Date.now();
  const pages = deps.pages ?? [];
  const reached = (limit: string) => deps.metrics.limitsReached.labels({ limit }).inc();
  const delegations = new DelegationSlots(config.maxDelegations ?? DELEGATIONS_IN_FLIGHT, config.maxDelegationsPerClient ?? DELEGATIONS_IN_FLIGHT_PER_CLIENT, reached);
  const delegationLimits = {
    maxNodes: config.maxDelegationNodes ?? DELEGATION_LIMITS.maxNodes,
    maxBytes: config.maxDelegationBytes ?? DELEGATION_LIMITS.maxBytes,
    reached,
  };
  for (const p of pages) if (!PAGE_ID.test(p.id) || p.id === 'dashboard' || p.id === 'dtab') throw new Error(`admin page id "${p.id}" must be lowercase letters and digits, not dashboard or dtab`);

  const routes: Route[] = [
    { path: '/', help: 'dashboard (HTML)', handler: (_q, res) => serveAsset(res, 'index.html', 'text/html; charset=utf-8') },
    { path: '/admin', help: 'this list of endpoints', handler: (_q, res) => sendText(res, 200, index()) },
    { path: '/admin/index.txt', help: 'this list of endpoints', handler: (_q, res) => sendText(res, 200, index()) },
    { path: '/admin/ping', help: 'pong', handler: (_q, res) => sendText(res, 200, 'pong') },
    { path: '/live', help: 'liveness probe: 200 while the process answers', handler: (_q, res) => sendText(res, 200, 'live') },
    {
      path: '/ready',
      help: 'readiness probe: 200 when config is loaded, listeners bound, namers synced; 503 with reasons otherwise and while draining',
      handler: (_q, res) => {
        const { ready, reasons } = deps.readiness();
        if (ready) sendText(res, 200, 'ready');
        else sendText(res, 503, `not ready:\n${reasons.map((r) => `- ${r}`).join('\n') || '- (no reason given)'}`);
      },
    },
    { path: '/metrics', help: 'Prometheus text exposition', handler: (_q, res) => prometheus(res) },
    { path: '/admin/metrics/prometheus', help: 'Prometheus text exposition (Linkerd path)', handler: (_q, res) => prometheus(res) },
    {
      path: '/admin/metrics.json',
      help: 'metrics as flat Linkerd-style JSON; ?tree=1 nested; ?q=<scope> subtree; ?pretty=true',
      handler: async (_q, res, url) => {
        const flat = await flatMetrics(deps.metrics.registry);
        const pretty = url.searchParams.get('pretty') === 'true';
        const q = url.searchParams.get('q');
        if (url.searchParams.get('tree') === '1' || q) {
          const tree = toTree(flat);
          const node = q ? subtree(tree, q) : tree;
          if (!node) return sendJson(res, 404, { error: `No such subtree: ${q}` });
          return sendJson(res, 200, node, pretty);
        }
        sendJson(res, 200, toFlatObject(flat), pretty);
      },
    },
    { path: '/metrics.json', help: 'same as /admin/metrics.json (Linkerd serves both)', handler: (q, res, url) => byPath.get('/admin/metrics.json')!.handler(q, res, url) },
    { path: '/config.json', help: 'the effective configuration', handler: (_q, res, url) => sendJson(res, 200, deps.effectiveConfig ?? null, url.searchParams.get('pretty') === 'true') },
    {
      path: '/delegator.json',
      help: 'delegation tree: GET ?namespace=<router>&path=…&dtab=…, or POST JSON {namespace, dtab, path}',
      methods: ['GET', 'HEAD', 'POST'],
      handler: async (req, res, url) => {
        const request = await readDelegationRequest(req, url);
        const router = selectRouter(deps.routers, request.namespace);
        // A slot once the body is read: a client sending its body slowly holds a connection, not a slot.
        sendJson(res, 200, await delegations.run(req.socket.remoteAddress ?? '', () => delegate(router, request, delegationLimits)));
      },
    },
    { path: '/delegator', help: 'the dtab playground (dashboard tab)', handler: (_q, res) => sendText(res, 302, 'see /#dtab', { location: '/#dtab' }) },
    {
      path: '/bound-names.json',
      help: 'every bound name (client id) the routers hold, as a JSON array',
      handler: (_q, res) => sendJson(res, 200, [...new Set(deps.routers.flatMap((r) => r.snapshot().clients.map((c) => c.id)))].sort()),
    },
    { path: '/client_state.json', help: 'each bound client: address state and endpoints', handler: (_q, res) => sendJson(res, 200, clientState(deps.routers)) },
    {
      path: '/admin/dashboard.json',
      help: 'what the dashboard draws: per-router rates, latency, series of the last minutes, services, clients, dtabs',
      handler: (_q, res) => sendJson(res, 200, dashboardState(deps, sampler, startedAt)),
    },
    {
      path: '/logging.json',
      help: 'log level: GET lists it; POST {"level": "debug|info|warn|error"} changes it (control)',
      methods: ['GET', 'HEAD', 'POST'],
      handler: async (req, res, url) => {
        if (req.method !== 'POST' && !url.searchParams.has('level')) return sendJson(res, 200, [{ logger: 'root', level: deps.log.level }]);
        if (!config.controlEnabled) throw controlDisabled();
        // Linkerd changed levels with GET ?level=…; we take that and a POST body.
        let level: string | null = url.searchParams.get('level');
        if (req.method === 'POST' && level === null) {
          const body = await readBody(req);
          if (isJsonContentType(req.headers['content-type'])) {
            try {
              level = String((JSON.parse(body) as { level?: unknown }).level ?? '');
            } catch {
              throw new HttpError(400, `Malformed logging request: ${body}`);
            }
          } else level = new URLSearchParams(body).get('level');
        }
        const normalized = (level ?? '').toLowerCase() as LogLevel;
        if (!LEVELS.includes(normalized)) throw new HttpError(400, `Invalid level "${level ?? ''}": expected one of ${LEVELS.join(', ')}`);
        deps.log.setLevel(normalized);
        log.warn('log level changed', { level: normalized });
        sendJson(res, 200, [{ logger: 'root', level: normalized }]);
      },
    },
    {
      path: '/admin/shutdown',
      help: 'POST: graceful shutdown (control)',
      methods: ['POST'],
      control: true,
      handler: (_q, res) => {
        if (!deps.onShutdown) throw new HttpError(501, 'This process has no shutdown hook');
        log.warn('shutdown requested through the admin');
        sendText(res, 202, 'shutting down');
        deps.onShutdown();
      },
    },
    ...pages.map((p): Route => ({ path: p.path, help: p.help, handler: (_q, res, url) => sendJson(res, 200, p.json(url), url.searchParams.get('pretty') === 'true') })),
  ];
  const byPath = new Map(routes.map((r) => [r.path, r]));
  const scripts = new Map(pages.map((p) => [`/pages/${p.id}.js`, p.script]));

  function index(): string {
    const lines = routes.map((r) => `${r.path.padEnd(28)} ${r.help}${r.control && !config.controlEnabled ? ' [disabled: admin.controlEnabled is false]' : ''}`);
    lines.push(`${'/namer_state/<prefix>.json'.padEnd(28)} namer watch state: ${deps.namers.map((n) => namerStatePath(n)).join(', ') || 'no namers'}`);
    return `kube-grpc-router ${deps.version} admin\n\n${lines.join('\n')}`;
  }

  function controlDisabled(): HttpError {
    return new HttpError(403, 'Control endpoints are disabled: set admin.controlEnabled: true to allow shutdown and log level changes');
  }

  async function prometheus(res: ServerResponse): Promise<void> {
    sendBody(res, 200, deps.metrics.registry.contentType, await deps.metrics.registry.metrics(), { 'cache-control': 'no-store' });
  }

  async function serveAsset(res: ServerResponse, name: string | URL, type: string): Promise<void> {
    const body = await readFile(new URL(name, ASSETS));
    sendBody(res, 200, type, body, { 'cache-control': 'no-cache' });
  }

  function serve(route: Route, req: IncomingMessage, res: ServerResponse, url: URL): void | Promise<void> {
    if (route.control && !config.controlEnabled) throw controlDisabled();
    const methods = route.methods ?? READ_ONLY;
    if (!methods.includes(req.method ?? '')) {
      throw new HttpError(405, `Method ${req.method} not allowed on ${url.pathname}; use ${methods.join(' or ')}`, { allow: methods.join(', ') });
    }
    return route.handler(req, res, url);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const route = byPath.get(url.pathname);
    if (route) return serve(route, req, res, url);
    const script = scripts.get(url.pathname);
    if (script) return serveAsset(res, script, ASSET_TYPES.js!);
    if (url.pathname.startsWith('/assets/')) {
      const name = ASSET_NAME.exec(url.pathname.slice('/assets/'.length));
      if (name) {
        try {
          return await serveAsset(res, name[0], ASSET_TYPES[name[1]!]!);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
    if (url.pathname.startsWith('/namer_state/') && url.pathname.endsWith('.json')) {
      const wanted = decodedOr400(url.pathname.slice('/namer_state/'.length, -'.json'.length));
      const namer = deps.namers.find((n) => namerStatePath(n) === `/namer_state/${wanted}.json` || n.prefix.show() === '/' + wanted || n.prefix.show() === wanted);
      if (!namer) {
        const known = deps.namers.map((n) => namerStatePath(n)).join(', ') || 'none';
        throw new HttpError(404, `No namer at "${wanted}" (known: ${known})`);
      }
      if (!namer.namer.state) throw new HttpError(404, `Namer ${namer.prefix.show()} (${namer.kind}) keeps no watch state`);
      return sendJson(res, 200, { prefix: namer.prefix.show(), kind: namer.kind, state: namer.namer.state() });
    }
    throw new HttpError(404, `No admin endpoint at ${url.pathname}; see /admin for the list`);
  }

  /** The probes listener's requests: its few routes, the admin server's own handlers; anything else a 404. */
  function probesHandler(probes: AdminProbesConfig): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
    const served = new Map(probePaths(probes).map((path) => [path, byPath.get(path)!]));
    const list = [...served.keys()].join(', ');
    return async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://probes.invalid');
      const route = served.get(url.pathname);
      if (route) return serve(route, req, res, url);
      if (url.pathname === '/metrics') throw new HttpError(404, `/metrics is not served on the probes listener: set admin.probes.metrics: true to serve it here (it serves ${list})`);
      throw new HttpError(404, `No endpoint at ${url.pathname} on the probes listener: it serves ${list}; the dashboard and the rest are on the admin server (admin.ip, admin.port)`);
    };
  }

  // Bounded by count (admin.maxConnections, admin.maxConnectionsPerClient) and time (ADMIN_TIMEOUTS),
  // each listener on its own: a pod filling the probes listener's slots leaves the admin server's alone.
  const bounds = { maxConnections: config.maxConnections, maxConnectionsPerClient: config.maxConnectionsPerClient, timeouts: deps.timeouts ?? ADMIN_TIMEOUTS, metrics: deps.metrics, log };
  const admin = await listenBounded({ ...bounds, ip: config.ip, port: config.port, keys: 'admin.ip, admin.port', handle });
  let probes: BoundedListener | undefined;
  if (config.probes) {
    try {
      probes = await listenBounded({ ...bounds, ip: config.probes.ip, port: config.probes.port, keys: 'admin.probes.ip, admin.probes.port', handle: probesHandler(config.probes) });
    } catch (err) {
      await admin.close();
      throw err;
    }
  }
  sampler.start();
  log.info('admin listening', { ip: config.ip, port: admin.port, controlEnabled: config.controlEnabled });
  if (probes) log.info('admin probes listening', { ip: config.probes!.ip, port: probes.port, paths: probePaths(config.probes!) });

  return {
    port: admin.port,
    ...(probes ? { probesPort: probes.port } : {}),
    close: async () => {
      sampler.stop();
      await Promise.all([admin.close(), probes?.close()]);
    },
  };
}

/** A path segment with its %-escapes decoded; a bad escape is the client's error (400), not ours. */
function decodedOr400(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `bad %-escape in ${JSON.stringify(segment.slice(0, 100))}`);
  }
}
