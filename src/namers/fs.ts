import { readFileSync, statSync, watch as fsWatch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Activity } from '../util/activity.js';
import { constant, ok } from '../util/activity.js';
import type { Logger } from '../util/log.js';
import type { Address, Name } from '../dtab/name.js';
import type { NameTree } from '../dtab/nametree.js';
import { Neg } from '../dtab/nametree.js';
import { Path } from '../dtab/path.js';
import type { Namer, NamerReadiness } from './namer.js';
import { LiveName, namesReadiness } from './live-name.js';

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

/**
 * `io.l5d.fs`: `rootDir`; each file is a service (directories nest: `/#/io.l5d.fs/dir/file`).
 * Files are watched (inotify through fs.watch on the directory, plus a 500 ms stat check that also
 * covers directories created later), so changes apply well within a second. A malformed file keeps
 * the last good set and logs `file:line:column: what`; a file never read well is a failed address set.
 * A missing file is Neg.
 */
export class FsNamer implements Namer {
  private readonly names = new Map<string, LiveName>();

  constructor(
    private readonly prefix: Path,
    private readonly rootDir: string,
    private readonly log?: Logger,
    private readonly pollMs = 500,
  ) {}

  lookup(path: Path): Activity<NameTree<Name>> {
    // Walk existing directories; the next segment is the file (which may not exist yet).
    let dir = this.rootDir;
    let i = 0;
    for (; i < path.size; i++) {
      const seg = path.segments[i]!;
      if (!isSafeSegment(seg)) return constant<NameTree<Name>>(ok(Neg));
      if (!isDirectory(join(dir, seg))) break;
      dir = join(dir, seg);
    }
    if (i >= path.size) return constant<NameTree<Name>>(ok(Neg));
    const consumed = path.take(i + 1);
    const file = join(dir, path.segments[i]!);
    let name = this.names.get(file);
    if (!name) {
      const created: LiveName = new LiveName(this.prefix.concat(consumed), (sink) => this.watchFile(sink, file), 0, () => {
        if (this.names.get(file) === created) this.names.delete(file);
      });
      this.names.set(file, (name = created));
    }
    return name.lookup(path.drop(i + 1));
  }

  private watchFile(sink: LiveName, file: string): () => void {
    let stamp = '';
    let good = false;
    const check = () => {
      let next: string;
      try {
        const st = statSync(file);
        next = st.isFile() ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'not-a-file';
      } catch {
        next = 'missing';
      }
      if (next === stamp) return;
      stamp = next;
      if (next === 'missing' || next === 'not-a-file') {
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
    };
    check();
    let watcher: FSWatcher | undefined;
    let debounce: NodeJS.Timeout | undefined;
    const base = file.slice(dirname(file).length + 1);
    try {
      watcher = fsWatch(dirname(file), { persistent: false }, (_event, changed) => {
        if (changed && changed.toString() !== base) return;
        if (debounce) clearTimeout(debounce);
        debounce = setTimeout(check, 20);
        debounce.unref();
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      watcher = undefined; // the directory does not exist yet: the poll covers it
    }
    const poll = setInterval(check, this.pollMs);
    poll.unref();
    return () => {
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      watcher?.close();
    };
  }

  ready(): NamerReadiness {
    return namesReadiness(this.prefix.show(), this.names);
  }

  state(): unknown {
    const out: Record<string, unknown> = {};
    for (const [file, name] of this.names) out[file] = { state: name.state, addr: name.addr.sample, lastError: name.lastError };
    return out;
  }

  close(): void {
    for (const name of this.names.values()) name.close();
    this.names.clear();
  }
}

function isSafeSegment(seg: string): boolean {
  return seg !== '.' && seg !== '..' && !seg.includes('/') && !seg.includes('\\') && !seg.includes('\0');
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
