// `npm test`'s runner: every dist/test/**/*.test.js, and nothing else, through node's test runner.
// Node 22+ no longer expands a directory given to --test, and Node 20 has no glob support of its
// own, so the files are listed here (helpers and fixtures are not tests and are not run).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));

function* tests(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tests(path);
    else if (entry.name.endsWith('.test.js')) yield relative(root, path);
  }
}

// Arguments are folders (searched for *.test.js) or test files; none means all of dist/test.
// The end-to-end files (real router processes; the name flood is the suite's longest) start first,
// so the rest of the suite runs beside them instead of after them.
const e2eFirst = (f) => (f.startsWith(join('dist', 'test', 'e2e')) ? 0 : 1);
const files = (dirs.length > 0 ? dirs : ['dist/test'])
  .flatMap((d) => (statSync(join(root, d)).isDirectory() ? [...tests(join(root, d))] : [relative(root, join(root, d))]))
  .sort((a, b) => e2eFirst(a) - e2eFirst(b) || (a < b ? -1 : a > b ? 1 : 0));
if (files.length === 0) {
  console.error(`no *.test.js under ${dirs.join(', ') || 'dist/test'}: run npm run build first`);
  process.exit(1);
}
const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...flags, ...files], { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
