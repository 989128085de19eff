export * from './ops/index.js';
