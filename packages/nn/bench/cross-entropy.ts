// Forward+backward of mean cross-entropy (float32, CPU): the fused crossEntropy op, the unfused
// tapegrad chain logSoftmax -> gather -> mean, and TensorFlow.js's tf.losses.softmaxCrossEntropy
// on its CPU backend, all in one run, beside this machine's memory bandwidth measured in the
// same run. Run: pnpm --filter @tapegrad/nn bench (or node --conditions=@tapegrad/source --import tsx bench/cross-entropy.ts).
import '@tapegrad/backend-cpu';
import { gather, manualSeed, mean, neg, randint, randn, reshape, tidy, type Tensor } from '@tapegrad/tensor';
// the union package: tfjs-core with its gradients registered, and the CPU backend
import * as tf from '@tensorflow/tfjs';
import { functional as F } from '../src/index.js';

const SIZES: [number, number][] = [[64, 10], [4096, 1000], [512, 32000]];

/** Median milliseconds per call, over at least `minReps` calls and `minMs` of running. */
function time(fn: () => void, minMs = 300, minReps = 3): number {
  fn(); // warm-up (JIT, allocations)
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minReps || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
    if (samples.length >= 200) break;
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** Memory bandwidth of a 256 MB copy (TypedArray.set: read + write), best of 5, in GB/s. */
function bandwidth(): number {
  const n = 32 * 1024 * 1024;
  const a = new Float32Array(n).fill(1);
  const b = new Float32Array(n);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    b.set(a);
    best = Math.min(best, performance.now() - t0);
  }
  return (2 * n * 4) / (best * 1e6);
}

function tapegradStep(x: Tensor, loss: () => Tensor): () => void {
  return () => {
    tidy(() => loss().backward());
    x.grad!.dispose();
    x.grad = null;
  };
}

function benchSize(N: number, C: number) {
  manualSeed(0);
  const x = randn([N, C]).requiresGrad_();
  const target = randint(0, C, [N], { dtype: 'int32' });
  const column = reshape(target, [N, 1]);
  const fused = time(tapegradStep(x, () => F.crossEntropy(x, target)));
  const unfused = time(tapegradStep(x, () => neg(mean(gather(F.logSoftmax(x, 1), 1, column)))));

  const logits = tf.tensor2d(x.dataSync() as Float32Array, [N, C]);
  const onehot = tf.oneHot(tf.tensor1d(target.dataSync() as Int32Array, 'int32'), C);
  const grad = tf.grad((z: tf.Tensor) => tf.losses.softmaxCrossEntropy(onehot, z));
  const tfjs = time(() => tf.tidy(() => void grad(logits).dataSync()));
  logits.dispose();
  onehot.dispose();
  x.dispose();
  target.dispose();
  column.dispose();
  // forward reads the logits, backward reads them again and writes the gradient
  const bytes = 3 * N * C * 4;
  return { N, C, fused, unfused, tfjs, gbps: bytes / (fused * 1e6) };
}

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
  const bw = bandwidth();
  const rows = SIZES.map(([N, C]) => benchSize(N, C));
  const bw2 = bandwidth();
  const f = (v: number) => v.toFixed(v < 1 ? 3 : v < 10 ? 2 : 1);
  console.log(`cross-entropy forward+backward, mean reduction, float32, CPU (node ${process.version})`);
  console.log(`memory bandwidth (256 MB TypedArray.set copy, same run): ${bw.toFixed(1)} GB/s before, ${bw2.toFixed(1)} GB/s after\n`);
  console.log('| N x C | fused ms | unfused ms | TF.js cpu ms | fused vs unfused | fused vs TF.js | fused GB/s (3·N·C·4 B) | % of bandwidth |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.N}x${r.C} | ${f(r.fused)} | ${f(r.unfused)} | ${f(r.tfjs)} | ${(r.unfused / r.fused).toFixed(1)}x | ${(r.tfjs / r.fused).toFixed(1)}x | ${r.gbps.toFixed(2)} | ${((100 * r.gbps) / Math.max(bw, bw2)).toFixed(0)}% |`,
    );
  }
}

await main();
