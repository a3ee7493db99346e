import { readFile } from 'node:fs/promises';
import { delegate, type DelegateNode } from './delegate.js';
import { routeDelegation } from './delegation-routing.js';
import type { Dtab } from './dtab.js';
import { DtabSyntaxError } from './errors.js';
import { NameInterpreter } from './interpreter.js';
import type { GlobalNamer } from './namer.js';
import { parseDtab, parsePath } from './parse.js';

export interface CommandIO {
  stdin: NodeJS.ReadableStream;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** What `dtab delegate` binds with: the router's own global namer, so the CLI resolves `/$/inet` as routing does. */
export interface DtabCommandDeps {
  global: GlobalNamer;
}

const USAGE = `usage: kube-grpc-router dtab <command>
  fmt [FILE|-]                               print the dtab in canonical form, one dentry a line
  check FILE...                              validate dtab files; FILE:LINE:COL: message per error
  delegate --dtab FILE|TEXT PATH [--json] [--timeout MS]
                                             show how PATH delegates (only /$/ namers are available)
`;

/** `kube-grpc-router dtab …` (args without the leading `dtab`). Resolves to the exit code. */
export async function runDtabCommand(args: string[], io: CommandIO, deps: DtabCommandDeps): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'fmt':
      return fmt(rest, io);
    case 'check':
      return check(rest, io);
    case 'delegate':
      return delegateCommand(rest, io, deps);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      (command === undefined ? io.stderr : io.stdout).write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      io.stderr.write(`dtab: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

async function fmt(args: string[], io: CommandIO): Promise<number> {
  if (args.length > 1) {
    io.stderr.write(`dtab fmt: expected at most one FILE, got ${args.length}\n`);
    return 2;
  }
  const file = args[0] ?? '-';
  const source = file === '-' ? '<stdin>' : file;
  let text: string;
  try {
    text = file === '-' ? await readAll(io.stdin) : await readFile(file, 'utf8');
  } catch (e) {
    io.stderr.write(`${source}: cannot read: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    const dtab = parseDtab(text, { source });
    io.stdout.write(formatDtab(dtab));
    return 0;
  } catch (e) {
    return reportError(e, io);
  }
}

/** One dentry a line, `;` between them, each in Finagle's canonical form. */
export function formatDtab(dtab: Dtab): string {
  return dtab.isEmpty ? '' : dtab.dentries.map((d) => d.show()).join(';\n') + '\n';
}

async function check(files: string[], io: CommandIO): Promise<number> {
  if (files.length === 0) {
    io.stderr.write(`dtab check: expected at least one FILE\n${USAGE}`);
    return 2;
  }
  let failures = 0;
  for (const file of files) {
    try {
      const dtab = parseDtab(await readFile(file, 'utf8'), { source: file });
      io.stdout.write(`${file}: ok (${dtab.size} ${dtab.size === 1 ? 'dentry' : 'dentries'})\n`);
    } catch (e) {
      failures++;
      if (e instanceof DtabSyntaxError) reportError(e, io);
      else io.stderr.write(`${file}: cannot read: ${(e as Error).message}\n`);
    }
  }
  return failures === 0 ? 0 : 1;
}

