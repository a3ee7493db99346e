import type { IncomingMessage } from 'node:http';
import type { RouterView } from '../router/introspection.js';
import { parseDtab, parsePath } from '../dtab/parse.js';
import { HttpError, isJsonContentType, readBody } from './http.js';

/**
 * Linkerd's `/delegator.json`: the delegation tree for a path through a dtab, with a router's
 * interpreter. GET `?namespace=<router>&path=…&dtab=…` or POST `{"namespace","dtab","path"}`.
 * Bad input is answered before the router is asked, with the dtab engine's own error text.
 */

export interface DelegationRequest {
  namespace: string | undefined;
  path: string;
  dtab: string;
}

/** How long a delegation may wait for namers (Linkerd: 2 s, then 503 `Request timed out.`). */
export const DELEGATION_TIMEOUT_MS = 2000;

export async function readDelegationRequest(req: IncomingMessage, url: URL): Promise<DelegationRequest> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    const path = url.searchParams.get('path');
    if (path === null || path === '') throw new HttpError(400, 'Invalid path: missing the `path` query parameter');
    return { namespace: url.searchParams.get('namespace') ?? undefined, path, dtab: url.searchParams.get('dtab') ?? '' };
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
  const { namespace, path, dtab } = parsed as Record<string, unknown>;
  if (typeof path !== 'string' || path === '') throw new HttpError(400, `Malformed delegation request: "path" must be a non-empty string in ${body}`);
  if (typeof dtab !== 'string') throw new HttpError(400, `Malformed delegation request: "dtab" must be a string in ${body}`);
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    throw new HttpError(400, `Malformed delegation request: "namespace" must be a string in ${body}`);
  }
  return { namespace: namespace ?? undefined, path, dtab };
}

/** The router a namespace names; without one, the only router there is. */
export function selectRouter(routers: readonly RouterView[], namespace: string | undefined): RouterView {
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

/** Check path and dtab with the dtab engine, then ask the router, bounded by the timeout. */
export async function delegate(router: RouterView, request: DelegationRequest, timeoutMs = DELEGATION_TIMEOUT_MS): Promise<unknown> {
  try {
    parsePath(request.path);
  } catch (err) {
    throw new HttpError(400, `Invalid path: ${describe(err)}`);
  }
  try {
    parseDtab(request.dtab);
  } catch (err) {
    throw new HttpError(400, `Invalid dtab: ${describe(err)}`);
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(503, 'Request timed out.')), timeoutMs);
  });
  try {
    return await Promise.race([router.delegate(request.path, request.dtab), timeout]);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (err instanceof Error && err.name === 'DelegateTimeoutError') throw new HttpError(503, 'Request timed out.');
    // The router's own dtab (a live file) can still be the one that fails to parse.
    if (err instanceof Error && err.name === 'DtabSyntaxError') throw new HttpError(400, `Invalid dtab: ${describe(err)}`);
    throw new HttpError(500, `Delegation failed: ${describe(err)}`);
  } finally {
    clearTimeout(timer);
  }
}
