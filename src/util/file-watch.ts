import { readdirSync, statSync, watch as fsWatch, type FSWatcher, type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** The stamp of a path that does not exist (or cannot be read). */
export const MISSING = 'missing';
/** The stamp of a path that is a directory or another non-file. */
export const NOT_A_FILE = 'not-a-file';

export interface FileWatchOptions {
  /** A safety net under the directory watch (which misses some network file systems). Default 500 ms. */
  pollMs?: number;
}

/** Editors and the kubelet touch several names in a burst; look once it has settled. */
const SETTLE_MS = 20;
const DEFAULT_POLL_MS = 500;

/**
 * Tell `onStamp` what `path` is now (a stamp of inode, size and times, or MISSING / NOT_A_FILE),
 * first before returning and then each time that changes, until the returned function is called.
 *
 * Files are edited in place, replaced by a rename, or swapped under a Kubernetes ConfigMap's
 * `..data` symlink, so the *directory* is watched (any event there is a reason to look) and also
 * polled; what changed is decided by comparing stamps, not by trusting events. Every watch of one
 * directory shares one directory watch, one poll and one listing: a watch of a name the listing
 * lacks answers MISSING without a `stat` (the fs namer watches every name a client asks for), and
 * only names that are present are stat'ed, once per look at the directory.
 */
export function watchFile(path: string, onStamp: (stamp: string) => void, options: FileWatchOptions = {}): () => void {
  const dir = dirname(path);
  const shared = directories.get(dir) ?? new DirectoryWatch(dir);
  return shared.add({ name: basename(path), path, onStamp, last: undefined }, options.pollMs ?? DEFAULT_POLL_MS);
}

interface FileWatcher {
  readonly name: string;
  readonly path: string;
  readonly onStamp: (stamp: string) => void;
  last: string | undefined;
}

const directories = new Map<string, DirectoryWatch>();

/** How many directories are watched now (each once, however many of its files are). */
export function watchedDirectories(): number {
  return directories.size;
}

class DirectoryWatch {
  private readonly watchers = new Set<FileWatcher>();
  /** The directory's entries as last listed (undefined: it could not be listed). */
  private entries: Set<string> | undefined;
  private readonly watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private pollMs = Number.POSITIVE_INFINITY;
  private settle: NodeJS.Timeout | undefined;
  /** The directory changed since it was last listed (an event came; its settle timer has not run yet). */
  private stale = false;
  private checking = false;
  private again = false;

  constructor(private readonly dir: string) {
    directories.set(dir, this);
    this.entries = listNow(dir);
    let watcher: FSWatcher | undefined;
    try {
      watcher = fsWatch(dir, { persistent: false }, () => {
        this.stale = true;
        if (this.settle) clearTimeout(this.settle);
        this.settle = setTimeout(() => void this.check(), SETTLE_MS);
        this.settle.unref();
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      watcher = undefined; // the directory does not exist (yet): the poll covers it
    }
    this.watcher = watcher;
  }

  /** The first look is synchronous, so a watch started for a lookup answers at once (a Neg for a missing file). */
  add(file: FileWatcher, pollMs: number): () => void {
    this.watchers.add(file);
    if (pollMs < this.pollMs) {
      this.pollMs = pollMs;
      if (this.poll) clearInterval(this.poll);
      this.poll = setInterval(() => void this.check(), pollMs);
      this.poll.unref();
    }
    if (this.stale && this.entries?.has(file.name) === false) {
      // Listed again once per burst of changes, not per name: a file just made is found at once.
      this.stale = false;
      this.entries = listNow(this.dir);
    }
    file.last = this.entries?.has(file.name) === false ? MISSING : stampNow(file.path);
    file.onStamp(file.last);
    return () => this.remove(file);
  }

  private remove(file: FileWatcher): void {
    if (!this.watchers.delete(file) || this.watchers.size > 0) return;
    directories.delete(this.dir);
    if (this.poll) clearInterval(this.poll);
    if (this.settle) clearTimeout(this.settle);
    this.watcher?.close();
  }

  /** List the directory, stat what is watched and present, tell each watch whose stamp changed. Never overlapping. */
  private async check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.again = false;
        this.stale = false;
        this.entries = await list(this.dir);
        for (const file of [...this.watchers]) {
          const next = this.entries?.has(file.name) === false ? MISSING : await stampOf(file.path);
          // Removed meanwhile (its holder let go while the stat ran): it hears nothing more.
          if (!this.watchers.has(file) || next === file.last) continue;
          file.last = next;
          file.onStamp(next);
        }
      } while (this.again && this.watchers.size > 0);
    } finally {
      this.checking = false;
    }
  }
}

function listNow(dir: string): Set<string> | undefined {
  try {
    return new Set(readdirSync(dir));
  } catch (error) {
    return unlisted(error);
  }
}

async function list(dir: string): Promise<Set<string> | undefined> {
  try {
    return new Set(await readdir(dir));
  } catch (error) {
    return unlisted(error);
  }
}

/** A directory that is not there holds nothing; one that cannot be read is left to a stat of each file. */
function unlisted(error: unknown): Set<string> | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' ? new Set() : undefined;
}

async function stampOf(path: string): Promise<string> {
  try {
    return stampFrom(await stat(path));
  } catch {
    return MISSING;
  }
}

function stampNow(path: string): string {
  try {
    return stampFrom(statSync(path));
  } catch {
    return MISSING;
  }
}

function stampFrom(st: Stats): string {
  return st.isFile() ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : NOT_A_FILE;
}