async function delegateCommand(args: string[], io: CommandIO, deps: DtabCommandDeps): Promise<number> {
  let dtabArg: string | undefined;
  let pathArg: string | undefined;
  let json = false;
  let timeoutMs = 2000;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') json = true;
    else if (a === '--dtab' || a === '--timeout') {
      const value = args[++i];
      if (value === undefined) {
        io.stderr.write(`dtab delegate: ${a} needs a value\n`);
        return 2;
      }
      if (a === '--dtab') dtabArg = value;
      else if (!/^\d+$/.test(value)) {
        io.stderr.write(`dtab delegate: --timeout wants milliseconds, got '${value}'\n`);
        return 2;
      } else timeoutMs = Number(value);
    } else if (a.startsWith('--dtab=')) dtabArg = a.slice('--dtab='.length);
    else if (a.startsWith('--') && a.length > 2) {
      io.stderr.write(`dtab delegate: unknown option '${a}'\n${USAGE}`);
      return 2;
    } else if (pathArg === undefined) pathArg = a;
    else {
      io.stderr.write(`dtab delegate: unexpected argument '${a}'\n`);
      return 2;
    }
  }
  if (dtabArg === undefined || pathArg === undefined) {
    io.stderr.write(`dtab delegate: needs --dtab FILE|TEXT and a PATH\n${USAGE}`);
    return 2;
  }
  try {
    // A --dtab value that names a readable file is that file; anything else is dtab text.
    const fromFile = await readFile(dtabArg, 'utf8').catch(() => undefined);
    const dtab = parseDtab(fromFile ?? dtabArg, fromFile === undefined ? { source: '--dtab' } : { source: dtabArg });
    const path = parsePath(pathArg, { source: 'PATH' });
    const tree = await delegate(new NameInterpreter({ global: deps.global }), dtab, path, { timeoutMs });
    // JSON stays Linkerd's shape; the tree for people also says where routing sends calls.
    io.stdout.write(json ? `${JSON.stringify(tree, null, 2)}\n` : renderTree(routeDelegation(tree)));
    return 0;
  } catch (e) {
    return reportError(e, io);
  }
}

function reportError(e: unknown, io: CommandIO): number {
  if (e instanceof DtabSyntaxError) {
    io.stderr.write(`${e.format()}\n  ${e.excerpt}\n`);
    return 1;
  }
  io.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
  return 1;
}

/**
 * The delegation as an indented tree, one step a line. With `routing` on its nodes (see
 * routeDelegation), the steps where routing's chosen routes end say so, and what calls get there.
 */
export function renderTree(root: DelegateNode): string {
  const lines: string[] = [];
  const walk = (node: DelegateNode, lead: string, branch: string, label: string) => {
    const children: [string, DelegateNode][] =
      node.type === 'delegate'
        ? [['', node.delegate]]
        : node.type === 'alt'
          ? node.alt.map((n) => ['', n])
          : node.type === 'union'
            ? node.union.map((w) => [`${w.weight} × `, w.tree])
            : [];
    lines.push(lead + branch + label + describe(node) + routeNote(node, children));
    const inner = lead + (branch === '' ? '' : branch === '└─ ' ? '   ' : '│  ');
    children.forEach(([l, child], i) => walk(child, inner, i === children.length - 1 ? '└─ ' : '├─ ', l));
  };
  walk(root, '', '', '');
  return lines.join('\n') + '\n';
}

function routeNote(node: DelegateNode, children: [string, DelegateNode][]): string {
  const r = node.routing;
  if (r === undefined || !r.chosen || children.some(([, c]) => c.routing?.chosen)) return '';
  const share = r.share < 1 ? ` (${+(r.share * 100).toFixed(1)}% of calls)` : '';
  return r.fails === undefined ? `  <- routed here${share}` : `  <- calls fail here${share}: ${r.fails}`;
}

function describe(node: DelegateNode): string {
  const via = node.dentry === undefined ? '' : `  (${node.dentry.prefix} => ${node.dentry.dst})`;
  switch (node.type) {
    case 'delegate':
      return `${node.path}${via}`;
    case 'alt':
      return `${node.path}${via}  alternatives, first that is not neg wins:`;
    case 'union':
      return `${node.path}${via}  weighted union:`;
    case 'leaf': {
      const addr = node.bound.addr;
      const where =
        addr.type === 'bound'
          ? addr.addrs.length === 0
            ? 'no endpoints'
            : addr.addrs.map((a) => (a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`)).join(', ')
          : addr.type === 'failed'
            ? `failed: ${addr.cause}`
            : addr.type;
      const residual = node.bound.path === '/' ? '' : ` residual ${node.bound.path}`;
      return `${node.path}${via}  bound ${node.bound.id}${residual} -> ${where}`;
    }
    case 'neg':
      return `${node.path}${via}  neg (no match)`;
    case 'fail':
      return `${node.path}${via}  fail`;
    case 'empty':
      return `${node.path}${via}  empty`;
    case 'exception':
      return `${node.path}${via}  error: ${node.message}`;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
