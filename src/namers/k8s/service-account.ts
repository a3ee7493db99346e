/**
 * Where kubelet mounts a pod's service account (token, ca.crt, namespace). Its own module so that
 * code which only reads the namespace file (kuberesolver-style targets) does not load
 * `@kubernetes/client-node` through connection.ts.
 */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
