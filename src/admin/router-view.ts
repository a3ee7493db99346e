import { delegate } from '../dtab/delegate.js';
import { Dtab } from '../dtab/dtab.js';
import type { NameInterpreter } from '../dtab/interpreter.js';
import type { RouterSnapshot } from '../introspection/snapshots.js';
import type { AdminRouter } from './deps.js';

/**
 * The admin's view of a router: its snapshots, and delegations through the interpreter it binds
 * with. `prelude` is the dtab the router's interpreter puts before any other (a live dtab file's
 * dentries), read when a delegation starts.
 */
export function adminRouter(
  router: { readonly label: string; snapshot(): RouterSnapshot },
  interpreter: NameInterpreter,
  prelude: () => Dtab = () => Dtab.empty,
): AdminRouter {
  return {
    label: router.label,
    snapshot: () => router.snapshot(),
    delegate: (path, dtab, options) => delegate(interpreter, prelude().concat(dtab), path, options),
  };
}

/**
 * The dentries a live dtab holds before `base` (a dtab file's, when the live dtab is the file's
 * followed by the router's base), read when asked: already parsed, never parsed again.
 */
export function dentriesBefore(live: { readonly sample: Dtab }, base: Dtab): () => Dtab {
  return () => {
    const d = live.sample;
    return new Dtab(d.dentries.slice(0, Math.max(0, d.size - base.size)));
  };
}
