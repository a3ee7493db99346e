// Helpers for tests that run the built CLI as a real process (imported by test/cli and test/e2e).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { eventually } from '../support/eventually.js';

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
  return runNode([CLI, ...args], options);
}

/** Run a node script (`args[0]`, then its arguments) to completion (bounded). */
export function runNode(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} did not exit in time\nstdout: ${stdout}\nstderr: ${stderr}`));
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

  /** Wait (bounded) until stdout or stderr matches; fails at once if the process exits first. */
  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const seen = await eventually(`${pattern} in the output`, () => pattern.exec(this.stdout) ?? pattern.exec(this.stderr) ?? (this.child.exitCode !== null && 'exited'), timeoutMs).catch(
      (e: Error) => Promise.reject(new Error(`${e.message}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)),
    );
    if (seen === 'exited') throw new Error(`process exited (${this.child.exitCode}) before ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
    return seen;
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
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // The kernel may hand a just-released port out again: two calls for one config (router and
    // grpclb, say) must not get the same one.
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}
const handedOut = new Set<number>();

/** GET a URL on the admin server; returns status and body. */
export async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}
