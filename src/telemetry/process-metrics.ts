import { readdirSync, readFileSync } from 'node:fs';
import { Counter, Gauge, type Registry } from './prom-client.js';

/**
 * The process metrics Prometheus client libraries export under these names (CPU, memory, file
 * descriptors, start time; Node's heap, event-loop lag, version), each read when the registry is
 * scraped. The subset of prom-client's default metrics that costs nothing between scrapes: its GC
 * histogram observes every collection and its lag percentiles run a timer, and its defaults load
 * `@opentelemetry/api` (prom-client.ts).
 */
export function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];

  let cpu = { user: 0, system: 0 }; // counted from the process's start, as client_golang does
  // The first of the three to be scraped (registration order) brings all three up to date.
  new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers,
    collect() {
      const now = process.cpuUsage();
      const user = now.user - cpu.user;
      const system = now.system - cpu.system;
      cpu = now;
      this.inc(user / 1e6);
      cpuSystem.inc(system / 1e6);
      cpuTotal.inc((user + system) / 1e6);
    },
  });
  const cpuSystem = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers });
  const cpuTotal = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers });
  new Gauge({ name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', registers })
    .set(Math.round(Date.now() / 1000 - process.uptime()));
  new Gauge({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', registers, collect() { this.set(process.memoryUsage.rss()); } });

  // Linux's /proc (the router runs there); elsewhere these two are left out.
  const maxFds = /^Max open files\s+(\d+)/m.exec(readOr('/proc/self/limits', ''))?.[1];
  if (maxFds !== undefined) {
    new Gauge({ name: 'process_max_fds', help: 'Maximum number of open file descriptors.', registers }).set(Number(maxFds));
    new Gauge({
      name: 'process_open_fds',
      help: 'Number of open file descriptors.',
      registers,
      collect() { this.set(readdirSync('/proc/self/fd').length - 1); }, // less the one listing them
    });
  }

  new Gauge({
    name: 'nodejs_heap_size_total_bytes',
    help: 'Process heap size from Node.js in bytes.',
    registers,
    collect() { // scraped before the two below, as for CPU
      const m = process.memoryUsage();
      this.set(m.heapTotal);
      heapUsed.set(m.heapUsed);
      external.set(m.external);
    },
  });
  const heapUsed = new Gauge({ name: 'nodejs_heap_size_used_bytes', help: 'Process heap size used from Node.js in bytes.', registers });
  const external = new Gauge({ name: 'nodejs_external_memory_bytes', help: 'Node.js external memory size in bytes.', registers });
  new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of event loop in seconds.',
    registers,
    collect() {
      const start = process.hrtime.bigint();
      return new Promise<void>((resolve) => setImmediate(() => {
        this.set(Number(process.hrtime.bigint() - start) / 1e9);
        resolve();
      }));
    },
  });
  const [major, minor, patch] = process.versions.node.split('.');
  new Gauge({ name: 'nodejs_version_info', help: 'Node.js version info.', labelNames: ['version', 'major', 'minor', 'patch'] as const, registers })
    .set({ version: process.version, major: major!, minor: minor!, patch: patch! }, 1);
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}
