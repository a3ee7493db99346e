import { isIP } from 'node:net';

/** An IP literal, including the 1–3 part IPv4 forms Java accepts (`127.1` is 127.0.0.1); else undefined. */
export function ipLiteral(host: string): string | undefined {
  if (isIP(host) !== 0) return host;
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : undefined;
  if (unbracketed !== undefined && isIP(unbracketed) === 6) return unbracketed;
  const parts = host.split('.');
  if (parts.length < 1 || parts.length > 3 || !parts.every((p) => /^\d{1,10}$/.test(p))) return undefined;
  const n = parts.map(Number);
  const last = n[n.length - 1]!;
  const lastMax = [2 ** 32, 2 ** 24, 2 ** 16][n.length - 1]!;
  if (last >= lastMax || n.slice(0, -1).some((x) => x > 255)) return undefined;
  const bytes = [...n.slice(0, -1)];
  const tail: number[] = [];
  let rest = last;
  for (let i = 0; i < 4 - bytes.length; i++) {
    tail.unshift(rest & 0xff);
    rest = Math.floor(rest / 256);
  }
  return [...bytes, ...tail].join('.');
}
