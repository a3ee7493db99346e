import { statSync, watch as fsWatch, type FSWatcher, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';

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

/**
 * Tell `onStamp` what `path` is now (a stamp of inode, size and times, or MISSING / NOT_A_FILE),
 * first before returning and then each time that changes, until the returned function is called.
 * (The first look is synchronous so that a watch started for a lookup answers at once, as a Neg for
 * a missing file should; it runs once per watch, never per lookup.)
 *
 * Files are edited in place, replaced by a rename, or swapped under a Kubernetes ConfigMap's
 * `..data` symlink, so the *directory* is watched (any event there is a reason to look) and also
 * polled; what changed is decided by comparing stamps, not by trusting events. Stats are async and
 * never overlap.
 */
export function watchFile(path: string, onStamp: (stamp: string) => void, options: FileWatchOptions = {}): () => void {
  let last: string | undefined;
  let checking = false;
  let again = false;
  let stopped = false;
  let settle: NodeJS.Timeout | undefined;

  const check = async (): Promise<void> => {
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    try {
      do {
        again = false;
        const next = await stampOf(path);
        if (stopped) return;
        if (next !== last) {
          last = next;
          onStamp(next);
        }
      } while (again && !stopped);
    } finally {
      checking = false;
    }
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = fsWatch(dirname(path), { persistent: false }, () => {
      if (settle) clearTimeout(settle);
      settle = setTimeout(() => void check(), SETTLE_MS);
      settle.unref();
    });
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined; // the directory does not exist (yet): the poll covers it
  }
  const poll = setInterval(() => void check(), options.pollMs ?? 500);
  poll.unref();
  last = stampNow(path);
  onStamp(last);
  return () => {
    stopped = true;
    clearInterval(poll);
    if (settle) clearTimeout(settle);
    watcher?.close();
  };
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
