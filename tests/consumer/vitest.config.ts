// Once: the packed tarballs in child processes (npm, node, tsc, bundlers).
export { nodeOnly as default } from '../../vitest.shared.ts';
