import { execFile, execFileSync } from 'node:child_process';
import { startRouter, type Harness } from '../router/setup.js';
import { startRecordingBackend, type RecordingBackend } from '../fixtures/grpc/recording-backend.js';

/**
 * Shared by the real-peer tests: a router whose `kgr.test.TestService` is routed to one backend,
 * and a way to run an outside program against it (bounded in time, output captured).
 */
export const SERVICE = 'kgr.test.TestService';

export interface RoutedBackend {
  router: Harness;
  backend: RecordingBackend;
  close(): Promise<void>;
}

/** A router in front of a recording node:http2 backend. */
export async function routedRecordingBackend(): Promise<RoutedBackend> {
  const backend = await startRecordingBackend();
  const router = await startRouter(`/svc/${SERVICE} => /#/test/backend`);
  router.namer.serve('backend', [backend.port]);
  return {
    router,
    backend,
    close: async () => {
      await router.close();
      await backend.close();
    },
  };
}

/** The reason to skip a peer test, or false when the program is there. */
export function missing(program: string, args: string[], why: string): string | false {
  try {
    execFileSync(program, args, { stdio: 'ignore', timeout: 10_000 });
    return false;
  } catch {
    return `${why} (.ci/run installs it)`;
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (killed after `timeoutMs`); never rejects, the test judges the result. */
export function run(program: string, args: string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(program, args, { timeout: timeoutMs, maxBuffer: 32 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A gRPC length-prefixed message (uncompressed). */
export function grpcMessage(payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}
