import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The floors of src/, read from the TypeScript sources: every import (type-only and dynamic ones
 * included, since a type import still ties two modules' designs together) forms a graph that must
 * have no cycle, and the rooms below must not reach up: dtab never imports namers (the published
 * `./dtab` export must not pull in DNS), config never imports router.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Module (repo-relative .ts path) → the modules and packages it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = info.importedFiles.map(({ fileName }) =>
      fileName.startsWith('.') ? relative(ROOT, resolve(dirname(file), fileName.replace(/\.js$/, '.ts'))) : fileName,
    );
    graph.set(relative(ROOT, file), targets);
  }
  return graph;
}

/** Strongly connected components with more than one module (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** Every module reachable from `start`, packages included. */
function closure(graph: Map<string, string[]>, start: string): Set<string> {
  const seen = new Set<string>([start]);
  const todo = [start];
  while (todo.length > 0) for (const t of graph.get(todo.pop()!) ?? []) if (!seen.has(t)) seen.add(t), todo.push(t);
  return seen;
}

const graph = importGraph();

test('src/ has no import cycle', () => {
  assert.deepEqual(cycles(graph).map((c) => c.join(' ↔ ')), [], 'import cycles');
});

test('no import climbs from dtab to namers, or from config to router', () => {
  const climbs: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      if (from.startsWith('src/dtab/') && to.startsWith('src/namers/')) climbs.push(`${from} → ${to}`);
      if (from.startsWith('src/config/') && to.startsWith('src/router/')) climbs.push(`${from} → ${to}`);
    }
  }
  assert.deepEqual(climbs, []);
});

test('the published ./dtab export loads no DNS and no sockets', () => {
  const reached = [...closure(graph, 'src/dtab/index.ts')];
  assert.deepEqual(reached.filter((m) => /^(node:)?(dns|net|tls|http2?)$/.test(m)), []);
  assert.deepEqual(reached.filter((m) => m.startsWith('src/') && !m.startsWith('src/dtab/') && !m.startsWith('src/util/')), []);
});
