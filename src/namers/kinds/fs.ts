import type { NamerConfig } from '../../config/types.js';
import { FsNamer } from '../fs.js';
import type { NamerKind } from '../kind.js';

/** `io.l5d.fs`: `/<service>` → the endpoints listed in the file of that name under `rootDir`. */
export interface FsNamerConfig extends NamerConfig {
  /** Absolute (the loader resolves it against the config file's directory). */
  rootDir: string;
}

export const fsNamer: NamerKind<FsNamerConfig> = {
  kind: 'io.l5d.fs',
  keys: ['rootDir'],
  read(f, ctx) {
    const rootDir = f.get('rootDir').required('a directory path')?.string('a directory path');
    return { rootDir: rootDir === undefined ? '' : ctx.path(rootDir) };
  },
  create(config, { prefix, log }) {
    if (!config.rootDir) throw new Error(`namers: io.l5d.fs at ${prefix.show()} needs rootDir`);
    return new FsNamer(prefix, config.rootDir, log);
  },
};
