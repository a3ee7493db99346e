import { createRequire } from 'node:module';

/**
 * One of Node's own modules, through require. An ESM import builds the module's namespace by
 * reading every export, and on Node 24 that runs lazy getters which load what the router never
 * uses: node:http's load the bundled undici (~11 MB of RSS), node:util's its diff and colour
 * internals (~1.5 MB). Also for modules loaded on first use (node:tls).
 */
export const builtin = createRequire(import.meta.url) as <T>(name: string) => T;
