// The custom-op example: `pnpm example:custom-op` from the repository root.
import { gradcheck, initWebGPU, tensor, type Tensor } from 'tapegrad';
import { logCoshLoss } from './log-cosh-loss.js';
import { silu, siluBackward } from './silu.js';
import { trainMnist } from './mnist.js';
import { train } from './train.js';

const f64 = (data: number[]) => tensor(data, { dtype: 'float64', requiresGrad: true });

// 1. Both ops pass gradcheck (float64 on the CPU): their backward agrees with finite differences.
gradcheck(silu, [f64([-3, -0.5, 0, 0.7, 4])]);
gradcheck((a, b) => logCoshLoss(a, b), [f64([-2, 0.1, 30]), f64([1, 0.2, -1])]);
console.log('gradcheck: silu and logCoshLoss agree with finite differences');

// 2. logCoshLoss is stable where log(cosh(d)) overflows.
const far = tensor([1000]);
console.log(`logCoshLoss(1000, 0) = ${logCoshLoss(far, tensor([0])).itemSync().toFixed(3)}; naive log(cosh(1000)) = ${Math.log(Math.cosh(1000))}`);

// 3. CPU/WebGPU parity, where a WebGPU adapter is found.
const noGpu = await initWebGPU().then(
  () => undefined,
  (e: Error) => e.message,
);
if (noGpu === undefined) {
  const x = tensor(Array.from({ length: 1000 }, (_, i) => (i - 500) / 50));
  const g = tensor(Array.from({ length: 1000 }, (_, i) => Math.cos(i)));
  const maxDiff = async (cpu: Tensor, onGpu: Tensor) => {
    const [a, b] = [Array.from(cpu.dataSync()), await onGpu.data()];
    return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
  };
  const forward = await maxDiff(silu(x), silu(x.to('webgpu')));
  const backward = await maxDiff(siluBackward(x, g), siluBackward(x.to('webgpu'), g.to('webgpu')));
  console.log(`silu on WebGPU vs the CPU, 1000 elements: max |difference| ${forward.toExponential(2)} forward, ${backward.toExponential(2)} backward`);
} else {
  console.log(`silu on WebGPU: skipped (${noGpu.split('. ')[0]})`);
}

// 4. Classify a slice of MNIST with an MLP whose activation is the fused SiLU (on each device).
for (const device of noGpu === undefined ? (['cpu', 'webgpu'] as const) : (['cpu'] as const)) {
  console.log(`MNIST (2000 training images, 1000 test images), MLP 784-64-10 with silu, on ${device}:`);
  const started = Date.now();
  await trainMnist({ device, log: (epoch, loss, accuracy) => console.log(`  epoch ${epoch}  loss ${loss.toFixed(4)}  test accuracy ${(100 * accuracy).toFixed(1)}%`) });
  console.log(`  ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// 5. Fit a noisy function with outliers, with the fused SiLU and the log-cosh loss.
console.log('Regression with outliers, MLP 1-32-32-1 with silu, logCoshLoss:');
const { losses, cleanError } = train({ log: (step, loss) => console.log(`  step ${String(step).padStart(3)}  loss ${loss.toFixed(4)}`) });
console.log(`  loss ${losses[0]!.toFixed(4)} -> ${losses.at(-1)!.toFixed(4)}; mean |error| against the noise-free function: ${cleanError.toFixed(4)}`);
