// Helpers for tests that run the built CLI as a real process (imported by test/cli and test/e2e).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion (bounded). */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kube-grpc-router ${args.join(' ')} did not exit in time\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A CLI process left running, with its output so far. */
export class Started {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => (this.stdout += d));
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Wait (bounded) until stdout or stderr matches. */
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const start = Date.now();
    for (;;) {
      const m = pattern.exec(this.stdout) ?? pattern.exec(this.stderr);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`process exited (${this.child.exitCode}) before ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
      await sleep(25);
    }
  }

  /** Stop it for good (test cleanup): SIGKILL if it is still running. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Started {
  return new Started(spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** A port nothing listens on right now (bound to 0, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** GET a URL on the admin server; returns status and body. */
export async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** Poll until `check` passes (bounded). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) throw last;
    await sleep(50);
  }
}
