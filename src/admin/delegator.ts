import type { IncomingMessage } from 'node:http';
import { DELEGATION_MAX_BYTES, DELEGATION_MAX_NODES, DelegateTreeSizeError, type DelegateNode } from '../dtab/delegate.js';
import { ERROR_REASONS } from '../proxy/error-reasons.js';
import { STATUS_NAMES } from '../proxy/grpc.js';
import { routeDelegation, type CallFailure, type Routing } from '../dtab/delegation-routing.js';
import type { Dtab } from '../dtab/dtab.js';
import { parseDtab, parsePath } from '../dtab/parse.js';
import type { Path } from '../dtab/path.js';
import { MAX_REQUEST_DTAB_BYTES } from '../router/request-policy.js';
import type { AdminRouter } from './deps.js';
import { HttpError, isJsonContentType, readBody } from './http.js';

/**
 * Linkerd's `/delegator.json`: the delegation tree for a path through a dtab, with a router's
 * interpreter. GET `?namespace=<router>&path=…&dtab=…[&local=…]` or POST
 * `{"namespace","dtab","path"[,"local"]}`; `local` is a second dtab put after `dtab`, as an
 * `l5d-dtab` header would add it (the playground's extra dentries). Every node of the answer also
 * carries `routing`: what routing does with it, from the binder's own rules (see routeDelegation),
 * with the gRPC status the router answers calls that end there. `dtab` is at most 64 KiB and `local`
 * at most what an `l5d-dtab` may be (4 KiB); longer ones are a 400 before any parsing.
 */

export interface DelegationRequest {
  namespace: string | undefined;
  path: string;
  dtab: string;
  /** Dentries after `dtab` (an `l5d-dtab`): joined as parsed dtabs, never as text. */
  local?: string;
}

/** The request with its text parsed, once. */
interface ParsedRequest {
  path: Path;
  dtab: Dtab;
}

/**
 * The gRPC status the router answers a call with, for each reason routing can fail it: read from
 * the one table of reasons the router answers with (src/proxy/error-reasons.ts).
 */
function callStatus(failure: CallFailure): string {
  return STATUS_NAMES[ERROR_REASONS[failure]]!;
}

/** How long a delegation may wait for namers (Linkerd: 2 s, then 503 `Request timed out.`). */
export const DELEGATION_TIMEOUT_MS = 2000;

