export * as functional from './functional/index.js';
export * from './losses/modules.js';
export type { Reduction } from './losses/reduction.js';
export type { ClassLossAttrs } from './losses/class-targets.js';
export * from './ops/index.js';
export * from './modules/index.js';
export * as init from './init.js';
export * as optim from './optim/index.js';
