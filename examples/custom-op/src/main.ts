// The custom-op example: `pnpm example:custom-op` from the repository root.
import { gradcheck, hasBackend, tensor } from 'tapegrad';
import { logCoshLoss } from './log-cosh-loss.js';
import { silu } from './silu.js';
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

// 3. CPU/WebGPU parity, when a WebGPU backend is registered.
if (hasBackend('webgpu')) {
  const x = tensor(Array.from({ length: 1000 }, (_, i) => (i - 500) / 50));
  const cpu = Array.from(silu(x).dataSync());
  const gpu = await silu(x.to('webgpu')).data();
  const maxDiff = cpu.reduce((m, v, i) => Math.max(m, Math.abs(v - gpu[i]!)), 0);
  console.log(`silu CPU vs WebGPU: max |difference| ${maxDiff.toExponential(2)} over ${cpu.length} elements`);
} else {
  console.log('silu CPU vs WebGPU: skipped (no WebGPU backend registered in this build)');
}

// 4. Classify a slice of MNIST with an MLP whose activation is the fused SiLU.
console.log('MNIST (2000 training images, 1000 test images), MLP 784-64-10 with silu:');
await trainMnist({ log: (epoch, loss, accuracy) => console.log(`  epoch ${epoch}  loss ${loss.toFixed(4)}  test accuracy ${(100 * accuracy).toFixed(1)}%`) });

// 5. Fit a noisy function with outliers, with the fused SiLU and the log-cosh loss.
console.log('Regression with outliers, MLP 1-32-32-1 with silu, logCoshLoss:');
const { losses, cleanError } = train({ log: (step, loss) => console.log(`  step ${String(step).padStart(3)}  loss ${loss.toFixed(4)}`) });
console.log(`  loss ${losses[0]!.toFixed(4)} -> ${losses.at(-1)!.toFixed(4)}; mean |error| against the noise-free function: ${cleanError.toFixed(4)}`);