export async function readDelegationRequest(req: IncomingMessage, url: URL): Promise<DelegationRequest> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    const path = url.searchParams.get('path');
    if (path === null || path === '') throw new HttpError(400, 'Invalid path: missing the `path` query parameter');
    const local = url.searchParams.get('local') ?? undefined;
    return { namespace: url.searchParams.get('namespace') ?? undefined, path, dtab: url.searchParams.get('dtab') ?? '', ...(local !== undefined ? { local } : {}) };
  }
  if (!isJsonContentType(req.headers['content-type'])) {
    throw new HttpError(415, `Expected Content-Type: application/json, got ${req.headers['content-type'] ?? 'none'}`);
  }
  const body = await readBody(req);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new HttpError(400, `Malformed delegation request: ${body}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError(400, `Malformed delegation request: ${body}`);
  const { namespace, path, dtab, local } = parsed as Record<string, unknown>;
  if (typeof path !== 'string' || path === '') throw new HttpError(400, `Malformed delegation request: "path" must be a non-empty string in ${body}`);
  if (typeof dtab !== 'string') throw new HttpError(400, `Malformed delegation request: "dtab" must be a string in ${body}`);
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    throw new HttpError(400, `Malformed delegation request: "namespace" must be a string in ${body}`);
  }
  if (local !== undefined && local !== null && typeof local !== 'string') {
    throw new HttpError(400, `Malformed delegation request: "local" must be a string in ${body}`);
  }
  return { namespace: namespace ?? undefined, path, dtab, ...(typeof local === 'string' ? { local } : {}) };
}

/** The router a namespace names; without one, the only router there is. */
export function selectRouter(routers: readonly AdminRouter[], namespace: string | undefined): AdminRouter {
  const labels = routers.map((r) => r.label).join(', ') || 'none';
  if (namespace === undefined || namespace === '') {
    if (routers.length === 1) return routers[0]!;
    throw new HttpError(400, `Missing namespace: name one of the routers (${labels})`);
  }
  const router = routers.find((r) => r.label === namespace);
  if (!router) throw new HttpError(404, `Unknown namespace "${namespace}": no router has that label (routers: ${labels})`);
  return router;
}

/** `message` from a syntax error, with its position when the message does not already say it. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const { line, column, excerpt } = err as Error & { line?: number; column?: number; excerpt?: string };
  let text = err.message;
  if (typeof line === 'number' && typeof column === 'number' && !text.includes(`${line}:${column}`) && !/line \d+/.test(text)) {
    text += ` (at line ${line}, column ${column})`;
  }
  // The dtab engine marks the offending character in its line, Finagle style: `/svc => [;]`.
  if (typeof excerpt === 'string' && excerpt !== '') text += `\n  ${excerpt}`;
  return text;
}

/**
 * The most `dtab` text a delegation parses. The dashboard sends the router's own dtab here, which may
 * be longer than a request's: 64 KiB is some 2,000 dentries, far beyond any operator's dtab. Text is
 * what it costs: a 1 MB dtab (37,853 dentries) stalled the event loop 2.5 s and grew RSS by 252 MB
 * before its lookups were refused, on the process that serves the data plane.
 */
export const MAX_DELEGATION_DTAB_BYTES = 64 * 1024;

/**
 * `local` stands for an `l5d-dtab`, so it takes what the router takes of a request's dtab headers
 * (MAX_REQUEST_DTAB_BYTES): a longer one could never reach a route.
 */
export const MAX_DELEGATION_LOCAL_BYTES = MAX_REQUEST_DTAB_BYTES;

/** A dtab field over its limit is a 400 naming the field and the limit, before any of it is parsed. */
function checkLength(field: 'dtab' | 'local', text: string, limit: number, what: string): void {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limit) throw new HttpError(400, `Invalid dtab: "${field}" is ${bytes} bytes; ${what} at most ${limit} bytes`);
}

/** Parse the request's path and dtabs, once; bad input is a 400 with the dtab engine's own text. */
export function parseDelegationRequest(request: DelegationRequest): ParsedRequest {
  checkLength('dtab', request.dtab, MAX_DELEGATION_DTAB_BYTES, 'the delegator parses');
  if (request.local !== undefined) checkLength('local', request.local, MAX_DELEGATION_LOCAL_BYTES, 'an l5d-dtab the router takes is');
  let path: Path;
  try {
    path = parsePath(request.path);
  } catch (err) {
    throw new HttpError(400, `Invalid path: ${describe(err)}`);
  }
  let dtab: Dtab;
  try {
    dtab = parseDtab(request.dtab);
    // Dtabs join as dentry lists: `/a=>/b;` followed by `/c=>/d` is two dentries, never `;;`.
    if (request.local !== undefined) dtab = dtab.concat(parseDtab(request.local));
  } catch (err) {
    throw new HttpError(400, `Invalid dtab: ${describe(err)}`);
  }
  return { path, dtab };
}

/** How large an answer may be: `admin.maxDelegationNodes`, `admin.maxDelegationBytes`. */
export interface DelegationLimits {
  maxNodes: number;
  maxBytes: number;
  /** Called with the config key of a bound a delegation reached. */
  reached?: (key: string) => void;
}

export const DELEGATION_LIMITS: DelegationLimits = { maxNodes: DELEGATION_MAX_NODES, maxBytes: DELEGATION_MAX_BYTES };

/**
 * Parse the request, ask the router, and say what routing does with each node. One deadline
 * bounds every wait for namers and address sets; a namer still pending then is a 503. A tree past
 * its bounds is a 400 naming the bound, never a part of the tree: a cut Alt would show routing
 * taking a branch it does not (what `routing` says is computed from the whole tree).
 */
export async function delegate(
  router: AdminRouter,
  request: DelegationRequest,
  limits: DelegationLimits = DELEGATION_LIMITS,
  timeoutMs = DELEGATION_TIMEOUT_MS,
): Promise<DelegateNode> {
  const { path, dtab } = parseDelegationRequest(request);
  let tree: DelegateNode;
  try {
    tree = await router.delegate(path, dtab, { deadline: Date.now() + timeoutMs, maxNodes: limits.maxNodes, maxBytes: limits.maxBytes });
  } catch (err) {
    if (err instanceof Error && err.name === 'DelegateTimeoutError') throw new HttpError(503, err.message);
    if (err instanceof Error && err.name === 'DelegateLookupsError') throw new HttpError(400, err.message);
    if (err instanceof DelegateTreeSizeError) {
      const key = err.bound === 'nodes' ? 'admin.maxDelegationNodes' : 'admin.maxDelegationBytes';
      limits.reached?.(key);
      throw new HttpError(400, `${err.message} (${key})`);
    }
    throw new HttpError(500, `Delegation failed: ${describe(err)}`);
  }
  return withStatuses(routeDelegation(tree));
}

/** Each node where calls end in failure also names the gRPC status the router answers them with. */
function withStatuses(node: DelegateNode): DelegateNode {
  const fails = node.routing?.fails;
  const routing: (Routing & { status?: string }) | undefined = fails === undefined ? node.routing : { ...node.routing!, status: callStatus(fails) };
  switch (node.type) {
    case 'delegate':
      return { ...node, delegate: withStatuses(node.delegate), routing };
    case 'alt':
      return { ...node, alt: node.alt.map(withStatuses), routing };
    case 'union':
      return { ...node, union: node.union.map((w) => ({ ...w, tree: withStatuses(w.tree) })), routing };
    default:
      return { ...node, routing };
  }
}
