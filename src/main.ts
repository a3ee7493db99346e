import type { Config } from './config/types.js';
import { DtabFile } from './config/dtab-file.js';
import { Dtab, parseDtab, parsePath } from './dtab/index.js';
import { NameInterpreter } from './dtab/interpreter.js';
import { globalNamer } from './namers/global.js';
import { createNamer } from './namers/registry.js';
import type { PrefixedNamer } from './namers/namer.js';
import { DtabDependencies } from './namers/dtab-dependencies.js';
import type { GrpclbServer } from './grpclb/server.js';
import { Router } from './router/router.js';
import type { DtabSource } from './introspection/snapshots.js';
import { adminRouter, dentriesBefore, startAdmin, type AdminRouter, type AdminServer } from './admin/server.js';
import { Metrics } from './telemetry/metrics.js';
import { configureEndpointWindows, endpointBudgets } from './proxy/upstream.js';
import { REPLAY_BUDGET } from './proxy/replay-budget.js';
import type { Clock } from './util/clock.js';
import { Closers } from './util/closers.js';
import type { Logger } from './util/log.js';
import { ShutdownSequence } from './util/shutdown.js';
import { Var } from './util/var.js';
import { VERSION } from './version.js';

export interface StartOptions {
  log: Logger;
  metrics?: Metrics;
  /** Environment the namers read (NODE_NAME, POD_NAMESPACE, KUBERNETES_SERVICE_HOST, …). */
  env?: NodeJS.ProcessEnv;
  /** Time for the shutdown delay; tests pass a FakeClock. */
  clock?: Clock;
}

/** A running router process: its routers, admin server and the shutdown sequence. */
export interface RouterProcess {
  readonly config: Config;
  readonly routers: readonly Router[];
  readonly admin: AdminServer;
  readonly metrics: Metrics;
  /** The grpclb balancer, when the config has a `grpclb` key. */
  readonly grpclb: GrpclbServer | undefined;
  /**
   * SIGTERM's sequence: report not ready (admin `/ready` 503), keep serving for shutdownDelay so
   * Kubernetes stops sending new work, drain every router for up to shutdownGrace, then close.
   * Calling it again returns the same promise.
   */
  shutdown(reason: string): Promise<void>;
  /** Stop now without draining; it ends a shutdown's delay, and that shutdown then only waits for this. */
  close(): Promise<void>;
}

/**
 * Wire a validated config into a running process: metrics, namers, the global `/$/` namer with DNS
 * re-resolution, the interpreter, one Router per `routers[]` entry (with its live dtab file, if
 * any), and the admin server. A broken dtab file or a port already in use rejects, having closed
 * whatever had started.
 */
