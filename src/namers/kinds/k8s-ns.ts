import type { NamerKind } from '../kind.js';
import { K8S_DEFAULTS, K8S_KEYS, k8sNamer, readK8s, type K8sNamerConfig } from './k8s.js';

const DEFAULTS = { ...K8S_DEFAULTS, envVar: 'POD_NAMESPACE' };

/** `io.l5d.k8s.ns`: io.l5d.k8s fixed to the namespace in `envVar`: `/<port name>/<service>`. */
export const k8sNsNamer: NamerKind<K8sNamerConfig> = {
  kind: 'io.l5d.k8s.ns',
  keys: [...K8S_KEYS, 'envVar'],
  defaults: DEFAULTS,
  read: (f) => ({ ...readK8s(f), envVar: f.get('envVar').string('an environment variable name') ?? DEFAULTS.envVar }),
  create: k8sNamer.create,
};
