export * as functional from './functional/index.js';
export * from './losses/modules.js';
export type { Reduction } from './losses/reduction.js';
export type { ClassLossAttrs } from './losses/class-targets.js';
