// The shared part of the autocast tests (autocast.test.ts on the CPU, autocast-webgpu.test.ts):
// the fixture's types and values (fixtures/autocast.json, from fixtures/gen_autocast.py), the
// tapegrad call of each op case and the tolerances.
import { readFileSync } from 'node:fs';
import { expect, vi } from 'vitest';
import * as tg from '../src/index.js';

const F = tg.nn.functional;
export type Half = tg.HalfDType;
export const HALVES: Half[] = ['bfloat16', 'float16'];

export interface Input {
  dtype: tg.DType;
  shape: number[];
  values: number[];
}
export interface OpCase {
  name: string;
  inputs: Input[];
  out: Input;
  cpuAgrees?: boolean;
}
export interface ModelCase {
  x: number[];
  xShape: number[];
  target: number[];
  params: Record<string, { shape: number[]; values: number[] }>;
  logits: number[];
  loss: number;
  grads: Record<string, number[]>;
}
export const ref = JSON.parse(readFileSync(new URL('./fixtures/autocast.json', import.meta.url), 'utf8')) as {
  ops: Record<Half, OpCase[]>;
  models: Record<Half, { mlp: ModelCase; cnn: ModelCase }>;
};

// the tapegrad call of each case (the generator's TORCH table)
export const CALL: Record<string, (...x: tg.Tensor[]) => tg.Tensor> = {
  matmul: (a, b) => tg.matmul(a!, b!),
  linear: (x, w, b) => F.linear(x!, w!, b),
  baddbmm: (i, a, b) => tg.baddbmm(i!, a!, b!),
  conv2d: (x, w, b) => F.conv2d(x!, w!, b, { padding: 1 }),
  softmax: (x) => tg.softmax(x!, 1),
  logSoftmax: (x) => tg.logSoftmax(x!, 1),
  sum: (x) => tg.sum(x!, 1),
  exp: (x) => tg.exp(x!),
  log: (x) => tg.log(x!),
  pow: (x) => tg.pow(x!, 3),
  cumsum: (x) => tg.cumsum(x!, 1),
  layerNorm: (x, w, b) => F.layerNorm(x!, [x!.shape[1]!], w, b),
  mseLoss: (a, b) => F.mseLoss(a!, b!),
  l1Loss: (a, b) => F.l1Loss(a!, b!),
  smoothL1Loss: (a, b) => F.smoothL1Loss(a!, b!),
  crossEntropy: (x, t) => F.crossEntropy(x!, t!),
  nllLoss: (x, t) => F.nllLoss(x!, t!),
  binaryCrossEntropyWithLogits: (x, t) => F.binaryCrossEntropyWithLogits(x!, t!),
  klDiv: (x, t) => F.klDiv(x!, t!, { reduction: 'batchmean' }),
  relu: (x) => tg.relu(x!),
  tanh: (x) => tg.tanh(x!),
  add: (a, b) => tg.add(a!, b!),
  mean: (x) => tg.mean(x!),
  cat: (a, b) => tg.cat([a!, b!], 0),
  where: (m, a, b) => tg.where(m!, a!, b!),
};

export const make = (i: Input, device: tg.Device) => tg.tensor(i.values, { shape: i.shape, device }).cast(i.dtype);
// one unit in the last place of a half value near |v|
export function ulp(dtype: tg.DType, v: number): number {
  const bits = dtype === 'bfloat16' ? 8 : dtype === 'float16' ? 11 : 24;
  const e = Math.max(Math.floor(Math.log2(Math.max(Math.abs(v), dtype === 'float16' ? 2 ** -14 : 2 ** -126))), -126);
  return 2 ** (e - bits + 1);
}
export function expectWithin(got: ArrayLike<number>, want: number[], tol: (w: number, i: number) => number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol(want[i]!, i))) expect.fail(`${what}[${i}]: got ${got[i]}, torch ${want[i]} (tolerance ${tol(want[i]!, i)})`);
  }
}
/** Counts the backend's copy kernels (autocast's casts) from now until restore(). */
export const copies = (device: tg.Device) => {
  const backend = tg.getBackend(device);
  const spy = vi.spyOn(backend, 'run');
  return { count: () => spy.mock.calls.filter((c) => c[4] === 'copy').length, restore: () => spy.mockRestore() };
};


/** The fixture's MLP or CNN: parameters made on `device`, the forward and the loss under autocast. */
export function modelForward(kind: 'mlp' | 'cnn', m: ModelCase, device: tg.Device, dtype: Half) {
  const P = Object.fromEntries(Object.entries(m.params).map(([k, p]) => [k, tg.tensor(p.values, { shape: p.shape, device }).requiresGrad_()]));
  const x = tg.tensor(m.x, { shape: m.xShape, device });
  const target = tg.tensor(m.target, { dtype: 'int32', device });
  const { logits, loss } = tg.autocast({ device, dtype }, () => {
    let logits: tg.Tensor;
    if (kind === 'mlp') {
      const h = tg.relu(F.linear(x, P['fc1.weight']!, P['fc1.bias']));
      expect(h.dtype).toBe(dtype);
      logits = F.linear(h, P['fc2.weight']!, P['fc2.bias']);
    } else {
      let h = F.maxPool2d(tg.relu(F.conv2d(x, P['conv.weight']!, P['conv.bias'], { padding: 1 })), 2);
      expect(h.dtype).toBe(dtype);
      h = h.reshape([h.shape[0]!, -1]);
      logits = F.linear(h, P['fc.weight']!, P['fc.bias']);
    }
    return { logits, loss: F.crossEntropy(logits, target) };
  });
  return { P, logits, loss };
}
