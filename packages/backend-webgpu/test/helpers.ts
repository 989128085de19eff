import { describe, expect, it } from 'vitest';
import '@tapegrad/backend-cpu';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { initWebGPU, type WebGPUBackend } from '../src/index.js';

/**
 * One device for the whole test file. Without an adapter the WebGPU tests skip with the reason
 * (which says how to get a software adapter), unless TAPEGRAD_REQUIRE_WEBGPU=1 (CI), where the
 * missing adapter is a failing test.
 */
export async function openDevice(): Promise<{ backend: WebGPUBackend | undefined; gpuDescribe: typeof describe.skip }> {
  let backend: WebGPUBackend | undefined;
  let why = '';
  try {
    backend = await initWebGPU();
  } catch (e) {
    why = (e as Error).message;
  }
  if (!backend) {
    if (process.env.TAPEGRAD_REQUIRE_WEBGPU === '1') {
      it('has a WebGPU adapter (TAPEGRAD_REQUIRE_WEBGPU=1)', () => {
        throw new Error(`no WebGPU device: ${why}`);
      });
    } else {
      console.warn(`WebGPU tests skipped: ${why}\n(set TAPEGRAD_REQUIRE_WEBGPU=1 to make this a failure)`);
    }
  }
  return { backend, gpuDescribe: backend ? describe : describe.skip };
}

export interface Tol {
  atol?: number;
  rtol?: number;
}

/** Elementwise closeness; NaNs must match NaNs, infinities must be equal, bools compare as truthiness. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, { atol = 1e-6, rtol = 1e-5 }: Tol = {}, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      if (!(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)))) expect.fail(`${what}[${i}]: got ${a}, expected ${e}`);
      continue;
    }
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) expect.fail(`${what}[${i}]: got ${a}, expected ${e}`);
  }
}

/**
 * Run `fn` on CPU inputs and on copies of them on the GPU and compare the results: same shape,
 * dtype and device placement, values within tolerance.
 */
export async function parity(what: string, fn: (...xs: tg.Tensor[]) => tg.Tensor, inputs: tg.Tensor[], tol: Tol = {}): Promise<void> {
  const expected = fn(...inputs);
  const gpuInputs = inputs.map((t) => t.to('webgpu'));
  const actual = fn(...gpuInputs);
  try {
    expect(actual.device, what).toBe('webgpu');
    expect(actual.shape, what).toEqual(expected.shape);
    expect(actual.dtype, what).toBe(expected.dtype);
    const e = expected.dataSync();
    const a = await actual.data();
    if (expected.dtype === 'bool') expectClose(Array.from(a, (v) => +(v !== 0)), Array.from(e, (v) => +(v !== 0)), {}, what);
    else expectClose(a, e, tol, what);
  } finally {
    for (const t of [expected, actual, ...gpuInputs]) t.dispose();
  }
}

/**
 * `parity` for a differentiable `fn`: the forward, then the gradients of the inputs listed in
 * `grads` for the same random upstream gradient, on the CPU and on the GPU.
 */
export async function gradParity(what: string, fn: (...xs: tg.Tensor[]) => tg.Tensor, inputs: tg.Tensor[], grads: number[], tol: Tol = { atol: 1e-5, rtol: 1e-4 }, gradTol: Tol = { atol: 2e-5, rtol: 2e-4 }): Promise<void> {
  const cpu = inputs.map((t, i) => (grads.includes(i) ? t.clone().requiresGrad_() : t));
  const gpu = inputs.map((t, i) => (grads.includes(i) ? t.to('webgpu').requiresGrad_() : t.to('webgpu')));
  const expected = fn(...cpu);
  const actual = fn(...gpu);
  expect(actual.device, what).toBe('webgpu');
  expect(actual.shape, what).toEqual(expected.shape);
  expectClose(await actual.data(), expected.dataSync(), tol, `${what} forward`);
  if (!grads.length) return;
  const up = tg.randn(expected.shape);
  expected.backward(up);
  actual.backward(up.to('webgpu'));
  for (const i of grads) {
    expect(gpu[i]!.grad, `${what} grad ${i}`).toBeTruthy();
    expectClose(await gpu[i]!.grad!.data(), cpu[i]!.grad!.dataSync(), gradTol, `${what} grad of input ${i}`);
  }
}

/**
 * The same values of `shape` laid out several ways on the CPU: contiguous, as the transpose of
 * a transposed tensor (non-contiguous), as a strided slice of a bigger tensor (offset and
 * step), and broadcast from a size-1 dim with expand. `make` gives the contiguous values.
 */
export function layouts(shape: number[], make: (shape: number[]) => tg.Tensor): { label: string; t: tg.Tensor }[] {
  const out = [{ label: `contiguous ${JSON.stringify(shape)}`, t: make(shape) }];
  if (shape.length >= 2) {
    const s = shape.slice();
    [s[0], s[s.length - 1]] = [s[s.length - 1]!, s[0]!];
    out.push({ label: `transposed ${JSON.stringify(shape)}`, t: make(s).transpose(0, -1) });
  }
  if (shape.length >= 1) {
    const s = shape.slice();
    s[s.length - 1] = s[s.length - 1]! * 2 + 1;
    out.push({ label: `sliced ${JSON.stringify(shape)}`, t: make(s).slice(-1, 1, undefined, 2) });
    const b = shape.slice();
    b[0] = 1;
    out.push({ label: `expanded ${JSON.stringify(shape)}`, t: make(b).expand(shape) });
  }
  return out;
}

export function values(dtype: tg.DType, positive = false): (shape: number[]) => tg.Tensor {
  if (dtype === 'int32') return (s) => tg.randint(positive ? 0 : -6, 7, s);
  if (dtype === 'bool') return (s) => tg.randint(0, 2, s).cast('bool');
  return positive ? (s) => tg.rand(s).add(0.1) : (s) => tg.randn(s).mul(2);
}

/** The small MNIST CNN the compile tests train (two conv-relu-pool stages and a linear head). */
export class MnistCnn extends nn.Module {
  features = new nn.Sequential(
    new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(4, 8, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
  );
  head = new nn.Linear(8 * 7 * 7, 10);
  forward(x: tg.Tensor): tg.Tensor {
    return this.head.forward(this.features.forward(x).flatten(1));
  }
}
