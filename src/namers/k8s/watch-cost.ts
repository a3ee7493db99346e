/**
 * How many (namespace, service) watch pairs a namer holds by default (`maxWatches`). A pair is two
 * long requests; to an `https:` API server that speaks HTTP/2 (kube-apiserver does) they are two
 * streams on a shared session (H2Sessions): ~65–115 KiB of RSS a pair on Node 24, ~30–35 KiB on
 * Node 20 (`npm run bench:k8s-watches`; the higher figure after 400 new names at once). 1000 of them
 * (~65–115 MiB) beside the router's own ~126 MiB stay inside the DaemonSet's 256Mi, whatever names
 * pods make up. Over HTTP/1.1 (a `kubectl proxy`, a `proxyUrl`, a server without h2) each watch holds
 * a connection of its own, ~200–240 KiB a pair over TLS: set maxWatches to 400 there.
 */
export const MAX_WATCHES = 1000;
