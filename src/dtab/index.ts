// The dtab engine as a library (`kube-grpc-router/dtab`).
export { Path, showSegment, isLabelChar } from './path.js';
export * from './nametree.js';
export * from './name.js';
export { AnyElem, Prefix, type PrefixElem } from './prefix.js';
export { Dentry, Dtab } from './dtab.js';
export { DtabSyntaxError } from './errors.js';
export { parseDtab, parsePath, parseNameTree, parseDentry, parsePrefix, type ParseOptions } from './parse.js';
export { showNameTree, showTree, formatWeight, encodeNameTree, encodeWeight } from './show.js';
export { simplify } from './simplify.js';
export { evaluate } from './eval.js';
export { mapTree, treeEquals, leaves } from './tree.js';
export {
  NameInterpreter,
  NamerMaxDepthError,
  NamerMaxLookupsError,
  DEFAULT_MAX_DEPTH,
  type NameInterpreterOptions,
  type NamerCandidate,
} from './interpreter.js';
export type { Namer, NamerReadiness, PrefixedNamer, GlobalNamer } from './namer.js';
export { NamerRule } from './namer-rule.js';
export { type DentryMatch, lookupTree } from './dtab.js';
export type { LookupStep } from './interpreter.js';
export {
  pickLeaf,
  pickBranch,
  unionShares,
  unionOutcome,
  fallsThrough,
  keptByUnion,
  outcomeOfState,
  type Outcome,
} from './route.js';
export { routeDelegation, type Routing, type CallFailure } from './delegation-routing.js';
export { sameBindingState } from './interpreter.js';
export { BindingCache, type BindingCacheOptions } from './binding-cache.js';
export {
  delegate,
  addrJson,
  DelegateTimeoutError,
  DelegateDepthError,
  DelegateLookupsError,
  type DelegateNode,
  type DelegateAddr,
  type DelegateBound,
  type DelegateDentry,
  type DelegateOptions,
} from './delegate.js';
export { runDtabCommand, formatDtab, renderTree, type CommandIO, type DtabCommandDeps } from './commands.js';
export { ADDR_WEIGHT_KEY, WeightedViews, weightedViewCount } from './weighted-bound.js';
