// The dtab engine as a library (`kube-grpc-router/dtab`).
export { Path, showSegment, isLabelChar } from './path.js';
export * from './nametree.js';
export * from './name.js';
