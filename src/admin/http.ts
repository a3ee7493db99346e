import type { IncomingMessage, ServerResponse } from 'node:http';

/** Small response helpers for the admin's node:http handlers; every answer says what it is. */

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(text.endsWith('\n') ? text : text + '\n');
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, pretty = false): void {
  const body = Buffer.from(JSON.stringify(value, null, pretty ? 2 : undefined) + '\n');
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' });
  res.end(body);
}

export function sendBody(res: ServerResponse, status: number, contentType: string, body: Buffer | string, headers: Record<string, string> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'content-type': contentType, 'content-length': buf.length, ...headers });
  res.end(buf);
}

const MIB = 1 << 20;

/** The most an admin request body may carry: the bodies it takes are a few hundred bytes of JSON or form. */
export const BODY_LIMIT = MIB;

/**
 * The request body as text. A body over `limit` bytes, announced by Content-Length or found while
 * reading a chunked one, rejects at once with a 413 carrying `Connection: close`. The socket is left
 * up so that answer reaches the client (destroying it here lost the answer: the client saw a reset);
 * whatever still arrives is discarded, not kept; the caller ends the connection (`lingerAfterEarlyAnswer`).
 */
export function readBody(req: IncomingMessage, limit = BODY_LIMIT): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return tooLarge();
      chunks.push(chunk);
    };
    const tooLarge = () => {
      req.off('data', onData);
      chunks.length = 0;
      req.resume();
      reject(new HttpError(413, `Request body over ${showBytes(limit)}`, { connection: 'close' }));
    };
    if (Number(req.headers['content-length']) > limit) return tooLarge();
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * For an answer that closes the connection before the request's body has all arrived. Node half-closes
 * the socket once the answer is written and then destroys it; a client still sending then meets a TCP
 * reset, which can fail its write or drop the answer from its receive queue before it reads it (CI saw
 * EPIPE instead of the 413). RFC 9112 §9.6 asks for a half-close and reading on until the client closes:
 * the socket stays open, its input discarded, until the client's FIN or `lingerMs`, whichever comes first.
 */
export function lingerAfterEarlyAnswer(req: IncomingMessage, res: ServerResponse, lingerMs: number): void {
  if (req.complete) return;
  const socket = req.socket;
  // Node's own 'finish' handler runs first: it has just ended the socket and asked for `destroy` at its finish.
  res.once('finish', () => {
    if (socket.destroyed) return;
    socket.removeListener('finish', socket.destroy);
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    socket.once('close', () => clearTimeout(timer));
    // The client's FIN ends the readable side; with the writable side done, the socket is destroyed.
    // Requests it sends meanwhile are not served (§9.6): see `lingering`.
    req.resume();
  });
}

/** Whether `req` came on a connection already answered and closing (lingerAfterEarlyAnswer): it is dropped unserved. */
export function lingering(req: IncomingMessage): boolean {
  return req.socket.writableEnded;
}

function showBytes(n: number): string {
  return n % MIB === 0 ? `${n / MIB} MiB` : `${n} bytes`;
}

/** True for `application/json` and `…+json` media types, ignoring parameters such as charset. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const type = header.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}
