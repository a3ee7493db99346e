/**
 * gproxy's `-p LISTEN-TARGET`. gproxy splits at the first `-`, which breaks listen hosts that
 * contain one (`my-host:5000-…`). A listen address always ends in `:PORT`, so we split at the
 * first `-` that follows `HOST:PORT` (HOST possibly empty, bracketed IPv6, or hyphenated).
 */
export interface ProxySpec {
  /** The value as given, for messages. */
  raw: string;
  /** Listen IP: an empty host (`:5000`) means every interface, as in gproxy. */
  ip: string;
  port: number;
  target: string;
}

const SPEC = /^(\[[0-9A-Fa-f:.]+\]|[^\s[\]/]*?):(\d{1,5})-(\S+)$/;

export class ProxySpecError extends Error {
  override readonly name = 'ProxySpecError';
}

export function parseProxySpec(raw: string): ProxySpec {
  const m = SPEC.exec(raw);
  if (!m) {
    throw new ProxySpecError(
      `"${raw}" is invalid proxy configuration: expected LISTEN-TARGET such as :5000-kubernetes:///echo-server.default:grpc ` +
        `(LISTEN is [HOST]:PORT, TARGET a kubernetes:///, dns:/// or host:port target)`,
    );
  }
  const [, host, portText, target] = m as unknown as [string, string, string, string];
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new ProxySpecError(`"${raw}" is invalid proxy configuration: listen port ${port} is not 1-65535`);
  let ip = host.startsWith('[') ? host.slice(1, -1) : host;
  if (ip === '') ip = '0.0.0.0';
  return { raw, ip, port, target };
}
