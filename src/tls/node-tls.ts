import type * as Crypto from 'node:crypto';
import type * as Tls from 'node:tls';
import { required } from '../util/required.js';

// node:tls and node:crypto are loaded when the first TLS listener, endpoint connection or
// certificate needs them, not when the router starts: with OpenSSL's tables they are ~4 MB of RSS
// (Node 24) that a router without TLS would pay on every node.
let tls: typeof Tls | undefined;
let crypto: typeof Crypto | undefined;

export function nodeTls(): typeof Tls {
  return (tls ??= required<typeof Tls>('node:tls'));
}

export function nodeCrypto(): typeof Crypto {
  return (crypto ??= required<typeof Crypto>('node:crypto'));
}
