import { startAdmin, type AdminServer } from '../admin/server.js';
import { DtabFile } from '../config/dtab-file.js';
import type { Config } from '../config/types.js';
import { Dtab, parseDtab, parsePath } from '../dtab/index.js';
import { DtabDependencies } from '../namers/dtab-dependencies.js';
import { namersNotReady, startNamers } from '../main.js';
import { Metrics } from '../telemetry/metrics.js';
import type { Clock } from '../util/clock.js';
import { Closers } from '../util/closers.js';
import type { Logger } from '../util/log.js';
import { ShutdownSequence } from '../util/shutdown.js';
import { Var } from '../util/var.js';
import { VERSION } from '../version.js';
import type { ControlConfig } from './config.js';
import { XdsServer } from './server.js';
import { subscribersPage } from './subscribers-page.js';

export interface ControlPlane {
  readonly xds: XdsServer;
  readonly admin: AdminServer;
  readonly metrics: Metrics;
  /** SIGTERM: not ready, streams ended UNAVAILABLE (clients move to another replica), then stopped. */
  shutdown(reason: string): Promise<void>;
  /** Stop now without draining; it ends a shutdown's delay, and that shutdown then only waits for this. */
  close(): Promise<void>;
}

/**
 * `kube-grpc-router control`: the namers (one Kubernetes watch per Service routed, however many
 * clients), the chosen router's dtab (its live file included), the admin server, and the xDS server.
 * No router listens: clients and routers get the routing table over xDS. A port in use or a broken
 * dtab file rejects, having closed whatever had started.
 */
export async function startControlPlane(config: Config, control: ControlConfig, options: { log: Logger; metrics?: Metrics; env?: NodeJS.ProcessEnv; clock?: Clock }): Promise<ControlPlane> {
  const { log, metrics = new Metrics(), env = process.env, clock } = options;
  const closers = new Closers(log);
  try {
    const { namers, interpreter } = await startNamers(config, { metrics, log, env }, closers);

    const rc = control.router;
    const base = parseDtab(rc.dtab, { source: `router ${rc.label} dtab` });
    let dtab: Var<Dtab> = Var.value(base);
    if (rc.interpreter.kind === 'io.l5d.fs') {
      const file = new DtabFile({ path: rc.interpreter.dtabFile, base, baseText: rc.dtab, router: rc.label, metrics, log: log.child({ dtabFile: rc.interpreter.dtabFile }) });
      closers.push(() => file.close());
      await file.start();
      dtab = file.dtab;
    }
    // Start discovery for the names the dtab spells out, so /ready can wait for them.
    const dependencies = new DtabDependencies(dtab, interpreter);
    closers.push(() => dependencies.close());

    const xds = new XdsServer(control, {
      interpreter,
      dtab,
      dstPrefix: parsePath(rc.dstPrefix),
      bindingTimeoutMs: rc.bindingTimeoutMs,
      idleTtlMs: rc.bindingCache.idleTtlMs,
      transientIdleTtlMs: rc.bindingCache.transientIdleTtlMs,
      metrics,
      log: log.child({ xds: rc.label }),
      clock,
    });
    closers.push(() => xds.close());
    await xds.start();

    const shutdownSequence = new ShutdownSequence({
      log,
      closers,
      // Let Kubernetes take the pod out of the Service first, so reconnecting clients find another replica.
      delayMs: config.shutdownDelayMs,
      announcement: 'shutting down: not ready, ending xDS streams',
      drain: () => xds.drain(),
      clock,
    });
    const admin = await startAdmin(config.admin, {
      routers: [],
      pages: [subscribersPage(xds)],
      namers,
      metrics,
      log,
      effectiveConfig: { ...config, xds: { ...control, router: rc.label } },
      readiness: () => {
        const reasons = [...(shutdownSequence.draining ? ['shutting down'] : []), ...namersNotReady(namers)];
        return { ready: reasons.length === 0, reasons };
      },
      onShutdown: () => void plane.shutdown('POST /admin/shutdown').then(() => process.exit(0)),
      version: VERSION,
    });
    closers.unshift(() => admin.close());
    const plane: ControlPlane = {
      xds,
      admin,
      metrics,
      shutdown: (reason) => shutdownSequence.shutdown(reason),
      close: () => shutdownSequence.close(),
    };
    return plane;
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}
