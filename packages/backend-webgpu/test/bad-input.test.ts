// Bad input found by a GPU kernel (an index out of range, a class target out of range, a
// probability outside [0, 1]) cannot throw where the op is called. The error belongs to the
// tensors computed from that kernel's output: every read of them throws it, however often and
// however far downstream, a read of anything else returns its values, and an optimizer step
// refuses parameters or gradients computed from it (issue 15, item 5).
import { beforeEach, expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import type { GpuHandle } from '../src/index.js';
import { expectClose, openDevice } from './helpers.js';

const { gpuDescribe } = await openDevice();

beforeEach(() => tg.manualSeed(3));

const gpu = (t: tg.Tensor) => t.to('webgpu');
const int = (data: number[] | number[][]) => tg.tensor(data, { dtype: 'int32' });
/** The error the CPU kernel throws for the same call. */
function cpuError(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('the CPU did not throw');
}

gpuDescribe('a gather with an index out of range', () => {
  const xc = tg.tensor([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]);
  const badIndex = int([[0, 5], [1, 2]]);
  const message = cpuError(() => tg.gather(xc, 1, badIndex)).message;

  it('every read of its output throws the IndexError naming gather, not only the first', async () => {
    expect(message).toBe('gather: index 5 is out of range for dim 1 of size 4 (at index [0, 1])');
    const out = tg.gather(gpu(xc), 1, gpu(badIndex));
    await expect(out.data()).rejects.toThrow(tg.IndexError);
    await expect(out.data()).rejects.toThrow(message);
    await expect(out.toArray()).rejects.toThrow(message);
    await expect(out.narrow(1, 0, 1).sum().item()).rejects.toThrow(message);
    await expect(tg.toAsync(out, 'cpu')).rejects.toThrow(message);
  });

  it('so does every read of what is computed from it, however far downstream', async () => {
    const out = tg.gather(gpu(xc), 1, gpu(badIndex));
    const derived = out.mul(2).add(gpu(tg.ones([2, 2])));
    const further = derived.sum(1).softmax(0).matmul(gpu(tg.ones([2])));
    await expect(derived.data()).rejects.toThrow(message);
    await expect(further.item()).rejects.toThrow(message);
    // computed after the error was found, too
    await expect(out.exp().data()).rejects.toThrow(message);
    // an index taken from the bad output: the error still names the first op
    await expect(tg.indexSelect(gpu(xc), 0, out.cast('int32').flatten().clamp(0, 2)).data()).rejects.toThrow(message);
  });

  it('reads of unrelated tensors, before and after the error is found, return their values', async () => {
    const x = gpu(xc);
    const before = x.mul(10);
    const good = tg.gather(x, 1, gpu(int([[3, 0], [1, 1]])));
    const bad = tg.gather(x, 1, gpu(badIndex));
    const after = x.add(1);
    expectClose(await good.data(), [4, 1, 6, 6]);
    expectClose(await before.data(), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]);
    await expect(bad.data()).rejects.toThrow(message);
    expectClose(await after.sum().data(), [90]);
    expectClose(await good.data(), [4, 1, 6, 6]);
    expectClose(await x.data(), xc.dataSync());
  });

  it('writing it into an existing tensor (add_, copy_) makes that tensor throw too', async () => {
    const bad = tg.gather(gpu(xc), 1, gpu(badIndex));
    const acc = gpu(tg.zeros([2, 2])).add_(bad);
    const copy = gpu(tg.zeros([2, 2])).copy_(bad);
    const clean = gpu(tg.zeros([2, 2])).add_(1);
    await expect(acc.data()).rejects.toThrow(message);
    await expect(copy.data()).rejects.toThrow(message);
    // overwriting it later does not make its values trustworthy again: they were computed from it
    acc.fill_(0);
    await expect(acc.data()).rejects.toThrow(message);
    expectClose(await clean.data(), [1, 1, 1, 1]);
  });

  it('its buffer, freed before or after the error is found and handed out again, starts clean', async () => {
    // the pool hands back the last buffer freed in a size class: each new tensor below gets the
    // bad output's buffer (checked), as a dispatch's output or written from the host
    const [x, index, a] = [gpu(xc), gpu(badIndex), gpu(tg.ones([2, 2]))];
    const bufferOf = (t: tg.Tensor) => (t.storage.handle as GpuHandle).buffer;
    const bad = tg.gather(x, 1, index);
    let buffer = bufferOf(bad);
    await expect(bad.data()).rejects.toThrow(message);
    bad.dispose();
    const sum = a.add(a);
    expect(bufferOf(sum)).toBe(buffer);
    expectClose(await sum.data(), [2, 2, 2, 2]);
    sum.dispose();
    const written = gpu(tg.tensor([[5, 6], [7, 8]]));
    expect(bufferOf(written)).toBe(buffer);
    expectClose(await written.data(), [5, 6, 7, 8]);
    // freed before its check comes back: the read of `a` submits the batch (the buffer goes to
    // the pool) and finds the error meanwhile
    const bad2 = tg.gather(x, 1, index);
    buffer = bufferOf(bad2);
    bad2.dispose();
    expectClose(await a.data(), [1, 1, 1, 1]);
    const product = a.mul(a);
    expect(bufferOf(product)).toBe(buffer);
    expectClose(await product.data(), [1, 1, 1, 1]);
  });
});

