import { dispatch, randn, run, type Tensor } from 'tapegrad';
import { defineSuite, fmt, median, type Cell } from '../harness.js';
import { startGpuAndTfjs, takeTurns } from './webgpu-matmul.js';

// The WebGPU convolution and max-pooling kernels alone, on the MNIST CNN's shapes (batch 64:
// conv 1→4 and 4→8, 3x3, padding 1, each followed by a 2x2 max-pool), beside TF.js webgpu's
// kernels for the same work in the same process and on the same GPU object (TF.js convolves
// NHWC: its operands are laid out so). Each sample runs a batch of kernels back to back and then
// reads one element of the last, as webgpu-matmul.
type Tf = Extract<Awaited<ReturnType<typeof startGpuAndTfjs>>, { tf: unknown }>['tf'];
type TfT = import('@tensorflow/tfjs-core').Tensor;
interface Conv { name: string; cin: number; cout: number; hw: number }
const CONVS: Conv[] = [
  { name: 'conv1', cin: 1, cout: 4, hw: 28 },
  { name: 'conv2', cin: 4, cout: 8, hw: 14 },
];
const N = 64;
const ATTRS = { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 } as const;
const POOL = { kernelSize: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceilMode: false, countIncludePad: true } as const;
const pool = (hw: number) => ({ ...POOL, outSize: [hw / 2, hw / 2] });

interface Case { name: string; flop: number; ours: () => Tensor; theirs: (tf: Tf) => TfT; dispose: () => void }

function cases(tf: Tf | undefined): Case[] {
  const out: Case[] = [];
  const gpu = { device: 'webgpu' } as const;
  for (const c of CONVS) {
    const macs = N * c.cout * c.hw * c.hw * c.cin * 9;
    const x = randn([N, c.cin, c.hw, c.hw], gpu), w = randn([c.cout, c.cin, 3, 3], gpu), b = randn([c.cout], gpu);
    const g = randn([N, c.cout, c.hw, c.hw], gpu);
    const tx = tf?.randomNormal([N, c.hw, c.hw, c.cin]), tw = tf?.randomNormal([3, 3, c.cin, c.cout]), tb = tf?.randomNormal([c.cout]);
    const tg = tf?.randomNormal([N, c.hw, c.hw, c.cout]);
    const dispose = () => ([x, w, b, g].forEach((t) => t.dispose()), tf?.dispose([tx!, tw!, tb!, tg!]));
    out.push({
      name: `${c.name} forward (+bias)`, flop: 2 * macs, dispose: () => {},
      ours: () => run('conv2d', [x, w, b], ATTRS),
      theirs: (tf) => tf.add(tf.conv2d(tx as never, tw as never, 1, 'same'), tb!),
    });
    if (c.cin > 1) {
      out.push({
        name: `${c.name} input grad`, flop: 2 * macs, dispose: () => {},
        ours: () => run('conv2dInputGrad', [g, w], { ...ATTRS, shape: x.shape }),
        theirs: (tf) => tf.conv2dTranspose(tg as never, tw as never, [N, c.hw, c.hw, c.cin], 1, 'same'),
      });
    }
    out.push({
      name: `${c.name} weight grad`, flop: 2 * macs, dispose: () => {},
      ours: () => run('conv2dWeightGrad', [x, g], { ...ATTRS, shape: w.shape }),
      theirs: (tf) => tf.engine().runKernel('Conv2DBackpropFilter', { x: tx!, dy: tg! }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, c.cin, c.cout] }) as TfT,
    });
    // the max-pool after this conv (its input is the conv's output)
    const [yo, idx] = dispatch('maxPool2d', [g], pool(c.hw));
    const gy = randn(yo!.shape, gpu);
    const tp = tf?.maxPool(tg as never, 2, 2, 'valid') as TfT | undefined;
    const tgy = tf?.randomNormal(tp?.shape ?? [1]);
    out.push({
      name: `pool after ${c.name} forward`, flop: 0, dispose: () => {},
      ours: () => {
        const [y, i] = dispatch('maxPool2d', [g], pool(c.hw));
        i!.dispose();
        return y!;
      },
      theirs: (tf) => tf.maxPool(tg as never, 2, 2, 'valid'),
    });
    out.push({
      name: `pool after ${c.name} backward`, flop: 0, dispose: () => ([yo!, idx!, gy].forEach((t) => t.dispose()), tf?.dispose([tp!, tgy!]), dispose()),
      ours: () => run('maxPool2dBackward', [gy, idx!], { ...POOL, shape: g.shape }),
      theirs: (tf) => tf.engine().runKernel('MaxPoolGrad', { dy: tgy!, input: tg!, output: tp! }, { filterSize: 2, strides: 2, pad: 'valid' }) as TfT,
    });
  }
  return out;
}

export default defineSuite({
  name: 'webgpu-conv',
  async run(ctx) {
    const started = await startGpuAndTfjs(ctx);
    if ('skipped' in started) return [{ title: 'WebGPU conv', columns: ['note'], rows: [[`skipped: ${started.skipped}`]] }];
    const { adapter, tf, tfWhy } = started;
    const rounds = ctx.quick ? 3 : 7, per = ctx.quick ? 4 : 8;
    const rows: Cell[][] = [];
    for (const k of cases(tfWhy ? undefined : tf)) {
      const ours = async () => {
        let c: Tensor | undefined;
        for (let i = 0; i < per; i++) (c?.dispose(), (c = k.ours()));
        await c!.reshape([-1]).narrow(0, 0, 1).data();
        c!.dispose();
      };
      const theirs = async () => {
        let c: TfT | undefined;
        for (let i = 0; i < per; i++) (c?.dispose(), (c = tf.tidy(() => k.theirs(tf))));
        await c!.data();
        c!.dispose();
      };
      const [t, r] = await takeTurns(ours, tfWhy ? undefined : theirs, rounds, per);
      const ratios = r.map((x, i) => x / t[i]!);
      rows.push([k.name, median(t), k.flop ? k.flop / (median(t) * 1e6) : undefined, tfWhy ? undefined : median(r), tfWhy ? '—' : `${fmt(median(ratios), 2)}x`]);
      k.dispose();
    }
    await tf.setBackend('cpu');
    return [{
      title: 'WebGPU conv and max-pool kernels on the MNIST CNN\'s shapes (batch 64): tapegrad beside TF.js webgpu (same process, same GPU object)',
      columns: ['kernel', 'tapegrad ms', 'tapegrad GFLOP/s', 'TF.js webgpu ms', 'tapegrad speed / TF.js'],
      rows,
      notes: [
        `adapter: ${adapter}${/llvmpipe|lavapipe/i.test(adapter) ? ' (Mesa\'s software rasteriser: the shaders run on the CPU, not GPU figures)' : ''}. ` +
          `${rounds} rounds taking turns, each timing ${per} kernels then one read; medians per kernel. TF.js: conv2d (+ add), conv2dTranspose, and its Conv2DBackpropFilter and MaxPoolGrad kernels. ${tfWhy ?? ''}`,
      ],
    }];
  },
});
