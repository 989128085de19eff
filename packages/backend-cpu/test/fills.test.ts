import { afterAll, describe, expect, it } from 'vitest';
import * as tg from '@tapegrad/tensor';
import { cpuKernelInfo, setCpuKernelOptions, type CpuKernel, type CpuView } from '../src/index.js';

// Kernels marked with fills() get outputs that are not zero-filled: whatever a reused block last
// held. Each case runs an op with its output handed a freed block that held NaN, then one that
// held zeros (checking it got that block, so the case cannot pass vacuously): a kernel that left
// any element unwritten, or accumulated into its output, gives NaN or differing results.

const initial = cpuKernelInfo();
afterAll(() => setCpuKernelOptions({ sharedMemory: initial.sharedMemory }));

const handle = (t: tg.Tensor) => t.kernelView().handle as tg.TypedArray;

/** The op's output when its storage is a freed block that held `value`. */
function onStale(value: number, op: () => tg.Tensor, shape: tg.Shape, dtype: tg.DType): number[] {
  const stale = tg.full(shape, value, { dtype });
  const h = handle(stale);
  stale.dispose();
  const out = op();
  const o = handle(out);
  expect(o.buffer === h.buffer && o.byteOffset === h.byteOffset, 'the output reused the freed block').toBe(true);
  const values = Array.from(out.dataSync());
  out.dispose();
  return values;
}

tg.manualSeed(5);
const x = tg.randn([64, 128]), y = tg.randn([64, 128]), bias = tg.randn([128]);
const w = tg.randn([96, 128]), a3 = tg.randn([3, 20, 30]), b2 = tg.randn([30, 40]);
const x64 = tg.randn([40, 50], { dtype: 'float64' }), y64 = tg.randn([50, 30], { dtype: 'float64' });
const rows = tg.randint(0, 64, [48]).cast('int32'), rx = tg.relu(x), mask = tg.gt(x, 0);
const cases: [string, () => tg.Tensor][] = [
  ['relu', () => tg.relu(x)],
  ['exp', () => tg.exp(x)],
  ['add, a broadcast bias', () => tg.add(x, bias)],
  ['mul', () => tg.mul(x, y)],
  ['reluBackward', () => tg.run('reluBackward', [y, rx])],
  ['where', () => tg.where(mask, x, y)],
  ['clamp', () => tg.clamp(x, -0.5, 0.5)],
  ['pow', () => tg.pow(x, 2)],
  ['copy of a transposed view', () => x.transpose(0, 1).contiguous()],
  ['matmul, B a transposed view', () => tg.matmul(x, w.transpose(0, 1))],
  ['matmul, batched', () => tg.matmul(a3, b2)],
  ['matmul, float64 (the TypeScript gemm)', () => tg.matmul(x64, y64)],
  ['indexSelect of rows', () => x.indexSelect(0, rows)],
  ['indexSelect of a strided view', () => x.transpose(0, 1).indexSelect(1, rows)],
  // issue 16: scans, prod, sort
  ['cumsum', () => tg.cumsum(x, 1)],
  ['cumprod of a transposed view', () => tg.cumprod(x.transpose(0, 1), 0)],
  ['prod over a dim, a broadcast one', () => tg.prod(x.unsqueeze(1).expand(64, 3, 128), 1)],
  ['sort (its values; both outputs are written in one loop)', () => tg.sort(x, 0, true).values],
];

describe.each([
  ['storage in the WebAssembly memory', initial.sharedMemory],
  ['storage on the JavaScript heap (pooled arrays)', false],
])('kernels that fill their outputs, %s', (_, sharedMemory) => {
  it.each(cases)('%s writes every element', (_name, op) => {
    setCpuKernelOptions({ sharedMemory });
    const probe = op();
    const { shape, dtype } = probe;
    probe.dispose();
    const fromNaN = onStale(Number.NaN, op, shape, dtype);
    const fromZero = onStale(0, op, shape, dtype);
    expect(fromNaN.some(Number.isNaN)).toBe(false);
    expect(fromNaN).toEqual(fromZero);
  });

  it('linear writes every element (product, then the bias added in place)', () => {
    setCpuKernelOptions({ sharedMemory });
    const kernel = tg.getKernel('linear', 'cpu') as CpuKernel;
    const run = (value: number) => {
      const out = tg.full([64, 96], value);
      const view = (t: tg.Tensor) => t.kernelView() as CpuView;
      kernel([view(x), view(w), view(bias.narrow(0, 0, 96))], [view(out)], {}, 'linear');
      return Array.from(out.dataSync());
    };
    const fromNaN = run(Number.NaN);
    expect(fromNaN.some(Number.isNaN)).toBe(false);
    expect(fromNaN).toEqual(run(0));
  });
});
