// Once: the CLI in child processes and WebGPU; the same training in-process runs without SharedArrayBuffer in the tapegrad package's tests.
export { nodeOnly as default } from '../../vitest.shared.ts';
