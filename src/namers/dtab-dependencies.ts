import type { Dtab } from '../dtab/dtab.js';
import type { NameTree } from '../dtab/nametree.js';
import type { Path } from '../dtab/path.js';
import type { Closable, Var } from '../util/var.js';
import type { PrefixedNamer } from './namer.js';

/**
 * The namer names a router's dtab spells out (`/svc/x => /#/io.l5d.k8s/default/grpc/x`), held open
 * for as long as that dtab is in force. Discovery for them starts with the router instead of with
 * the first request, so `/ready` can wait until the namers those routes depend on have answered
 * (a namer's `ready()` only knows about names in use). Names a request builds from a residual
 * (`/svc => /#/io.l5d.k8s/default/grpc`) cannot be known before the request and are not held.
 */
export class DtabDependencies {
  private held: Closable[] = [];
  private readonly watch: Closable;

  constructor(dtab: Var<Dtab>, private readonly namers: readonly PrefixedNamer[]) {
    this.watch = dtab.observe((d) => this.hold(d));
  }

  private hold(dtab: Dtab): void {
    const previous = this.held;
    this.held = [];
    for (const dentry of dtab.dentries) {
      for (const path of leaves(dentry.dst)) {
        // The interpreter asks the last configured namer whose prefix starts the path.
        const owner = [...this.namers].reverse().find((n) => path.startsWith(n.prefix));
        if (owner) this.held.push(owner.namer.lookup(path.drop(owner.prefix.size)).observe(() => {}));
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

function* leaves(tree: NameTree<Path>): Generator<Path> {
  switch (tree.kind) {
    case 'leaf':
      yield tree.value;
      break;
    case 'alt':
      for (const t of tree.trees) yield* leaves(t);
      break;
    case 'union':
      for (const w of tree.trees) yield* leaves(w.tree);
      break;
  }
}
