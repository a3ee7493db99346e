import { readFileSync } from 'node:fs';
import type { X509Certificate } from 'node:crypto';
import type * as tls from 'node:tls';
import { nodeCrypto, nodeTls } from './node-tls.js';
import type { Logger } from '../util/log.js';
import { watchFile } from '../util/file-watch.js';

/**
 * Certificates, keys and CA bundles read from files, and kept current as the files change: a
 * Kubernetes Secret volume is updated by swapping its `..data` symlink to a new directory (every
 * file changes at once), cert-manager rewrites the Secret before the old certificate expires, and
 * plain files may be rewritten in place. Whatever the order of the writes, the previous material
 * stays in use until a complete, consistent set has been read (the key matches the certificate and
 * everything parses): a half-rotated pair is never served.
 */

/** A certificate expiring within this many days is warned about at load and flagged on the dashboard. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

/** What the dashboard and the load-time warning say about one certificate file. */
export interface CertificateInfo {
  /** What it is for, e.g. `routers[0].servers[1].tls.certPath`. */
  use: string;
  file: string;
  subject: string;
  /** ISO time the (first) certificate in the file expires. */
  notAfter: string;
  /** Whole days left (negative once expired). */
  daysLeft: number;
}

/** The files of one TLS identity and trust set; paths are absolute. */
export interface TlsFiles {
  certPath?: string;
  keyPath?: string;
  caPaths: readonly string[];
}

export interface TlsMaterial {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer[];
}

/** Read `file`, or throw an Error whose message says why in words (`no such file`, `permission denied`). */
export function readTlsFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new Error(`cannot read ${file}: ${why}`);
  }
}

/** The first certificate of a PEM file, described; throws when there is none. */
export function certificateInfo(pem: Buffer, file: string, use: string, now = Date.now()): CertificateInfo {
  let cert: X509Certificate;
  try {
    cert = new (nodeCrypto().X509Certificate)(pem);
  } catch {
    throw new Error(`${file} holds no PEM certificate`);
  }
  const notAfter = new Date(cert.validTo);
  return {
    use,
    file,
    subject: cert.subject.replace(/\n/g, ', '),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now) / DAY_MS),
  };
}

/** Read every file of `files` (throws naming the first unreadable one) and check that they make a context. */
export function readMaterial(files: TlsFiles): TlsMaterial {
  const m: TlsMaterial = {};
  if (files.certPath !== undefined) m.cert = readTlsFile(files.certPath);
  if (files.keyPath !== undefined) m.key = readTlsFile(files.keyPath);
  if (files.caPaths.length > 0) m.ca = files.caPaths.map(readTlsFile);
  return m;
}

/** A secure context for `m`; throws with OpenSSL's words when the key does not match the certificate, or a file does not parse. */
export function secureContextOf(m: TlsMaterial): tls.SecureContext {
  try {
    return nodeTls().createSecureContext(m);
  } catch (err) {
    const message = (err as Error).message.replace(/^error:[0-9A-F]+:/, '');
    throw new Error(/key values mismatch/.test(message) ? 'the private key does not match the certificate' : message);
  }
}

function sameMaterial(a: TlsMaterial, b: TlsMaterial): boolean {
  const eq = (x: Buffer | undefined, y: Buffer | undefined) => (x === undefined ? y === undefined : y !== undefined && x.equals(y));
  if (!eq(a.cert, b.cert) || !eq(a.key, b.key)) return false;
  const ca = a.ca ?? [];
  const cb = b.ca ?? [];
  return ca.length === cb.length && ca.every((c, i) => c.equals(cb[i]!));
}

export interface ReloadOptions {
  log: Logger;
  /** What the material is for, in logs (`routers[0].servers[0].tls`). */
  use: string;
  /** How often the files are also stat'ed, for file systems whose change events go missing (watchFile's default when unset). */
  pollMs?: number;
}

/**
 * TLS material followed through its files. `material` and `context` are the current consistent
 * set; `onChange` listeners hear of each new one (a tls.Server calls setSecureContext with it).
 */
export class ReloadingMaterial {
  material: TlsMaterial;
  context: tls.SecureContext;
  /** When the material in use was loaded, and the last rejected reload (kept until a good one). */
  loadedAt = new Date();
  lastError: string | undefined;
  reloads = 0;
  private readonly listeners: ((m: TlsMaterial) => void)[] = [];
  private readonly unwatch: (() => void)[] = [];
  private closed = false;

  constructor(
    readonly files: TlsFiles,
    private readonly options: ReloadOptions,
  ) {
    this.material = readMaterial(files);
    this.context = secureContextOf(this.material);
    // The project's one file watcher (directory watch + stamp compare: in-place edits, renames and
    // the kubelet's `..data` swap); its first, synchronous look is the read just made.
    let started = false;
    for (const f of new Set([files.certPath, files.keyPath, ...files.caPaths])) {
      if (f === undefined) continue;
      this.unwatch.push(watchFile(f, () => started && this.reload(), { pollMs: options.pollMs }));
    }
    started = true;
  }

  onChange(listener: (m: TlsMaterial) => void): void {
    this.listeners.push(listener);
  }

  /** The certificate in use, described (undefined without one). */
  certificate(use: string): CertificateInfo | undefined {
    if (this.material.cert === undefined || this.files.certPath === undefined) return undefined;
    return certificateInfo(this.material.cert, this.files.certPath, use);
  }

  /** Read the files now; switch when they changed and make a consistent set. True when switched. */
  reload(): boolean {
    if (this.closed) return false;
    let next: TlsMaterial;
    let context: tls.SecureContext;
    try {
      next = readMaterial(this.files);
      if (sameMaterial(next, this.material)) {
        this.lastError = undefined;
        return false;
      }
      context = secureContextOf(next);
    } catch (err) {
      const message = (err as Error).message;
      // Mid-rotation states (a new certificate beside the old key) pass; say so once per state.
      if (message !== this.lastError) this.options.log.warn('TLS files changed but cannot be used yet; the previous certificate stays in use', { use: this.options.use, error: message });
      this.lastError = message;
      return false;
    }
    this.material = next;
    this.context = context;
    this.loadedAt = new Date();
    this.lastError = undefined;
    this.reloads++;
    const info = next.cert && this.files.certPath ? certificateInfo(next.cert, this.files.certPath, this.options.use) : undefined;
    this.options.log.info('TLS certificate reloaded', { use: this.options.use, ...(info ? { subject: info.subject, notAfter: info.notAfter } : {}) });
    if (info && info.daysLeft < EXPIRY_WARNING_DAYS) warnExpiry(this.options.log, info);
    for (const l of this.listeners) l(next);
    return true;
  }

  close(): void {
    this.closed = true;
    for (const stop of this.unwatch) stop();
  }
}

export function warnExpiry(log: Logger, info: CertificateInfo): void {
  log.warn(info.daysLeft < 0 ? 'TLS certificate has expired' : `TLS certificate expires in ${info.daysLeft} days`, {
    use: info.use,
    file: info.file,
    subject: info.subject,
    notAfter: info.notAfter,
  });
}
