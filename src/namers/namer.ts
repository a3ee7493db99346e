// The Namer contract lives with the dtab engine (as Finagle's does); implementations import it from here too.
export type { Namer, NamerReadiness, PrefixedNamer } from '../dtab/namer.js';
