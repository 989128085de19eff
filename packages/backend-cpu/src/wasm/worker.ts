// The body of a CPU worker thread, as source text so it needs no file of its own (which keeps it
// working from TypeScript sources, a build, or a bundle): Node runs it with `eval: true`, a
// browser from a Blob URL. It instantiates the threaded kernel modules on the shared memory (each
// with the entry that computes one block of its jobs), then loops: spin briefly, sleep on the job
// counter, and claim blocks of the current job, run by the module the job names, until none are
// left. The control block's layout is described in runtime.ts; the claim loop is
// runtime.ts's claimAndRun. Only how the worker gets its data differs between the two.
const BODY = `
function run({ modules, entries, memory, index, spinMs, job }) {
  const parts = modules.map((m, i) => new WebAssembly.Instance(m, { env: { memory, exp: Math.exp } }).exports[entries[i]]);
  const ctrl = new Int32Array(memory.buffer, 0, 16384);
  const SEQ = 0, STOP = 1, CLAIM = 2, FIN = 3, ERR = 4, WORKED = 5, KIND = 6, READY = 16;
  let seen = Atomics.load(ctrl, SEQ);
  Atomics.store(ctrl, READY + index, 1);
  for (;;) {
    for (;;) {
      const cur = Atomics.load(ctrl, CLAIM);
      const idx = cur & 255;
      if (idx >= ((cur >> 8) & 255)) break;
      if (Atomics.compareExchange(ctrl, CLAIM, cur, cur + 1) !== cur) continue;
      try {
        parts[Atomics.load(ctrl, KIND)](job, idx, index);
      } catch {
        Atomics.store(ctrl, ERR, 1);
      }
      Atomics.add(ctrl, WORKED, 1);
      Atomics.add(ctrl, FIN, 1);
    }
    let s = Atomics.load(ctrl, SEQ);
    if (s === seen) {
      const t0 = performance.now();
      while ((s = Atomics.load(ctrl, SEQ)) === seen && performance.now() - t0 < spinMs);
      while ((s = Atomics.load(ctrl, SEQ)) === seen) Atomics.wait(ctrl, SEQ, seen);
    }
    seen = s;
    if (Atomics.load(ctrl, STOP)) break;
  }
}
`;
/** A Node worker_threads worker: its data comes as workerData. */
export const WORKER_SOURCE = `${BODY}run(process.getBuiltinModule('node:worker_threads').workerData);\n`;
/** A browser Web Worker: its data comes as the first message (the module and the shared memory). */
export const WEB_WORKER_SOURCE = `${BODY}self.onmessage = (e) => { self.onmessage = null; run(e.data); };\n`;
