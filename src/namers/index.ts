// The namers room: what other rooms import.
export { createNamer, namerKinds } from './registry.js';
export type { NamerDeps } from './registry.js';
export type { NamerKind, NamerContext } from './kind.js';
export { parseTarget, TargetError } from './target.js';
export type { ParsedTarget } from './target.js';
export { resolveHost, createHostResolver, DnsNamer } from './dns.js';
export { HostNames, sharedHostNames } from './host-names.js';
export { NameTable } from './name-table.js';
export { DnsSrvNamer } from './dnssrv.js';
export { FsNamer, parseServiceFile, FsNamerError } from './fs.js';
export { K8sNamer } from './k8s/k8s-namer.js';
// Type only: the connection loads node:http and node:https (and, through a kubeconfig,
// @kubernetes/client-node); createNamer loads it when a k8s namer is configured, and code that needs
// the class itself imports './k8s/connection.js'.
export type { KubeConnection } from './k8s/connection.js';
export { LiveName } from './live-name.js';
