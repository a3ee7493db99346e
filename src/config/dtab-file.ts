import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Metrics } from '../telemetry/metrics.js';
import type { DtabSource } from '../introspection/snapshots.js';
import type { Logger } from '../util/log.js';
import { Var } from '../util/var.js';
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

/**
 * A live dtab file: its dtab ++ the router's dtab, as a Var the router binds through.
 *
 * Operators edit it in place, through an editor that writes a temp file and renames it, or through
 * a Kubernetes ConfigMap volume, which swaps a `..data` symlink in the directory. So we watch the
 * *directory* (the file's inode changes under those schemes) and also re-read on a short poll, and
 * compare contents rather than trusting events. A missing file or a broken edit keeps the last good
 * dtab in force; each reload publishes one immutable Dtab, so a request sees the old or the new one
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
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
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
    try {
      // Watch the directory: renames and the ConfigMap `..data` swap replace the file we would watch.
      this.watcher = watch(dirname(this.options.path), { persistent: false }, () => this.schedule());
      this.watcher.on('error', (err) => this.options.log.warn('dtab file directory watch failed; polling only', { file: this.options.path, error: err }));
    } catch (err) {
      this.options.log.warn('cannot watch the dtab file directory; polling only', { file: this.options.path, error: err as Error });
    }
    this.timer = setInterval(() => void this.reloadSoon(), this.options.pollIntervalMs ?? 250);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
  }

  /** What the dashboard shows. */
  status(): DtabSource {
    const file: NonNullable<DtabSource['file']> = { path: this.options.path, dtab: this.fileText };
    if (this.lastReload !== undefined) file.lastReload = this.lastReload;
    if (this.lastError !== undefined) file.lastError = this.lastError;
    return { base: this.options.baseText, file, effective: this.dtab.sample.show() };
  }

  private schedule(): void {
    // Editors and the kubelet touch several names in a burst; read once it has settled.
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reloadSoon(), 20);
    this.debounce.unref();
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
      // Missing for a moment is normal mid-swap; say so once if it lasts.
      this.missingSince ??= Date.now();
      if (!this.missingReported && (this.lastSeen === undefined || Date.now() - this.missingSince > 2000)) {
        this.missingReported = true;
        log.warn('dtab file unreadable; keeping the last good dtab', { file: path, code: code ?? String(err) });
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
