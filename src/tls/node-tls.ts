import { createRequire } from 'node:module';
import type * as Crypto from 'node:crypto';
import type * as Tls from 'node:tls';

// node:tls and node:crypto are loaded when the first TLS listener, endpoint connection or
// certificate needs them, not when the router starts: with OpenSSL's tables they are ~6 MB of RSS
// (Node 24) that a router without TLS would pay on every node.
const require = createRequire(import.meta.url);
let tls: typeof Tls | undefined;
let crypto: typeof Crypto | undefined;

export function nodeTls(): typeof Tls {
  return (tls ??= require('node:tls') as typeof Tls);
}

export function nodeCrypto(): typeof Crypto {
  return (crypto ??= require('node:crypto') as typeof Crypto);
}
