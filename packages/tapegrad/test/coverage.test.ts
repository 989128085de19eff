// Which ops each backend runs natively, once 'tapegrad' (which loads nn and the CPU backend) is
// imported and initWebGPU() has loaded the WebGPU backend. Kernels register when their backend
// loads, before any adapter is sought, so this needs no GPU.
import { beforeAll, expect, it } from 'vitest';
import * as tg from 'tapegrad';

// Ops with a CPU kernel but not yet a WebGPU one, each with why. An op listed here that gains a
// kernel fails the test, so the list cannot go stale.
const NOT_YET: Record<string, string> = {
  // issue 16 (optim)
  linearCrossEntropyForward: "on WebGPU linearCrossEntropy() runs its chunks as matmul, crossEntropy and crossEntropyBackward dispatches, the ones a kernel of its own would make; chunking is what removes the logits' memory",
  linearCrossEntropyBackward: 'as linearCrossEntropyForward',
};

beforeAll(async () => {
  await tg.initWebGPU().catch(() => undefined);
});

it('every op with a CPU kernel has a WebGPU kernel, or is listed (with why) in NOT_YET', () => {
  const ops = tg.listOps();
  const cpu = ops.filter((op) => tg.hasKernel(op, 'cpu'));
  const webgpu = ops.filter((op) => tg.hasKernel(op, 'webgpu'));
  const views = ops.filter((op) => tg.getOp(op).view !== undefined);
  console.log(
    `ops: ${ops.length}\n` +
      `cpu (${cpu.length}): ${cpu.join(' ')}\n` +
      `webgpu (${webgpu.length}): ${webgpu.join(' ')}\n` +
      `views, no kernel on either (${views.length}): ${views.join(' ')}`,
  );
  expect(cpu.filter((op) => !webgpu.includes(op) && !(op in NOT_YET))).toEqual([]);
  for (const op of Object.keys(NOT_YET)) expect(webgpu, `${op} has a WebGPU kernel now: drop it from NOT_YET`).not.toContain(op);
  // every op runs somewhere: what has no kernel is a view (shape and strides only)
  expect(ops.filter((op) => !cpu.includes(op) && !webgpu.includes(op))).toEqual(views);
  // and the nn ops are there (an umbrella that stopped loading nn would pass the rest vacuously)
  for (const op of ['crossEntropy', 'crossEntropyBackward', 'nllLoss', 'nllLossBackward', 'conv2d', 'conv2dInputGrad', 'conv2dWeightGrad',
    'maxPool2d', 'maxPool2dBackward', 'avgPool2d', 'avgPool2dBackward', 'gelu', 'geluBackward', 'sgdStep', 'adamStep']) {
    expect(webgpu, op).toContain(op);
  }
  // issue 16 (nn helper): the activations' kernels and convTranspose2d
  for (const name of ['silu', 'leakyRelu', 'elu', 'softplus', 'mish', 'hardswish']) for (const op of [name, `${name}Backward`]) expect(webgpu, op).toContain(op);
  expect(webgpu).toContain('convTranspose2d');
});
