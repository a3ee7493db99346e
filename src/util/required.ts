import { createRequire } from 'node:module';

/**
 * A module through require, not import, where an import costs memory the router never uses. An ESM
 * import builds a module's namespace by reading every export, and on Node 24 that runs lazy getters:
 * node:http's load the bundled undici (~11 MB of RSS), node:util's its diff and colour internals. A
 * package's index may load more than the parts wanted (prom-client's: telemetry/prom-client.ts).
 * Also for modules loaded on first use (node:tls).
 */
export const required = createRequire(import.meta.url) as <T>(name: string) => T;
