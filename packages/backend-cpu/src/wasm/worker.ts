// The body of a CPU worker thread, started with `eval: true` so it needs no file of its own
// (which keeps it working from TypeScript sources, a build, or a bundle). It instantiates the
// same kernel module on the shared memory, then loops: spin briefly, sleep on the job counter,
// run its block when the main thread assigns one, report done. The layout of the control block
// is described in runtime.ts.
export const WORKER_SOURCE = `
const { workerData } = process.getBuiltinModule('node:worker_threads');
const { module, memory, index, spinMs } = workerData;
const { gemm } = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctrl = new Int32Array(memory.buffer, 0, 16384);
const SEQ = 0, STOP = 1, READY = 16, DONE = 32, JOB = 64 + 16 * index;
let seen = Atomics.load(ctrl, SEQ); // before announcing readiness, so no job can slip past
Atomics.store(ctrl, READY + index, 1);
for (;;) {
  let s = Atomics.load(ctrl, SEQ);
  if (s === seen) {
    const t0 = performance.now();
    while ((s = Atomics.load(ctrl, SEQ)) === seen && performance.now() - t0 < spinMs);
    while ((s = Atomics.load(ctrl, SEQ)) === seen) Atomics.wait(ctrl, SEQ, seen);
  }
  seen = s;
  if (Atomics.load(ctrl, STOP)) break;
  if (ctrl[JOB] !== s) continue;
  let status = s;
  try {
    gemm(ctrl[JOB + 1], ctrl[JOB + 2], ctrl[JOB + 3], ctrl[JOB + 4], ctrl[JOB + 5], ctrl[JOB + 6], ctrl[JOB + 7],
      ctrl[JOB + 8], ctrl[JOB + 9], ctrl[JOB + 10], ctrl[JOB + 11], ctrl[JOB + 12], ctrl[JOB + 13]);
  } catch {
    status = -s;
  }
  Atomics.store(ctrl, DONE + index, status);
}
`;
