export * from './operand.js';
export * from './elementwise.js';
export * from './copy.js';
export * from './view.js';
export * from './reduce.js';
export * from './matmul.js';
export * from './indexing.js';
export * from './join.js';
export * from './softmax.js';
export * from './nn-attrs.js';
// issue 16, shape ops: flip/roll/pad/repeat/tile, multinomial
export * from './remap.js';
export * from './multinomial.js';
// issue 16: scans, sorting, einsum
export * from './scan.js';
export * from './sort.js';
export * from './einsum.js';
