// Setup file of every test project: before each test of a file that reads memory() (or uses
// WebGPU), the collector runs and the finalizers return what garbage from earlier tests held. A
// tensor nobody disposed is freed by a FinalizationRegistry callback, a task V8 queues whenever
// it likes; without this, a test that reads memory() across an `await` saw an earlier test's
// garbage vanish mid-test (CI: the count of CPU tensors dropped by 6 between two readings of
// module-to.test.ts). Settling takes two full collections, 50–80 ms a test: before every test it
// was most of the CI's time in files of small tests (nn's 873 PyTorch loss cases: 45 s, 3 s
// without), and only readings of memory() can tell. Files using WebGPU settle too: GPU buffers
// are freed by finalizers, and V8 does not see the GPU memory that garbage holds.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeEach } from 'vitest';
// the same module the tests reach as '@tapegrad/tensor' (its source condition resolves here)
import { memory } from './packages/tensor/src/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const reading = () => `${memory().tensors}/${memory().bytes}`;

// A finalizer of our own, for an object dropped just before each collection: once it has run, the
// cleanup tasks of that collection are under way (V8 queues them one registry after another), so
// a reading after it and one more timer turn does not race them. Waiting on timers alone did: two
// readings taken before any finalizer ran agreed, and CI saw module-to's counts drop mid-test.
const finalized = new Map<number, () => void>();
const sentinel = new FinalizationRegistry<number>((id) => finalized.get(id)?.());
let next = 0;
// not inline in collect(): an async function's frame keeps its temporaries across an await, and
// the dropped object would live on in it
const drop = (id: number) => sentinel.register({}, id);
async function collect(): Promise<void> {
  const id = next++;
  const done = new Promise<void>((resolve) => finalized.set(id, resolve));
  drop(id);
  gc();
  // the sentinel was unreachable, so this collection finds it; a sentinel that outlives the
  // collection means a reading after it proves nothing, so say so rather than hang or go on
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('settleMemory: a dropped object was not finalized within 10 s of gc()')), 10_000);
  });
  try {
    await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
    finalized.delete(id);
  }
  await new Promise((r) => setTimeout(r, 0));
}

/** Collects until two readings of memory() agree, each taken after a collection's finalizers ran. */
export async function settleMemory(): Promise<void> {
  let last: string | undefined;
  for (let round = 0; round < 20; round++) {
    await collect();
    const now = reading();
    if (now === last) return;
    last = now;
  }
}

const settles = new Map<string, boolean>();
const needsSettling = (file: string): boolean => {
  let v = settles.get(file);
  if (v === undefined) settles.set(file, (v = /\bmemory\(|settleMemory|peakBytes|webgpu/i.test(readFileSync(file, 'utf8'))));
  return v;
};
beforeEach(async (ctx) => {
  if (needsSettling(ctx.task.file.filepath)) await settleMemory();
});
