import { readFile } from 'node:fs/promises';
import type { Metrics } from '../telemetry/metrics.js';
import type { DtabSource } from '../introspection/snapshots.js';
import type { Logger } from '../util/log.js';
import { Var } from '../util/var.js';
import { watchFile } from '../util/file-watch.js';
import { Dtab, DtabSyntaxError, parseDtab } from '../dtab/index.js';

export interface DtabFileOptions {
  /** The file (Linkerd's `interpreter.dtabFile`). */
  path: string;
  /** The router's own `dtab`, parsed; the file's dtab goes before it (Linkerd's fs interpreter). */
  base: Dtab;
  baseText: string;
  /** Router label, for `kgr_dtab_reloads_total{router}`. */
  router: string;
  metrics: Metrics;
  log: Logger;
  /** A safety net under the directory watch (which misses some network file systems). Default 250 ms. */
  pollIntervalMs?: number;
}

/** A file missing this long (not just mid-swap) is worth a warning. */
const MISSING_WARN_MS = 2000;

/**
 * A live dtab file: its dtab ++ the router's dtab, as a Var the router binds through.
 *
 * Operators edit it in place, through an editor that writes a temp file and renames it, or through
 * a Kubernetes ConfigMap volume, which swaps a `..data` symlink in the directory; the shared file
 * watcher (directory watch, poll, stamp compare) notices all three, and a changed stamp re-reads the
 * file, whose text is compared again. A missing file or a broken edit keeps the last good dtab in
 * force; each reload publishes one immutable Dtab, so a binding switches from the old to the new one
 * whole.
 */
export class DtabFile {
  readonly dtab: Var<Dtab>;
  private fileText = '';
  /** The last text read, good or bad: an unchanged file is not parsed or reported again. */
  private lastSeen: string | undefined;
  private lastReload: string | undefined;
  private lastError: NonNullable<DtabSource['file']>['lastError'];
  private missingSince: number | undefined;
  private missingReported = false;
  private stopWatching: (() => void) | undefined;
  private missingCheck: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private started = false;

  constructor(private readonly options: DtabFileOptions) {
    this.dtab = new Var(options.base);
  }

  /**
   * Read the file once and start watching. A syntax error at start is thrown (the process should not
   * start routing with half its rules); a missing file starts with the router dtab alone and waits.
   */
  async start(): Promise<void> {
    await this.reload();
    this.started = true;
    if (this.lastError && this.lastReload === undefined) {
      throw new DtabSyntaxErrorAtStart(`${this.options.path}:${this.lastError.line}:${this.lastError.column}: ${this.lastError.message}`);
    }
    this.stopWatching = watchFile(this.options.path, () => void this.reloadSoon(), { pollMs: this.options.pollIntervalMs ?? 250 });
  }

  close(): void {
    this.closed = true;
    this.stopWatching?.();
    if (this.missingCheck) clearTimeout(this.missingCheck);
  }

  /** What the dashboard shows. */
  status(): DtabSource {
    const file: NonNullable<DtabSource['file']> = { path: this.options.path, dtab: this.fileText };
    if (this.lastReload !== undefined) file.lastReload = this.lastReload;
    if (this.lastError !== undefined) file.lastError = this.lastError;
    return { base: this.options.baseText, file, effective: this.dtab.sample.show() };
  }

  private reloadSoon(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = this.reload().finally(() => {
      this.reading = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.reloadSoon();
      }
    });
    return this.reading;
  }

  private async reload(): Promise<void> {
    const { path, log, metrics, router } = this.options;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Missing for a moment is normal mid-swap; say so once if it lasts (its stamp will not change
      // again while it is missing, so look once more when it would be worth saying).
      this.missingSince ??= Date.now();
      if (!this.missingReported && (this.lastSeen === undefined || Date.now() - this.missingSince > MISSING_WARN_MS)) {
        this.missingReported = true;
        log.warn('dtab file unreadable; keeping the last good dtab', { file: path, code: code ?? String(err) });
      } else if (!this.missingReported && this.missingCheck === undefined) {
        this.missingCheck = setTimeout(() => {
          this.missingCheck = undefined;
          void this.reloadSoon();
        }, MISSING_WARN_MS + 100);
        this.missingCheck.unref();
      }
      return;
    }
    this.missingSince = undefined;
    this.missingReported = false;
    if (text === this.lastSeen) return;
    this.lastSeen = text;
    let parsed: Dtab;
    try {
      parsed = parseDtab(text, { source: path });
    } catch (err) {
      if (!(err instanceof DtabSyntaxError)) throw err;
      this.lastError = { message: err.reason, line: err.line, column: err.column, at: new Date().toISOString() };
      metrics.dtabReloads.labels(router, 'failure').inc();
      // FILE:LINE:COL: message — the form editors and CI jump to. (At start, start() throws it instead.)
      if (this.started) log.error(`${err.format(path)} (keeping the last good dtab)`, { file: path, router });
      return;
    }
    this.fileText = text;
    this.lastError = undefined;
    this.lastReload = new Date().toISOString();
    this.dtab.set(parsed.concat(this.options.base));
    metrics.dtabReloads.labels(router, 'success').inc();
    log.info('dtab file loaded', { file: path, router, dentries: parsed.size });
  }
}

/** The dtab file is broken when the process starts. */
export class DtabSyntaxErrorAtStart extends Error {
  override readonly name = 'DtabFileError';
}
