// Once: the models train through the same CPU paths the tapegrad package's own tests cover in both projects; here the subject is the example (its CLI runs in child processes, and WebGPU).
export { nodeOnly as default } from '../../vitest.shared.ts';
