export * from './ops/index.js';
export * from './modules/index.js';
export * as init from './init.js';
export * as optim from './optim/index.js';
