import { initWebGPU, manualSeed, memory, randn, tensor, type Tensor } from 'tapegrad';
import { describe, expect, it } from 'vitest';
import { logCoshLoss } from '../src/log-cosh-loss.js';
import { trainMnist } from '../src/mnist.js';
import { silu, siluBackward } from '../src/silu.js';

// CPU/WebGPU parity of the example's WGSL kernels. Without a WebGPU adapter these tests skip
// with the reason (which says how to get a software one), unless TAPEGRAD_REQUIRE_WEBGPU=1.
let why = '';
const gpu = await initWebGPU().then(
  () => true,
  (e: Error) => ((why = e.message), false),
);
if (!gpu) {
  if (process.env.TAPEGRAD_REQUIRE_WEBGPU === '1') {
    it('has a WebGPU adapter (TAPEGRAD_REQUIRE_WEBGPU=1)', () => {
      throw new Error(`no WebGPU device: ${why}`);
    });
  } else {
    console.warn(`WebGPU parity tests skipped: ${why}\n(set TAPEGRAD_REQUIRE_WEBGPU=1 to make this a failure)`);
  }
}

async function expectParity(cpu: Tensor, onGpu: Tensor): Promise<void> {
  expect(onGpu.device).toBe('webgpu');
  expect(onGpu.shape).toEqual(cpu.shape);
  const expected = cpu.dataSync();
  const actual = await onGpu.data();
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= 1e-5 + 1e-5 * Math.abs(expected[i]!))) expect.fail(`[${i}]: webgpu ${actual[i]}, cpu ${expected[i]}`);
  }
}

(gpu ? describe : describe.skip)('silu on WebGPU', () => {
  manualSeed(3);
  const shapes = [[1], [63], [64], [65], [1000], [33, 17], [4, 30, 5]];
  it.each(shapes)('forward and backward kernels match the CPU, shape %j', async (...shape) => {
    const x = randn(shape).mul(6);
    const g = randn(shape);
    await expectParity(silu(x), silu(x.to('webgpu')));
    await expectParity(siluBackward(x, g), siluBackward(x.to('webgpu'), g.to('webgpu')));
  });
  it('reads inputs that start at an offset, transposed inputs and extremes', async () => {
    const big = randn([10, 50]);
    const g = randn([4, 50]);
    await expectParity(silu(big.slice(0, 3, 7)), silu(big.to('webgpu').slice(0, 3, 7)));
    await expectParity(siluBackward(big.slice(0, 3, 7), g), siluBackward(big.to('webgpu').slice(0, 3, 7), g.to('webgpu')));
    await expectParity(silu(big.T), silu(big.to('webgpu').T));
    const ext = tensor([-1e4, -100, -88, -20, 0, 20, 88, 100, 1e4]);
    await expectParity(silu(ext), silu(ext.to('webgpu')));
  });
  it('runs more than 65535 workgroups (the 2-D grid)', async () => {
    const x = randn([65536 * 64 + 5]);
    await expectParity(silu(x), silu(x.to('webgpu')));
  });
  it('backpropagates through the kernels on the device', async () => {
    const x = randn([300]);
    const onGpu = x.to('webgpu').requiresGrad_();
    silu(onGpu).sum().backward();
    const onCpu = x.clone().requiresGrad_();
    silu(onCpu).sum().backward();
    await expectParity(onCpu.grad!, onGpu.grad!);
  });
});

(gpu ? describe : describe.skip)('logCoshLoss (a composite op) on WebGPU', () => {
  it('forward and gradients match the CPU', async () => {
    const input = randn([40, 3]).mul(30);
    const target = randn([40, 3]);
    await expectParity(logCoshLoss(input, target, { reduction: 'none' }), logCoshLoss(input.to('webgpu'), target.to('webgpu'), { reduction: 'none' }));
    const onCpu = input.clone().requiresGrad_();
    const onGpu = input.to('webgpu').requiresGrad_();
    logCoshLoss(onCpu, target).backward();
    logCoshLoss(onGpu, target.to('webgpu')).backward();
    await expectParity(onCpu.grad!, onGpu.grad!);
  });
});

(gpu ? describe : describe.skip)('the MNIST model on WebGPU', () => {
  it('follows the CPU trajectory, and holds memory flat', async () => {
    const options = { trainSize: 256, testSize: 200, epochs: 2 };
    const cpu = await trainMnist(options);
    const before = memory().devices.webgpu?.tensors ?? 0;
    const onGpu = await trainMnist({ ...options, device: 'webgpu' });
    onGpu.losses.forEach((loss, i) => expect(loss).toBeCloseTo(cpu.losses[i]!, 3));
    onGpu.accuracies.forEach((accuracy, i) => expect(Math.abs(accuracy - cpu.accuracies[i]!)).toBeLessThanOrEqual(0.01));
    expect(memory().devices.webgpu?.tensors ?? 0).toBe(before);
  });
});
