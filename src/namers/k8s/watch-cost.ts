/**
 * How many (namespace, service) watch pairs a namer holds by default (`maxWatches`). A pair is two
 * long HTTP/1.1 requests, so two TLS connections to the API server: ~200–240 KiB of RSS on Node 24
 * (~130 KiB on Node 20; `npm run bench:k8s-watches`). 400 of them (~80–95 MiB) beside the router's
 * own ~126 MiB with this namer stay inside the DaemonSet's 256Mi limit, whatever names pods make up.
 */
export const MAX_WATCHES = 400;
