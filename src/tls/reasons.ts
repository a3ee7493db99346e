/**
 * Why a TLS handshake failed, as a fixed set (a metric label, `kgr_tls_handshake_failures_total{reason}`)
 * with words for messages. Node reports the same failure under several spellings (an OpenSSL
 * verification code such as `CERT_HAS_EXPIRED`, Node's own `ERR_TLS_*`, or the alert the peer sent,
 * `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`, sometimes only as `EPROTO` with the alert in the
 * message); this maps them.
 *
 * - `expired`: a certificate is out of its validity period (expired or not yet valid);
 * - `unknown_authority`: a certificate does not chain to a trusted CA (on the router's side);
 * - `name_mismatch`: the endpoint's certificate is not for the expected name (commonName);
 * - `no_client_certificate`: the server requires a client certificate and none was sent;
 * - `certificate_rejected`: the peer refused our certificate (its alert, or it hung up right after
 *   the handshake, which is what a Node.js server does with a client certificate it does not trust);
 * - `no_h2`: ALPN did not settle on `h2`;
 * - `protocol`: anything else TLS said (not TLS at all, no shared cipher, …);
 * - `timeout`: the handshake did not complete in time.
 */
export const TLS_FAILURE_REASONS = [
  'expired',
  'unknown_authority',
  'name_mismatch',
  'no_client_certificate',
  'certificate_rejected',
  'no_h2',
  'protocol',
  'timeout',
] as const;
export type TlsFailureReason = (typeof TLS_FAILURE_REASONS)[number];

export const TLS_FAILURE_WORDS: Record<TlsFailureReason, string> = {
  expired: 'certificate expired or not yet valid',
  unknown_authority: 'certificate signed by an unknown authority',
  name_mismatch: 'certificate name mismatch',
  no_client_certificate: 'no client certificate',
  certificate_rejected: 'certificate rejected by the peer',
  no_h2: 'ALPN did not negotiate h2',
  protocol: 'TLS protocol error',
  timeout: 'TLS handshake timed out',
};

const UNKNOWN_AUTHORITY = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/** True when `error` came from TLS (as opposed to TCP: refused, reset before any TLS byte, …). */
export function isTlsError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || EXPIRED.has(code) || UNKNOWN_AUTHORITY.has(code)) return true;
  return code === 'EPROTO' || /SSL routines|alert/i.test(error.message);
}

/** The reason for a handshake error (or a verification code such as a tls.TLSSocket#authorizationError). */
export function tlsFailureReason(error: Error | string): TlsFailureReason {
  const code = typeof error === 'string' ? error : ((error as NodeJS.ErrnoException).code ?? '');
  const message = typeof error === 'string' ? '' : error.message;
  if (EXPIRED.has(code)) return 'expired';
  if (UNKNOWN_AUTHORITY.has(code)) return 'unknown_authority';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return 'name_mismatch';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' || /certificate required/i.test(message) || code.endsWith('ALERT_CERTIFICATE_REQUIRED')) {
    return 'no_client_certificate';
  }
  if (code === 'ERR_SSL_NO_APPLICATION_PROTOCOL' || /no application protocol/i.test(message)) return 'no_h2';
  // Alerts the peer sends about the certificate we presented.
  if (/alert (unknown ca|bad certificate|certificate expired|certificate revoked|certificate unknown|unsupported certificate|access denied)/i.test(message)) {
    return 'certificate_rejected';
  }
  return 'protocol';
}

/** `reason (detail)` for messages: the words for the reason and what Node said. */
export function describeTlsFailure(reason: TlsFailureReason, detail: string): string {
  const words = TLS_FAILURE_WORDS[reason];
  const short = detail.split('\n')[0]!.replace(/^[0-9A-F]{8,}:error:[0-9A-F]+:/, '').trim();
  return short && short !== words ? `${words} (${short})` : words;
}
