export * from './conv.js';
export * from './pool.js';
export * from './activation.js';
export * from './linear.js';
export * from './dropout.js';
export * from './embedding.js';
export * from './norm.js';
// issue 16
export * from './distance.js';
export * from './upsample.js';
// issue 16, sequence models: attention (the module helpers in attention.ts stay internal)
export { scaledDotProductAttention, type ScaledDotProductAttentionOptions } from './attention.js';
