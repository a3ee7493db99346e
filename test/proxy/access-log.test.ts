import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { AccessLog, type AccessRecord } from '../../src/proxy/access-log.js';

const RECORD: AccessRecord = {
  remote: '127.0.0.1', authority: 'router:4140', path: '/x.Svc/Method', service: '/svc/x.Svc', endpoint: '127.0.0.1:8080',
  httpStatus: 200, grpcStatus: 0, durationMs: 1.5, bytesIn: 12, bytesOut: 34,
};

/**
 * Every client's calls make lines: a log whose file falls behind (a slow disk; here a FIFO nobody
 * reads) must drop and count lines, not hold them all.
 */
test('an access log whose file takes nothing holds at most 8 MiB of lines; the rest are dropped and counted', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-access-'));
  const fifo = join(dir, 'access.fifo');
  execFileSync('mkfifo', [fifo]);
  // A reader that never reads: the pipe fills (64 KiB) and the log's writes wait.
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  let dropped = 0;
  const log = new AccessLog(fifo, (n) => (dropped += n));
  const out = (log as unknown as { out: Writable }).out;
  let most = 0;
  try {
    // ~100 bytes a line: 200,000 lines are ~20 MB, over many turns (one write per turn).
    for (let turn = 0; turn < 200; turn++) {
      for (let i = 0; i < 1000; i++) log.write(RECORD);
      await nextTurn();
      most = Math.max(most, out.writableLength);
    }
    assert.ok(dropped > 100_000, `${dropped} lines dropped`);
    assert.ok(most <= (8 << 20) + 1000 * 120, `the stream held ${most} bytes`);
  } finally {
    // Read the pipe out so the pending writes finish, then close.
    const buf = Buffer.alloc(1 << 20);
    const closed = log.close();
    let done = false;
    void closed.then(() => (done = true));
    while (!done) {
      try {
        readSync(reader, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      await nextTurn();
    }
    closeSync(reader);
    rmSync(dir, { recursive: true, force: true });
  }
});
