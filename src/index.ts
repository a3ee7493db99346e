// Public entry point of the kube-grpc-router package.
export * from './dtab/index.js';
// The global `/$/` namer with DNS: the dtab engine takes it as a dependency (see GlobalNamer).
export {
  globalNamer,
  resolveOnce,
  resolvePolling,
  pollingResolver,
  onceResolver,
  ipLiteral,
  type GlobalNamerOptions,
  type HostLookup,
  type ResolverOptions,
} from './namers/global.js';
