import { isIP } from 'node:net';
import type { Address } from '../../dtab/name.js';
import { TYPE_URLS, xdsRoot } from '../protos.js';

/** A ClusterLoadAssignment as a router uses it: its name and the endpoints calls may go to. */
export interface LoadAssignment {
  readonly name: string;
  readonly addrs: readonly Address[];
}

interface DecodedAssignment {
  cluster_name: string;
  endpoints: {
    locality?: { zone: string };
    priority: number;
    lb_endpoints: {
      endpoint?: { address?: { socket_address?: { address: string; port_value?: number } } };
      health_status: string;
      load_balancing_weight?: { value: number };
    }[];
  }[];
}

/** Endpoints in these states get no calls (gRFC A27 uses UNKNOWN, HEALTHY and DEGRADED ones). */
const EXCLUDED = new Set(['UNHEALTHY', 'DRAINING', 'TIMEOUT']);

/**
 * Read one resource of an EDS response: the endpoints of its most preferred priority (0 first; the
 * others are a control plane's failover the router's own balancer replaces), without those marked
 * UNHEALTHY/DRAINING/TIMEOUT, each with its weight and its locality's zone in `meta.zone`.
 * Throws an Error naming the resource and the field when it is not a valid ClusterLoadAssignment.
 */
export function readLoadAssignment(resource: { type_url: string; value: Buffer }, index: number): LoadAssignment {
  const where = `resources[${index}]`;
  if (resource.type_url !== TYPE_URLS.endpoint) throw new Error(`${where}: type_url ${JSON.stringify(resource.type_url)} is not ${TYPE_URLS.endpoint}`);
  const type = xdsRoot().lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');
  let cla: DecodedAssignment;
  try {
    cla = type.toObject(type.decode(resource.value), { longs: Number, enums: String, defaults: true, arrays: true }) as DecodedAssignment;
  } catch (err) {
    throw new Error(`${where}: not a ClusterLoadAssignment: ${(err as Error).message}`);
  }
  const name = cla.cluster_name;
  if (name === '') throw new Error(`${where}: ClusterLoadAssignment has no cluster_name`);
  const at = `${where}: ClusterLoadAssignment ${JSON.stringify(name)}`;
  const priority = Math.min(...cla.endpoints.map((l) => l.priority));
  const addrs: Address[] = [];
  cla.endpoints.forEach((locality, l) => {
    if (locality.priority !== priority) return;
    const zone = locality.locality?.zone ?? '';
    locality.lb_endpoints.forEach((lb, e) => {
      const field = `${at} endpoints[${l}].lb_endpoints[${e}]`;
      const socket = lb.endpoint?.address?.socket_address;
      if (socket === undefined) throw new Error(`${field}: no endpoint.address.socket_address`);
      if (isIP(socket.address) === 0) throw new Error(`${field}: address ${JSON.stringify(socket.address)} is not an IP address`);
      const port = socket.port_value ?? 0;
      if (!(port >= 1 && port <= 65535)) throw new Error(`${field}: port_value ${port} is not in 1..65535`);
      if (EXCLUDED.has(lb.health_status)) return;
      const weight = lb.load_balancing_weight?.value ?? 1;
      if (weight === 0) throw new Error(`${field}: load_balancing_weight is 0 (it must be at least 1)`);
      addrs.push({ host: socket.address, port, weight, meta: zone === '' ? {} : { zone } });
    });
  });
  return { name, addrs };
}
