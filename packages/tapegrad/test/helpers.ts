import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { nn } from '../src/index.js';

export interface Encoded {
  shape: number[];
  dtype: tg.DType;
  data: number[];
}
export function decode(e: Encoded, requiresGrad = false): tg.Tensor {
  const t = tg.tensor(e.data, { shape: e.shape, dtype: e.dtype });
  return requiresGrad && tg.isFloating(e.dtype) ? t.requiresGrad_() : t;
}
/** Elementwise closeness with NaN == NaN and equal infinities. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-6, rtol = 1e-5, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      expect(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${what}[${i}]: ${a} vs ${e}`).toBe(true);
      continue;
    }
    if (Math.abs(a - e) > atol + rtol * Math.abs(e)) expect.fail(`${what}[${i}]: got ${a}, expected ${e}`);
  }
}

/** Expect `fn` to throw a `type` (a TapegradError) whose message equals `message` or matches it. */
export function throws(fn: () => unknown, type: new (...a: never[]) => Error, message: string | RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected an error').toBeInstanceOf(type);
  expect(error).toBeInstanceOf(tg.TapegradError);
  if (typeof message === 'string') expect((error as Error).message).toBe(message);
  else expect((error as Error).message).toMatch(message);
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

/**
 * initWebGPU for a test file: true when there is an adapter. Without one the file's WebGPU tests
 * skip with a warning, except under TAPEGRAD_REQUIRE_WEBGPU=1 (CI), where this adds a failing test.
 */
export async function webgpuForTests(what: string): Promise<boolean> {
  let why = '';
  const gpu = await tg.initWebGPU().then(
    () => true,
    (e: Error) => ((why = e.message), false),
  );
  if (gpu) return true;
  if (process.env.TAPEGRAD_REQUIRE_WEBGPU === '1') {
    it('has a WebGPU adapter (TAPEGRAD_REQUIRE_WEBGPU=1)', () => {
      throw new Error(`no WebGPU device: ${why}`);
    });
  } else console.warn(`${what} WebGPU tests skipped: ${why}\n(set TAPEGRAD_REQUIRE_WEBGPU=1 to make this a failure)`);
  return false;
}
