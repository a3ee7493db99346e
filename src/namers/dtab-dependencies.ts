import type { Dtab } from '../dtab/dtab.js';
import type { NameInterpreter } from '../dtab/interpreter.js';
import { leaves } from '../dtab/tree.js';
import type { Closable, Var } from '../util/var.js';

/**
 * The namer names a router's dtab spells out (`/svc/x => /#/io.l5d.k8s/default/grpc/x`), held open
 * for as long as that dtab is in force. Discovery for them starts with the router instead of with
 * the first request, so `/ready` can wait until the namers those routes depend on have answered
 * (a namer's `ready()` only knows about names in use). Names a request builds from a residual
 * (`/svc => /#/io.l5d.k8s/default/grpc`) cannot be known before the request and are not held.
 *
 * Which namer a path goes to is the interpreter's own lookup step, so a path the dtab itself
 * rewrites is not held, and the namer held is the one binding asks first.
 */
export class DtabDependencies {
  private held: Closable[] = [];
  private readonly watch: Closable;

  constructor(
    dtab: Var<Dtab>,
    private readonly interpreter: NameInterpreter,
  ) {
    this.watch = dtab.observe((d) => this.hold(d));
  }

  private hold(dtab: Dtab): void {
    const previous = this.held;
    this.held = [];
    for (const dentry of dtab.dentries) {
      for (const path of leaves(dentry.dst)) {
        const step = this.interpreter.step(dtab, path);
        if (step.from !== 'namers') continue;
        // The first configured namer binding would ask; the global namer's names need no warming.
        const first = step.candidates[0]!;
        if (first.prefix !== undefined) this.held.push(first.namer.lookup(first.path).observe(() => {}));
      }
    }
    // Open the new names before letting the old ones go, so a watch both dtabs name is kept.
    for (const h of previous) h.close();
  }

  close(): void {
    this.watch.close();
    for (const h of this.held.splice(0)) h.close();
  }
}
