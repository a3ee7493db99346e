import type { Address } from '../../dtab/name.js';
import { addressKey } from '../../dtab/name.js';

/** The fields of `discovery.k8s.io/v1` EndpointSlice and `v1` Service this namer reads. */
export interface EndpointSlice {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  addressType?: string;
  endpoints?: Array<{
    addresses?: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    nodeName?: string | null;
    zone?: string | null;
    targetRef?: { kind?: string; name?: string } | null;
  }> | null;
  ports?: Array<{ name?: string | null; port?: number | null; protocol?: string | null }> | null;
}

export interface Service {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: { ports?: Array<{ name?: string | null; port?: number; targetPort?: number | string; protocol?: string | null }> | null };
}

/** A Kubernetes DNS-1123 label (what a Service port's `name` must be): lower case, at most 63 characters. */
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * A path's `<port>` segment (lower-cased) in the one spelling its name is keyed by, or undefined for
 * a segment no Service port can match. A number is canonical decimal, 1–65535: `080`, `0080`, … are
 * port 80, as Linkerd 1 read them (`Integer.parseInt`), and become the one name `80`: requests
 * choose these segments (`l5d-dtab`), and every spelling kept apart cost a name recomputed on
 * every EndpointSlice event. A name must be a DNS-1123 label, as the API server requires of
 * Service port names; `_` is the Service's first port.
 */
export function canonicalPort(segment: string): string | undefined {
  if (segment === '_') return segment;
  if (/^\d+$/.test(segment)) {
    const digits = segment.replace(/^0+/, '');
    if (digits === '' || digits.length > 5) return undefined;
    const n = Number(digits);
    return n <= 65535 ? String(n) : undefined;
  }
  return DNS_LABEL.test(segment) ? segment : undefined;
}

/**
 * The EndpointSlice port name a path's `<port>` segment selects. A number is a **Service port**: the
 * Service's port with that number; a name is the Service port of that name. Either way the answer is
 * the port's name, because the EndpointSlice controller names each slice port after its Service port
 * and has already resolved the targetPort (numeric or named, per pod) into the slice's port number.
 * `_` is the Service's first port. Undefined when the Service or the port does not exist (the namer answers Neg).
 */
export function slicePortName(service: Service | undefined, port: string): string | undefined {
  if (!service) return undefined;
  const ports = service.spec?.ports ?? [];
  const tcp = ports.filter((p) => (p.protocol ?? 'TCP') === 'TCP');
  // `_` (no port in a kuberesolver target): the Service's first port. Never a port name (no `_` allowed).
  if (port === '_') return tcp[0] ? (tcp[0].name ?? '') : undefined;
  if (/^\d+$/.test(port)) {
    const n = Number(port);
    const match = tcp.find((p) => p.port === n);
    return match ? (match.name ?? '') : undefined;
  }
  const match = tcp.find((p) => (p.name ?? '') === port);
  return match ? (match.name ?? '') : undefined;
}

/**
 * Every ready, non-terminating endpoint of every slice, on the slice port named `portName`,
 * de-duplicated (an endpoint may sit in two slices while the controller moves it) and sorted.
 * `ready` unset counts as ready (the API says consumers should treat unknown as ready);
 * `terminating` endpoints get no new streams even when a Service publishes not-ready addresses.
 */
export function sliceAddresses(slices: Iterable<EndpointSlice>, portName: string, localNode?: string): Address[] {
  const byKey = new Map<string, Address>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const port = slice.ports?.find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === 'TCP');
    if (!port || typeof port.port !== 'number') continue;
    for (const endpoint of slice.endpoints ?? []) {
      const conditions = endpoint.conditions ?? {};
      if (conditions.ready === false || conditions.terminating === true) continue;
      // Only the first address has defined semantics; the controller always writes exactly one.
      const host = endpoint.addresses?.[0];
      if (!host) continue;
      const meta: Record<string, string> = {};
      if (endpoint.nodeName) meta.nodeName = endpoint.nodeName;
      if (endpoint.zone) meta.zone = endpoint.zone;
      if (endpoint.targetRef?.kind === 'Pod' && endpoint.targetRef.name) meta.pod = endpoint.targetRef.name;
      const address: Address = { host, port: port.port, weight: 1, meta };
      byKey.set(addressKey(address), address);
    }
  }
  let addrs = [...byKey.values()].sort((a, b) => (addressKey(a) < addressKey(b) ? -1 : addressKey(a) > addressKey(b) ? 1 : 0));
  if (localNode) {
    const local = addrs.filter((a) => a.meta.nodeName === localNode);
    if (local.length > 0) addrs = local;
  }
  return addrs;
}
