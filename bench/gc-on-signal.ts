/**
 * Bench-only preload (`node --expose-gc --import=…/gc-on-signal.js`): on SIGUSR2 run a full GC and
 * print `gc done`, so a bench reads a settled heap instead of wherever the old generation's
 * sawtooth happens to be. The product never loads this.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('gc-on-signal needs node --expose-gc');
process.on('SIGUSR2', () => {
  gc();
  process.stdout.write('gc done\n');
});
