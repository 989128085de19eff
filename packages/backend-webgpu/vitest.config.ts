// Once: WebGPU on Dawn; the CPU side of WebGPU training without SharedArrayBuffer is examples/browser-mnist's browser test (a page without cross-origin isolation).
export { nodeOnly as default } from '../../vitest.shared.ts';