gpuDescribe('class losses with a target out of range', () => {
  const xc = tg.randn([3, 4]);
  const tc = int([0, 7, 1]);

  it('crossEntropy: every read of the loss and of the logits gradient throws', async () => {
    const message = cpuError(() => nn.functional.crossEntropy(xc, tc)).message;
    const logits = gpu(xc).requiresGrad_();
    const loss = nn.functional.crossEntropy(logits, gpu(tc));
    await expect(loss.item()).rejects.toThrow(tg.IndexError);
    await expect(loss.item()).rejects.toThrow(message);
    loss.backward();
    await expect(logits.grad!.data()).rejects.toThrow(message);
    await expect(logits.grad!.data()).rejects.toThrow(message);
    for (const reduction of ['none', 'sum'] as const) {
      await expect(nn.functional.crossEntropy(gpu(xc), gpu(tc), { reduction }).data()).rejects.toThrow(message);
    }
  });

  it('nllLoss: every read of the loss and of the input gradient throws', async () => {
    const message = cpuError(() => nn.functional.nllLoss(xc, tc)).message;
    expect(message).toMatch(/nllLoss: target 7 is out of range for 4 classes \(at target index \[1\]\)/);
    const logp = gpu(xc).requiresGrad_();
    const loss = nn.functional.nllLoss(logp, gpu(tc));
    await expect(loss.item()).rejects.toThrow(message);
    await expect(loss.item()).rejects.toThrow(message);
    loss.backward();
    await expect(logp.grad!.data()).rejects.toThrow(message);
    // a loss over good targets, computed alongside, reads
    const ok = nn.functional.nllLoss(gpu(xc), gpu(int([0, 3, 1])), { reduction: 'sum' });
    expectClose([await ok.item()], [nn.functional.nllLoss(xc, int([0, 3, 1]), { reduction: 'sum' }).itemSync()]);
  });

  it('binaryCrossEntropy: every read of the loss throws, for each reduction', async () => {
    const p = tg.tensor([[0.5, 0.2, 0.1], [0.3, 1.5, 0]]);
    const message = cpuError(() => nn.functional.binaryCrossEntropy(p, tg.zerosLike(p))).message;
    for (const reduction of ['mean', 'none'] as const) {
      const loss = nn.functional.binaryCrossEntropy(gpu(p), gpu(tg.zerosLike(p)), { reduction });
      await expect(loss.data()).rejects.toThrow(tg.ValueError);
      await expect(loss.data()).rejects.toThrow(message);
    }
  });
});

gpuDescribe('training on a bad batch', () => {
  // A small classifier, 10 classes, batches of 8; a label of batch 5 is out of range (one: with
  // several, the GPU names whichever its threads find first).
  const CLASSES = 10;
  const BAD_LABELS = [3, 12, 0, 1, 2, 5, 9, 4];
  function setup() {
    tg.manualSeed(7);
    const model = new nn.Sequential(new nn.Linear(6, 16), new nn.ReLU(), new nn.Linear(16, CLASSES)).to('webgpu');
    const optimizer = new nn.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const batches = Array.from({ length: 40 }, (_, step) => {
      const labels = tg.randint(0, CLASSES, [8]);
      if (step === 5) labels.copy_(int(BAD_LABELS));
      return [gpu(tg.randn([8, 6])), gpu(labels)] as const;
    });
    const step = (i: number) => {
      optimizer.zeroGrad();
      const [x, y] = batches[i]!;
      const loss = nn.functional.crossEntropy(model.forward(x), y);
      loss.backward();
      optimizer.step();
      return loss;
    };
    return { model, optimizer, batches, step };
  }
  const message = cpuError(() => nn.functional.crossEntropy(tg.zeros([8, CLASSES]), int(BAD_LABELS))).message;

  it('reading the loss every 20 steps: the read at step 19 throws, and the parameters never read as valid', async () => {
    expect(message).toMatch(/^crossEntropy: target 12 is out of range for 10 classes/);
    const { model, step } = setup();
    let failedAt = -1;
    for (let i = 0; i < 40 && failedAt < 0; i++) {
      try {
        const loss = step(i);
        if (i % 20 === 19) await loss.item();
      } catch (e) {
        expect((e as Error).message).toBe(message);
        failedAt = i;
      }
    }
    expect(failedAt).toBe(19);
    for (const p of model.parameters()) await expect(p.data()).rejects.toThrow(message);
    await expect(model.forward(gpu(tg.randn([2, 6]))).data()).rejects.toThrow(message);
  });

  it('a loop that awaits the device each step: the step after the bad batch throws, naming crossEntropy', async () => {
    const { model, batches, step } = setup();
    let failedAt = -1;
    for (let i = 0; i < 40 && failedAt < 0; i++) {
      try {
        step(i);
      } catch (e) {
        expect(e).toBeInstanceOf(tg.IndexError);
        expect((e as Error).message).toBe(message);
        failedAt = i;
      }
      // something unrelated read each step (the batch itself): it waits for the device, and
      // returns its values
      expect((await batches[i]![0].data()).length).toBe(48);
    }
    expect(failedAt).toBe(6);
    for (const p of model.parameters()) await expect(p.data()).rejects.toThrow(message);
  });

  it('a step on gradients already known to be bad throws before it changes anything', async () => {
    const { model, optimizer, batches } = setup();
    const before = await Promise.all(model.parameters().map((p) => p.data()));
    optimizer.zeroGrad();
    const loss = nn.functional.crossEntropy(model.forward(batches[5]![0]), batches[5]![1]);
    loss.backward();
    await expect(loss.item()).rejects.toThrow(message);
    expect(() => optimizer.step()).toThrow(tg.IndexError);
    expect(() => optimizer.step()).toThrow(message);
    const after = await Promise.all(model.parameters().map((p) => p.data()));
    after.forEach((a, i) => expectClose(a, before[i]!, { atol: 0, rtol: 0 }, `parameter ${i}`));
  });
});
