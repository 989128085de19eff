export * from './optimizer.js';
export * from './sgd.js';
export * from './adam.js';
export * from './rmsprop.js';
// issue 16 (optim): Adagrad, Adamax, NAdam
export * from './adagrad.js';
export * from './adamax.js';
export * from './nadam.js';
export * from './clip.js';
export type { FusedUpdate } from './fused.js';
export * from './scheduler.js';
