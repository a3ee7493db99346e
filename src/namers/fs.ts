import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Activity, ActivityState } from '../util/activity.js';
import { PENDING, constant, ok } from '../util/activity.js';
import type { Logger } from '../util/log.js';
import { Memo } from '../util/memo.js';
import { MISSING, NOT_A_FILE, watchFile } from '../util/file-watch.js';
import { Var, type Closable } from '../util/var.js';
import type { Address, Name } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { Neg } from '../dtab/nametree.js';
import type { Path } from '../dtab/path.js';
import type { Namer, NamerReadiness } from './namer.js';
import type { LiveName } from './live-name.js';
import { NameTable } from './name-table.js';
/** A malformed line in a service file, with where it is. */
export class FsNamerError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    message: string,
  ) {
    super(`${file}:${line}:${column}: ${message}`);
  }
}

/**
 * Parse a service file: one `host port` or `host port * weight` per line, `#` comments, blank lines
 * ignored. Throws FsNamerError naming file, line and column of the first bad line.
 */
export function parseServiceFile(text: string, file: string): Address[] {
  const out: Address[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const hash = raw.indexOf('#');
    const content = hash < 0 ? raw : raw.slice(0, hash);
    if (!content.trim()) continue;
    const tokens: Array<{ text: string; col: number }> = [];
    for (const m of content.matchAll(/\S+/g)) tokens.push({ text: m[0], col: (m.index ?? 0) + 1 });
    const at = (k: number) => tokens[k]?.col ?? content.length + 1;
    const fail = (k: number, msg: string) => {
      throw new FsNamerError(file, i + 1, at(k), msg);
    };
    if (tokens.length !== 2 && tokens.length !== 4) fail(Math.min(tokens.length, 4), `expected "host port" or "host port * weight", got "${content.trim()}"`);
    const host = tokens[0]!.text;
    if (!/^[A-Za-z0-9_.:%-]+$/.test(host)) fail(0, `"${host}" is not a host name or IP address`);
    const portText = tokens[1]!.text;
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) fail(1, `port "${portText}" must be a number in 1..65535`);
    let weight = 1;
    if (tokens.length === 4) {
      if (tokens[2]!.text !== '*') fail(2, `expected "*" before the weight, got "${tokens[2]!.text}"`);
      weight = Number(tokens[3]!.text);
      if (!/^\d+(\.\d+)?$/.test(tokens[3]!.text) || !(weight > 0)) fail(3, `weight "${tokens[3]!.text}" must be a positive number`);
    }
    out.push({ host, port, weight, meta: {} });
  }
  return out;
}

/** Files are looked for at most this many directories deep. */
const MAX_DEPTH = 8;
const NEG = constant<NameTree<Name>>(ok(Neg));

/**
 * `io.l5d.fs`: `rootDir`; each file is a service (directories nest: `/#/io.l5d.fs/dir/file`, the
 * rest of the path the residual). Files are watched (the shared file watcher: a directory watch and
 * a poll, compared by stamp), so changes apply well within a second. A malformed file keeps the last
 * good set and logs `file:line:column: what`; a file never read well is a failed address set. A
 * missing file is Neg.
 *
 * A lookup touches no file system: `/a/b/c` asks the names `a/b/c`, `a/b` and `a` (longest first,
 * each watched) and answers with the first that is a file, so a directory made after the lookup is
 * still followed.
 */
export class FsNamer implements Namer {
  private readonly names: NameTable;
  /** Lookups are pure over the names (each answer is lazy), so a dropped one is simply made again. */
  private readonly answers = new Memo<Activity<NameTree<Name>>>(1024);

  constructor(
    private readonly prefix: Path,
    private readonly rootDir: string,
    private readonly log?: Logger,
    private readonly pollMs = 500,
    maxNames = 1000,
  ) {
    this.names = new NameTable({
      idleTtlMs: 0,
      maxNames,
      refusal: (file) => `too many files watched (${maxNames}): not watching ${file}`,
    });
  }

  lookup(path: Path): Activity<NameTree<Name>> {
    const key = path.show();
    return this.answers.get(key) ?? this.answers.set(key, this.answer(path));
  }

  private answer(path: Path): Activity<NameTree<Name>> {
    let depth = 0;
    while (depth < Math.min(path.size, MAX_DEPTH) && isSafeSegment(path.segments[depth]!)) depth++;
    if (depth === 0) return NEG;
    const candidates: Activity<NameTree<Name>>[] = [];
    for (let i = depth; i >= 1; i--) {
      const consumed = path.take(i);
      const file = join(this.rootDir, ...consumed.segments);
      const name = this.names.get(file, this.prefix.concat(consumed), (sink) => this.watch(sink, file));
      candidates.push(name.lookup(path.drop(i)));
    }
    return candidates.length === 1 ? candidates[0]! : firstFound(candidates);
  }

  private watch(sink: LiveName, file: string): () => void {
    let good = false;
    return watchFile(
      file,
      (stamp) => {
        if (stamp === MISSING || stamp === NOT_A_FILE) {
          good = false;
          sink.lastError = undefined;
          sink.update('neg');
          return;
        }
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (error) {
          sink.lastError = `${file}: ${(error as Error).message}`;
          return;
        }
        try {
          const addrs = parseServiceFile(text, file);
          good = true;
          sink.lastError = undefined;
          sink.update('bound', addrs);
        } catch (error) {
          const message = (error as Error).message;
          this.log?.error(`io.l5d.fs: ${message}; keeping the last good address set`, { file });
          if (good) sink.lastError = message;
          else sink.fail(message);
        }
      },
      { pollMs: this.pollMs },
    );
  }

  ready(): NamerReadiness {
    return this.names.ready(this.prefix.show());
  }

  state(): unknown {
    return this.names.state();
  }

  close(): void {
    this.names.close();
  }
}

/**
 * The answer of the first candidate that is not Neg, in order; pending while an earlier one is, Neg
 * when all are. Observes every candidate while observed itself.
 */
function firstFound(candidates: readonly Activity<NameTree<Name>>[]): Activity<NameTree<Name>> {
  const pick = (): ActivityState<NameTree<Name>> => {
    for (const c of candidates) {
      const s = c.sample;
      if (s.status === 'pending') return PENDING;
      if (s.status !== 'ok' || s.value.kind !== 'neg') return s;
    }
    return candidates[candidates.length - 1]!.sample;
  };
  return new Var<ActivityState<NameTree<Name>>>(PENDING, (self) => {
    const observations: Closable[] = [];
    for (const c of candidates) observations.push(c.observe(() => self.set(pick())));
    self.set(pick());
    return () => {
      for (const o of observations) o.close();
    };
  });
}

function isSafeSegment(seg: string): boolean {
  return seg !== '.' && seg !== '..' && !seg.includes('/') && !seg.includes('\\') && !seg.includes('\0');
}
