// Public entry point of the kube-grpc-router package.
export * from './dtab/index.js';
