// Build: compile every grammar/*.peggy into dist/src/<room>/ and then run tsc.
// The generated parsers are build outputs; their hand-written .d.ts sit beside the
// TypeScript that imports them (e.g. src/dtab/dtab-parser.d.ts).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, cpSync, existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

// Start clean so a renamed or deleted test never lingers in dist/ and runs again.
rmSync(join(root, 'dist'), { recursive: true, force: true });

// grammar/<name>.peggy -> dist/src/<room>/<name>-parser.js; the room is named in the table.
const grammars = { dtab: 'dtab' };
for (const file of existsSync(join(root, 'grammar')) ? readdirSync(join(root, 'grammar')) : []) {
  if (!file.endsWith('.peggy')) continue;
  const name = file.slice(0, -'.peggy'.length);
  const room = grammars[name] ?? name;
  const out = join(root, 'dist', 'src', room, `${name}-parser.js`);
  mkdirSync(dirname(out), { recursive: true });
  execFileSync(bin('peggy'), ['--format', 'es', '--allowed-start-rules', '*', '-o', out, join(root, 'grammar', file)], { stdio: 'inherit' });
}

execFileSync(bin('tsc'), ['-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });

// Static assets (dashboard files, the grpclb and xDS .proto files, test fixtures such as .proto files) are copied as they are.
for (const dir of ['src/admin/assets', 'src/grpclb', 'src/xds/proto', 'src/xds/assets', 'test/fixtures']) {
  if (existsSync(join(root, dir))) cpSync(join(root, dir), join(root, 'dist', dir), { recursive: true, filter: (p) => !p.endsWith('.ts') });
}
