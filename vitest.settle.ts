// Setup file of every test project: before each test, the collector runs and the finalizers
// return what garbage from earlier tests held. A tensor nobody disposed is freed by a
// FinalizationRegistry callback, a task V8 queues whenever it likes; without this, a test that
// reads memory() across an `await` saw an earlier test's garbage vanish mid-test (CI: the count
// of CPU tensors dropped by 6 between two readings of module-to.test.ts).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeEach } from 'vitest';
// the same module the tests reach as '@tapegrad/tensor' (its source condition resolves here)
import { memory } from './packages/tensor/src/index.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const reading = () => `${memory().tensors}/${memory().bytes}`;

/** Collects until two readings of memory() agree: finalizers sometimes come after the next timer. */
export async function settleMemory(): Promise<void> {
  let last: string | undefined;
  for (let round = 0; round < 20; round++) {
    gc();
    await new Promise((r) => setTimeout(r, 0));
    const now = reading();
    if (now === last) return;
    last = now;
  }
}

beforeEach(settleMemory);
