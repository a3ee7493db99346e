import type { ApiAccess } from './api-access.js';

/** Linkerd's `host`/`port`: a plain-HTTP API such as `kubectl proxy`, which authenticates for us. */
export function proxyAccess(host: string, port: number): ApiAccess {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const server = `http://${h}:${port}`;
  return { server, source: `proxy ${server}`, namespace: undefined, proxied: false, apply: async () => {}, unauthorized: () => {} };
}
