import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ECHO_REQUEST, ECHO_REQUEST_HEADERS } from './echo-request.js';

/**
 * The reference proxies of issue 11, run beside the router on the same load: nginx (`grpc_pass`),
 * HAProxy and nghttpx from Debian's packages. Each `start*` writes the peer's config into a fresh
 * temp dir (logs and pid files there too; nothing under /etc or /var is read or written, and no
 * system service is involved), starts it pinned with `taskset -c <cpu>` as the current user, in the
 * foreground, with one worker on one thread, and resolves once it accepts TCP connections. Both sides
 * are h2c (prior knowledge), as between h2load and the router. Configs are in bench/README.md.
 *
 * The bench measures a peer's CPU over all its processes (`pids()`: the one started and every
 * descendant, e.g. nginx's master and worker, nghttpx's main and worker), read from /proc exactly
 * as the router's.
 */
export const PEER_NAMES = ['nginx', 'haproxy', 'nghttpx'] as const;
export type PeerName = (typeof PEER_NAMES)[number];
export const PEER_LABEL: Record<PeerName, string> = { nginx: 'nginx', haproxy: 'HAProxy', nghttpx: 'nghttpx' };
/** Debian package that ships each peer (for the skip message). */
const PEER_PACKAGE: Record<PeerName, string> = { nginx: 'nginx', haproxy: 'haproxy', nghttpx: 'nghttp2-proxy' };
const PEER_BINARY: Record<PeerName, string> = { nginx: 'nginx', haproxy: 'haproxy', nghttpx: 'nghttpx' };

export interface Peer {
  name: PeerName;
  label: string;
  port: number;
  /** The process started (after taskset's exec) and all its descendants, alive now. */
  pids(): number[];
  /** The config file as written, for the record. */
  config: string;
  stop(): Promise<void>;
}

/** BENCH_PEERS: unset or `all` = every peer; `none`; or a comma list of peer names. */
export function selectPeers(value: string | undefined): PeerName[] {
  const v = (value ?? 'all').trim().toLowerCase();
  if (v === 'all' || v === '') return [...PEER_NAMES];
  if (v === 'none') return [];
  const names = v.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(PEER_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`BENCH_PEERS: unknown peer(s) ${unknown.join(', ')}; use none, all or a comma list of ${PEER_NAMES.join(', ')}`);
  return PEER_NAMES.filter((n) => names.includes(n));
}

/** The peer's binary on PATH or in the sbin directories (not on a non-root user's PATH), or undefined. */
export function findBinary(name: PeerName): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = join(d, PEER_BINARY[name]);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function missingMessage(name: PeerName): string {
  return `${PEER_LABEL[name]}: skipped, '${PEER_BINARY[name]}' is not installed (apt-get install ${PEER_PACKAGE[name]})`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Every live descendant of `root` (by ppid, from /proc), root first. */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended while we looked
    }
  }
  if (!parent.has(root)) return [];
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out;
}

/**
 * Start `argv` pinned to `cpu`, wait until `port` accepts connections (or the process dies, or 10 s
 * pass), and wrap it as a Peer. stderr is kept for the error message when it does not come up.
 */
