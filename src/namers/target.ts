import { readFileSync } from 'node:fs';
import { Path } from '../dtab/path.js';
import { SERVICE_ACCOUNT_DIR } from './k8s/service-account.js';

/**
 * The single-destination targets people already write, as namer paths:
 * - every kuberesolver form (`kubernetes:///svc:8080`, `kubernetes://ns/svc:grpc`,
 *   `kubernetes:///svc.ns.svc.cluster.local:8080`, `kubernetes://svc.ns:8080/`, …) →
 *   `/#/io.l5d.k8s/<ns>/<port>/<svc>`. Unlike kuberesolver a numeric port is the **Service port**
 *   (mapped to its targetPort), as Kubernetes users expect; no port means the Service's first port,
 *   written `_` in the path;
 * - `dns:///host:port`, `dns://authority/host:port` → `/#/io.l5d.dns/<host>/<port>` (default port 443,
 *   as gRPC; the authority names a DNS server, which is the dns namer's `dnsHosts` setting here);
 * - `host:port`, `[v6]:port`, `passthrough:///host:port` → `/$/inet/<host>/<port>`.
 *
 * kuberesolver's grammar (from its `parseResolverTarget` and grpc-go's URL parsing), with
 * `authority` = text between `//` and the next `/`, `endpoint` = the rest without its leading `/`:
 * A. no authority → the endpoint is `svc[.ns[.anything]][:port]`;
 * B. an authority without `:port` and a non-empty endpoint → authority is the namespace, the
 *    endpoint gives service and port (a namespace inside it is ignored);
 * C. otherwise the authority is `svc[.ns[.anything]][:port]` and the endpoint is ignored.
 * A missing namespace is the pod's own (the service account's `namespace` file), else `default`.
 */
export interface ParsedTarget {
  path: string;
  kind: 'k8s' | 'dns' | 'static';
}

export class TargetError extends Error {}

export const FIRST_PORT = '_';

export function parseTarget(target: string, options: { defaultNamespace?: string } = {}): ParsedTarget {
  const text = target.trim();
  if (!text) throw new TargetError('empty target: expected host:port, dns:///host:port or kubernetes:///service[.namespace]:port');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/.exec(text);
  // `host:port` also matches the scheme pattern; a scheme is only a scheme when it is one we know.
  const known = scheme && ['kubernetes', 'dns', 'passthrough', 'unix', 'unix-abstract', 'xds', 'ipv4', 'ipv6'].includes(scheme[1]!.toLowerCase());
  if (!known) return staticTarget(text, target);
  const name = scheme![1]!.toLowerCase();
  const rest = scheme![2]!;
  let authority = '';
  let endpoint = rest;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    endpoint = slash < 0 ? '' : rest.slice(slash + 1);
  }
  switch (name) {
    case 'kubernetes':
      return kubernetesTarget(authority, endpoint, target, options);
    case 'dns': {
      if (!endpoint) throw new TargetError(`target "${target}": dns target names no host (expected dns:///host:port)`);
      const { host, port } = splitHostPort(endpoint, target, '443');
      return { kind: 'dns', path: new Path(['#', 'io.l5d.dns', host, port]).show() };
    }
    case 'passthrough':
      return staticTarget(endpoint, target);
    default:
      throw new TargetError(`target "${target}": scheme "${name}:" is not supported (use host:port, dns:///host:port or kubernetes:///service:port)`);
  }
}

function staticTarget(hostPort: string, target: string): ParsedTarget {
  const { host, port } = splitHostPort(hostPort, target);
  return { kind: 'static', path: new Path(['$', 'inet', host, port]).show() };
}

function kubernetesTarget(authority: string, endpoint: string, target: string, options: { defaultNamespace?: string }): ParsedTarget {
  let service: string;
  let namespace: string | undefined;
  let port: string;
  const trimmed = endpoint.replace(/\/+$/, '');
  if (!authority) {
    ({ service, namespace, port } = splitServiceName(trimmed, target));
  } else if (!authority.includes(':') && trimmed) {
    ({ service, port } = splitServiceName(trimmed, target));
    namespace = authority;
  } else {
    ({ service, namespace, port } = splitServiceName(authority, target));
  }
  if (!service) throw new TargetError(`target "${target}" must specify a service (kubernetes:///service[.namespace][:port])`);
  namespace = (namespace || options.defaultNamespace || podNamespace() || 'default').toLowerCase();
  service = service.toLowerCase();
  port = port.toLowerCase() || FIRST_PORT;
  checkLabel(service, 'service', target);
  checkLabel(namespace, 'namespace', target);
  if (port !== FIRST_PORT) {
    if (/^\d+$/.test(port)) {
      const n = Number(port);
      if (n < 1 || n > 65535) throw new TargetError(`target "${target}": port ${port} is out of range 1..65535`);
      port = String(n);
    } else if (!/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(port) || !/[a-z]/.test(port)) {
      throw new TargetError(`target "${target}": "${port}" is neither a port number nor a valid port name`);
    }
  }
  return { kind: 'k8s', path: new Path(['#', 'io.l5d.k8s', namespace, port, service]).show() };
}

/** `svc[.ns[.anything…]][:port]`: port after the last `:`, name split on `.` into at most three parts. */
function splitServiceName(text: string, target: string): { service: string; namespace: string; port: string } {
  const colon = text.lastIndexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  const port = colon < 0 ? '' : text.slice(colon + 1);
  if (colon >= 0 && !port) throw new TargetError(`target "${target}": empty port after ":"`);
  const parts = name.split('.');
  return { service: parts[0] ?? '', namespace: parts[1] ?? '', port };
}

function splitHostPort(text: string, target: string, defaultPort?: string): { host: string; port: string } {
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.%a-zA-Z]+)\](?::(\d*))?$/.exec(text);
  if (v6) {
    host = v6[1]!;
    port = v6[2];
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') !== colon) {
      throw new TargetError(`target "${target}": an IPv6 address must be in brackets, e.g. [::1]:50051`);
    }
    host = colon < 0 ? text : text.slice(0, colon);
    port = colon < 0 ? undefined : text.slice(colon + 1);
  }
  if (!host) throw new TargetError(`target "${target}": no host`);
  if (!/^[A-Za-z0-9_.:%-]+$/.test(host)) throw new TargetError(`target "${target}": "${host}" is not a host name or IP address`);
  if (port === undefined || port === '') {
    if (defaultPort === undefined) throw new TargetError(`target "${target}": missing port (expected host:port)`);
    port = defaultPort;
  }
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new TargetError(`target "${target}": port "${port}" must be a number in 1..65535`);
  }
  return { host, port: String(Number(port)) };
}

function checkLabel(value: string, what: string, target: string): void {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)) {
    throw new TargetError(`target "${target}": "${value}" is not a valid Kubernetes ${what} name (lower-case letters, digits and "-")`);
  }
}

let cachedNamespace: string | null | undefined;
/** The pod's namespace from its service account, as kuberesolver reads it; null outside a pod. */
function podNamespace(): string | null {
  if (cachedNamespace === undefined) {
    try {
      cachedNamespace = readFileSync(`${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8').trim() || null;
    } catch {
      cachedNamespace = null;
    }
  }
  return cachedNamespace;
}