export async function startRouterProcess(config: Config, options: StartOptions): Promise<RouterProcess> {
  const log = options.log;
  const metrics = options.metrics ?? new Metrics();
  const env = options.env ?? process.env;
  const closers = new Closers(log);

  try {
    const { namers, interpreter } = await startNamers(config, { metrics, log, env }, closers);
    configureEndpointWindows(config.endpointWindows);
    closers.push(metrics.watchEndpointBudgets(endpointBudgets));
    closers.push(metrics.watchReplayBudget(() => REPLAY_BUDGET));

    const routers: Router[] = [];
    const adminRouters: AdminRouter[] = [];
    const dtabs = new Map<string, Var<Dtab>>();
    for (const [i, rc] of config.routers.entries()) {
      const routerLog = log.child({ router: rc.label });
      const base = parseDtab(rc.dtab, { source: `routers[${i}].dtab` });
      let dtab: Var<Dtab>;
      let dtabStatus: () => DtabSource;
      // What the interpreter puts before the router's dtab: a live file's dentries.
      let prelude = () => Dtab.empty;
      if (rc.interpreter.kind === 'io.l5d.fs') {
        const file = new DtabFile({ path: rc.interpreter.dtabFile, base, baseText: rc.dtab, router: rc.label, metrics, log: routerLog });
        closers.push(() => file.close());
        await file.start();
        dtab = file.dtab;
        dtabStatus = () => file.status();
        prelude = dentriesBefore(file.dtab, base);
      } else {
        dtab = Var.value(base);
        dtabStatus = () => ({ base: rc.dtab, effective: base.show() });
      }
      dtabs.set(rc.label, dtab);
      const router = new Router(rc, { interpreter, dtab, dtabStatus, metrics, log: routerLog });
      routers.push(router);
      adminRouters.push(adminRouter(router, interpreter, prelude));
      // Start discovery for the names this router's dtab spells out, so /ready can wait for them.
      const dependencies = new DtabDependencies(dtab, interpreter);
      closers.push(() => dependencies.close());
    }
    closers.push(() => Promise.all(routers.map((r) => r.close())));
    await Promise.all(routers.map((r) => r.start()));

    // grpclb: names bound through the chosen router's dtab (live file included), namers and timeouts.
    let grpclb: GrpclbServer | undefined;
    if (config.grpclb) {
      const rc = config.routers.find((r) => r.label === config.grpclb!.router) ?? config.routers[0]!;
      // Loaded only when configured: grpc-js and the protos are 4-7 MB of a router's RSS under load
      // (bench/README.md, "RSS by namer").
      const grpclbModule = await import('./grpclb/server.js');
      grpclb = new grpclbModule.GrpclbServer(config.grpclb, {
        interpreter,
        dtab: dtabs.get(rc.label)!,
        dstPrefix: parsePath(rc.dstPrefix),
        bindingTimeoutMs: rc.bindingTimeoutMs,
        idleTtlMs: rc.bindingCache.idleTtlMs,
        transientIdleTtlMs: rc.bindingCache.transientIdleTtlMs,
        metrics,
        log: log.child({ grpclb: rc.label }),
      });
      const lb = grpclb;
      closers.push(() => lb.close());
      await lb.start();
    }

    const shutdownSequence = new ShutdownSequence({
      log,
      closers,
      delayMs: config.shutdownDelayMs,
      announcement: 'shutting down: not ready, still serving',
      drain: async () => {
        log.info('draining', { shutdownGraceMs: config.shutdownGraceMs });
        await Promise.all([...routers.map((r) => r.drain(config.shutdownGraceMs)), grpclb?.drain()]);
      },
      clock: options.clock,
    });
    const proc: RouterProcess = {
      config,
      routers,
      metrics,
      grpclb,
      admin: undefined as unknown as AdminServer,
      shutdown: (reason) => shutdownSequence.shutdown(reason),
      close: () => shutdownSequence.close(),
    };

    const admin = await startAdmin(config.admin, {
      routers: adminRouters,
      namers,
      metrics,
      log,
      effectiveConfig: config,
      readiness: () => {
        const reasons: string[] = [];
        if (shutdownSequence.draining) reasons.push('shutting down');
        for (const r of routers) if (!r.ready) reasons.push(`router ${r.label} is not serving`);
        reasons.push(...namersNotReady(namers));
        return { ready: reasons.length === 0, reasons };
      },
      onShutdown: () => void proc.shutdown('POST /admin/shutdown').then(() => process.exit(0)),
      version: VERSION,
    });
    // The admin server closes last, so /ready keeps answering 503 while routers drain.
    closers.unshift(() => admin.close());
    (proc as { admin: AdminServer }).admin = admin;
    return proc;
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/**
 * The configured namers and the interpreter over them (with the global `/$/` namer), built one at a
 * time so that when one fails (a bad kubeconfig) those already built are closed. The router and the
 * control plane (src/xds/control.ts) both start here.
 */
export async function startNamers(config: Config, deps: { metrics: Metrics; log: Logger; env: NodeJS.ProcessEnv }, closers: Closers): Promise<{ namers: PrefixedNamer[]; interpreter: NameInterpreter }> {
  const namers: PrefixedNamer[] = [];
  closers.push(() => Promise.all(namers.map((n) => n.namer.close?.())));
  for (const [i, n] of config.namers.entries()) {
    namers.push(await createNamer(n, { metrics: deps.metrics, log: deps.log.child({ namer: n.prefix }), env: deps.env, key: `namers[${i}]` }));
  }
  return { namers, interpreter: new NameInterpreter({ namers, global: globalNamer() }) };
}

/** Why namers are not ready, if they are not: they report on the names in use (those the dtabs name and those bound since). */
export function namersNotReady(namers: readonly PrefixedNamer[]): string[] {
  const reasons: string[] = [];
  for (const n of namers) {
    const state = n.namer.ready?.();
    if (state && !state.ready) reasons.push(`namer ${n.prefix.show()} not ready: ${state.reason ?? 'no reason given'}`);
  }
  return reasons;
}

/**
 * SIGTERM/SIGINT start the graceful shutdown and exit 0 when it is done; a second signal exits at
 * once (an impatient Ctrl-C, or Kubernetes' patience running out).
 */
export function exitOnSignals(proc: Pick<RouterProcess, 'shutdown'>, log: Logger, hooks: { beforeExit?: () => Promise<void> } = {}): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    signalled = true;
    void proc
      .shutdown(signal)
      .then(() => hooks.beforeExit?.())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error('shutdown failed', { error: err as Error });
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