async function launch(name: PeerName, cpu: number, argv: string[], port: number, dir: string, config: string, logFile: string): Promise<Peer> {
  const child: ChildProcess = spawn('taskset', ['-c', String(cpu), ...argv], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  let exited: number | string | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code ?? signal;
      resolve();
    }),
  );
  child.once('error', (e) => (exited = e.message));
  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      // SIGTERM is a fast shutdown for all three (nginx's master stops its worker first).
      const tree = processTree(child.pid!);
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        for (const pid of tree) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }, 3000);
      await exit;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (exited !== undefined || Date.now() > deadline) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      await stop();
      throw new Error(`${PEER_LABEL[name]} did not start (${exited === undefined ? 'no listener after 10 s' : `exited ${exited}`}): ${(stderr + log).trim().split('\n').slice(-5).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { name, label: PEER_LABEL[name], port, pids: () => processTree(child.pid!), config, stop };
}

/**
 * nginx: one master (idle after start) and one worker process (`worker_processes 1`), both pinned
 * by the inherited taskset mask; the CPU of both is counted. Upstream connections are kept alive
 * (nginx's gRPC proxy puts one stream on each upstream connection, so without `keepalive` every call
 * would open a TCP connection to the endpoint). `keepalive_requests` is raised because since 1.19.7
 * it also caps the calls on one client HTTP/2 connection (default 1000, then GOAWAY), which h2load
 * does not survive. `client_max_body_size 0`: the default 1 MB counts a stream's whole request body,
 * so nginx ends a bidi stream after 1 MB (about 1,000 ping-pong round trips).
 */
export function startNginx(bin: string, backendPort: number, cpu: number): Promise<Peer> {
  return launchNginx('kgr-bench-nginx-', bin, backendPort, cpu, (port) => `
    listen 127.0.0.1:${port} http2;
    location / { grpc_pass grpc://echo; }`);
}

/**
 * nginx with `server` as its one server block's body (its listen line and location); the rest of
 * the config, shared by the plaintext and TLS peers, is the one described above.
 */
async function launchNginx(prefix: string, bin: string, backendPort: number, cpu: number, server: (port: number) => string): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const port = await freePort();
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};\n` : '';
  const config = `${user}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_max_body_size 0;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream echo {
    server 127.0.0.1:${backendPort};
    keepalive 256;
  }
  server {${server(port)}
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  // -e: the error log before the config is read (else the compiled-in /var/log/nginx/error.log).
  return launch('nginx', cpu, [bin, '-p', `${dir}/`, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`], port, dir, config, `${dir}/error.log`);
}

/**
 * HAProxy: one process, one thread (`nbthread 1`), foreground (`-db`), no logging configured.
 * `tune.bufsize` is raised from 16 KiB to 128 KiB because with the default, two or more 64 KiB
 * ping-pong streams on one connection stall in HAProxy 2.6 until `timeout client` (a message that
 * does not fit a stream's buffer blocks the connection's demux; measured: 1 stream per connection
 * runs, 2 or 4 never complete; 16 and 30 KB messages run at 8 streams). Unary calls are 12 bytes
 * and do not notice the buffer size; the cost is up to 128 KiB per busy stream in RSS.
 */
export async function startHaproxy(bin: string, backendPort: number, cpu: number): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-bench-haproxy-'));
  const port = await freePort();
  const config = `global
  nbthread 1
  maxconn 4096
  tune.bufsize 131072

defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s

frontend grpc_in
  bind 127.0.0.1:${port} proto h2
  default_backend echo

backend echo
  server s1 127.0.0.1:${backendPort} proto h2
`;
  writeFileSync(join(dir, 'haproxy.cfg'), config);
  return launch('haproxy', cpu, [bin, '-db', '-f', join(dir, 'haproxy.cfg')], port, dir, config, '');
}

/**
 * nghttpx: its main process and one worker process (`workers=1`, `single-thread`: the worker's
 * connections are handled on one thread); the CPU of both is counted. `--conf` points at our file,
 * or nghttpx would read /etc/nghttpx/nghttpx.conf.
 */
export async function startNghttpx(bin: string, backendPort: number, cpu: number): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'kgr-bench-nghttpx-'));
  const port = await freePort();
  const config = `frontend=127.0.0.1,${port};no-tls
backend=127.0.0.1,${backendPort};;proto=h2
workers=1
single-thread=yes
errorlog-file=${dir}/error.log
pid-file=${dir}/nghttpx.pid
`;
  writeFileSync(join(dir, 'nghttpx.conf'), config);
  return launch('nghttpx', cpu, [bin, `--conf=${dir}/nghttpx.conf`], port, dir, config, `${dir}/error.log`);
}

export function startPeer(name: PeerName, bin: string, backendPort: number, cpu: number): Promise<Peer> {
  switch (name) {
    case 'nginx':
      return startNginx(bin, backendPort, cpu);
    case 'haproxy':
      return startHaproxy(bin, backendPort, cpu);
    case 'nghttpx':
      return startNghttpx(bin, backendPort, cpu);
  }
}

/**
 * One unary gRPC call through `port` with node:http2, reading the trailers: resolves undefined when
 * the echo came back intact with `grpc-status: 0`, else a description of what came back. h2load only
 * sees `:status`, so this is what shows that a peer really proxies gRPC (trailers included).
 */
export function grpcCheck(port: number, timeoutMs = 5000, tlsCa?: Buffer): Promise<string | undefined> {
  return new Promise((resolve) => {
    const session = tlsCa ? http2.connect(`https://localhost:${port}`, { ca: tlsCa, host: '127.0.0.1' }) : http2.connect(`http://127.0.0.1:${port}`);
    const done = (result: string | undefined) => {
      clearTimeout(timer);
      session.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(`no answer in ${timeoutMs} ms`), timeoutMs);
    session.on('error', (e) => done(`session error: ${e.message}`));
    const req = session.request(ECHO_REQUEST_HEADERS);
    let status: unknown;
    let grpcStatus: unknown;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = h[':status'];
      grpcStatus = h['grpc-status']; // a trailers-only answer
    });
    req.on('trailers', (t) => (grpcStatus = t['grpc-status']));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (e) => done(`stream error: ${e.message}`));
    req.on('close', () => {
      const echoed = Buffer.concat(chunks);
      if (status === 200 && String(grpcStatus) === '0' && echoed.equals(ECHO_REQUEST)) done(undefined);
      else done(`:status ${String(status)}, grpc-status ${String(grpcStatus)}, ${echoed.length} of ${ECHO_REQUEST.length} bytes echoed`);
    });
    req.end(ECHO_REQUEST);
  });
}

/** Certificates for the TLS row: a CA, and one leaf for `localhost` / 127.0.0.1 used by every TLS listener. */
export interface BenchCerts {
  ca: string;
  cert: string;
  key: string;
}

/**
 * nginx with TLS on both legs, for the bench's TLS row: `listen … ssl http2` with the bench's
 * certificate, and `grpc_pass grpcs://` to the TLS endpoint, verifying it against the CA with
 * `grpc_ssl_name localhost` sent as SNI and sessions reused (as the router does). Otherwise the
 * same as startNginx.
 */
export function startNginxTls(bin: string, backendPort: number, cpu: number, certs: BenchCerts): Promise<Peer> {
  return launchNginx('kgr-bench-nginx-tls-', bin, backendPort, cpu, (port) => `
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${certs.cert};
    ssl_certificate_key ${certs.key};
    location / {
      grpc_pass grpcs://echo;
      grpc_ssl_trusted_certificate ${certs.ca};
      grpc_ssl_verify on;
      grpc_ssl_name localhost;
      grpc_ssl_server_name on;
      grpc_ssl_session_reuse on;
    }`);
}
