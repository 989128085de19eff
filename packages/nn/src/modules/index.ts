export * from './module.js';
export * from './linear.js';
export * from './conv.js';
export * from './pool.js';
export * from './activation.js';
export * from './dropout.js';
export * from './container.js';
export * from './norm.js';
export * from './embedding.js';
// issue 16, sequence models
export * from './rnn.js';
export * from './attention.js';
export * from './transformer.js';
