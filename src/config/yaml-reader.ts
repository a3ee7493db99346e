import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import type { ConfigIssue } from './errors.js';
import { didYouMean } from './suggest.js';

/** A key the loader accepts for Linkerd compatibility but does nothing with, and why. */
export interface IgnoredKey {
  path: string;
  reason: string;
}

/**
 * A parsed YAML document that remembers where every node came from, and the issues found in it.
 * Reading never throws: each problem is recorded with its position and reading goes on, so one
 * pass reports every mistake in the file.
 */
export class YamlSource {
  readonly issues: ConfigIssue[] = [];
  readonly ignored: IgnoredKey[] = [];
  readonly root: Field;
  private readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    readonly text: string,
  ) {
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true, strict: true });
    for (const error of doc.errors) this.report('', error.pos[0], yamlMessage(error.message));
    this.root = new Field(this, '', doc.errors.length > 0 ? undefined : ((doc.contents as Node | null) ?? undefined), 0);
  }

  position(offset: number): { line: number; column: number } {
    const { line, col } = this.lines.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { line: Math.max(1, line), column: Math.max(1, col) };
  }

  report(path: string, offset: number, message: string): void {
    this.issues.push({ path, message, file: this.file, ...this.position(offset) });
  }
}

/** The yaml package's messages end with a position we already report; keep the words. */
function yamlMessage(message: string): string {
  return 'invalid YAML: ' + message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').trim();
}

/**
 * Linkerd keys whose silent absence would change behaviour or security: refused with a reason
 * rather than ignored or called unknown.
 */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  tls: 'TLS is configured under servers[] (tls.certPath, …) and client (tls, or configs[].tls)',
  transformers: 'there is no linker-to-linker hop to transform for; use preferLocalNode on the k8s namer',
  pathWhitelist: 'bind admin.ip to a private address instead',
  pathBlacklist: 'bind admin.ip to a private address instead',
  announcers: 'service announcement is not implemented',
  labelSelector: 'label-value routing is not implemented',
};

/** What a node is, in words, for `got …` in messages. */
export function describe(node: Node | undefined): string {
  if (node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'nothing';
    if (typeof v === 'string') return JSON.stringify(v);
    return String(v);
  }
  return 'an alias';
}

/** One position in the document: a node (or the absence of one) and its key path. */
export class Field {
  constructor(
    readonly source: YamlSource,
    readonly path: string,
    /** undefined when the key is absent (or explicitly null, which Linkerd treats the same). */
    readonly node: Node | undefined,
    /** Where to point when there is no node: the enclosing mapping. */
    private readonly fallbackOffset: number,
  ) {}

  get present(): boolean {
    return this.node !== undefined;
  }

  get offset(): number {
    return this.node?.range?.[0] ?? this.fallbackOffset;
  }

  fail(message: string): undefined {
    this.source.report(this.path, this.offset, message);
    return undefined;
  }

  /** Report `expected …, got …` at this node. */
  expected(what: string): undefined {
    return this.fail(`expected ${what}, got ${describe(this.node)}`);
  }

  required(what: string): this | undefined {
    if (this.present) return this;
    this.fail(`missing required key (expected ${what})`);
    return undefined;
  }

  /**
   * Read a mapping whose keys must be among `known`; keys in `ignored` are accepted and noted.
   * Returns a reader for every known key (absent ones too, so callers apply defaults uniformly).
   */
  object(known: readonly string[], ignored: Readonly<Record<string, string>> = {}, unsupported: Readonly<Record<string, string>> = UNSUPPORTED): Fields | undefined {
    if (!this.node) return undefined;
    if (!isMap(this.node)) return this.expected('a mapping');
    const found = new Map<string, Field>();
    for (const pair of this.node.items) {
      const keyNode = pair.key as Node | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
      const keyOffset = keyNode?.range?.[0] ?? this.offset;
      const path = this.path ? `${this.path}.${key}` : String(key);
      if (key === undefined) {
        this.source.report(this.path, keyOffset, 'expected a plain key');
      } else if (known.includes(key)) {
        const value = pair.value as Node | null;
        const absent = value === null || (isScalar(value) && value.value === null);
        found.set(key, new Field(this.source, path, absent ? undefined : value, keyOffset));
      } else if (key in ignored) {
        this.source.ignored.push({ path, reason: ignored[key]! });
      } else if (key in unsupported) {
        this.source.report(path, keyOffset, `"${key}" is not supported: ${unsupported[key]}`);
      } else {
        const where = this.path ? ` in ${this.path}` : '';
        this.source.report(path, keyOffset, `unknown key "${key}"${where}${didYouMean(key, known)}`);
      }
    }
    return new Fields(this, found);
  }

  /** One key of a mapping, without checking the others (e.g. `kind` before kind-specific keys). */
  peek(key: string): Field {
    const path = this.path ? `${this.path}.${key}` : key;
    if (!isMap(this.node)) return new Field(this.source, path, undefined, this.offset);
    const pair = this.node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    const value = (pair?.value ?? null) as Node | null;
    const absent = value === null || (isScalar(value) && value.value === null);
    return new Field(this.source, path, absent ? undefined : value, (pair?.key as Node | undefined)?.range?.[0] ?? this.offset);
  }

  private listed: Field[] | undefined;
  private listFailed = false;

  /** The items of a list (read once; asking again reports nothing twice). */
  list(): Field[] | undefined {
    if (this.listed || this.listFailed) return this.listed;
    if (!this.node) return undefined;
    if (!isSeq(this.node)) {
      this.listFailed = true;
      return this.expected('a list');
    }
    return (this.listed = this.node.items.map((item, i) => {
      const node = item as Node | null;
      const absent = node === null || (isScalar(node) && node.value === null);
      return new Field(this.source, `${this.path}[${i}]`, absent ? undefined : node, node?.range?.[0] ?? this.offset);
    }));
  }

  /** Linkerd accepts a single object where a list is expected (e.g. `identifier`). */
  listOrOne(): Field[] | undefined {
    if (!this.node) return undefined;
    return isSeq(this.node) ? this.list() : [this];
  }

  private scalar(): unknown {
    return isScalar(this.node) ? this.node.value : undefined;
  }

  string(what = 'a string'): string | undefined {
    if (!this.node) return undefined;
    const v = this.scalar();
    return typeof v === 'string' ? v : this.expected(what);
  }

  int(min: number, max: number): number | undefined {
    if (!this.node) return undefined;
    const v = this.scalar();
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    return this.expected(max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer ${min}-${max}`);
  }

  bool(): boolean | undefined {
    if (!this.node) return undefined;
    const v = this.scalar();
    return typeof v === 'boolean' ? v : this.expected('true or false');
  }

  oneOf<T extends string>(values: readonly T[]): T | undefined {
    if (!this.node) return undefined;
    const v = this.scalar();
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    const hint = typeof v === 'string' ? didYouMean(v, values) : '';
    return this.fail(`expected one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(this.node)}${hint}`);
  }
}

/** The readers of one mapping's known keys. */
export class Fields {
  constructor(
    readonly owner: Field,
    private readonly found: Map<string, Field>,
  ) {}

  get(key: string): Field {
    return this.found.get(key) ?? new Field(this.owner.source, this.owner.path ? `${this.owner.path}.${key}` : key, undefined, this.owner.offset);
  }

  has(key: string): boolean {
    return this.found.has(key);
  }
}
