import { DTypeError, kernelOp, ShapeError, fmt, shapesEqual, type Tensor, type TensorView } from 'tapegrad';

// SiLU (swish), y = x * sigmoid(x), as one fused kernel instead of three ops (sigmoid, mul and
// their intermediates), with a fused backward kernel too:
//   dy/dx = s * (1 + x * (1 - s)),  s = sigmoid(x)

const size = (v: { shape: readonly number[] }) => v.shape.reduce((a, b) => a * b, 1);
// sigmoid without overflow: exp of a negative number only
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

function floating(op: string, x: Tensor): void {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new DTypeError(`${op}: expected a float32 or float64 tensor; got ${x.dtype}`);
}

// WebGPU: one thread per element. The backend binds the inputs, the outputs and then `md`, the
// u32 words: md[0] the element count, md[1] the backend's, then our params (the inputs' offsets:
// inputs are contiguous but may start inside a larger buffer).
const WORKGROUP = 64;
const threadIndex = /* wgsl */ `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.x + wg.y * nwg.x) * ${WORKGROUP}u + lid;
  if (i >= md[0]) { return; }`;

const SILU_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> md: array<u32>;
${threadIndex}
  let v = x[md[2] + i];
  y[i] = v / (1.0 + exp(-v));
}`;

const SILU_BACKWARD_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read> md: array<u32>;
${threadIndex}
  let v = x[md[2] + i];
  let s = 1.0 / (1.0 + exp(-v));
  dx[i] = g[md[3] + i] * s * (1.0 + v * (1.0 - s));
}`;

const u32 = (value: number) => ({ type: 'u32' as const, value });
const elements = (_: readonly TensorView[], [out]: readonly TensorView[]) => size(out!);

/** The gradient of SiLU: a kernel op of its own, called by silu's backward. */
export const siluBackward = kernelOp({
  name: 'example.siluBackward',
  infer: ([x, g]) => {
    floating('siluBackward', x!);
    if (!shapesEqual(x!.shape, g!.shape)) throw new ShapeError(`siluBackward: grad has shape ${fmt(g!.shape)} but input has shape ${fmt(x!.shape)}`);
    return [{ shape: x!.shape, dtype: x!.dtype }];
  },
  cpu: ([x, g], [dx]) => {
    const xs = x!.handle;
    const gs = g!.handle;
    const out = dx!.handle;
    for (let i = 0, n = size(dx!); i < n; i++) {
      const v = xs[x!.offset + i]!;
      const s = sigmoid(v);
      out[i] = gs[g!.offset + i]! * s * (1 + v * (1 - s));
    }
  },
  webgpu: {
    wgsl: SILU_BACKWARD_WGSL,
    workgroupSize: WORKGROUP,
    workItems: elements,
    params: ([x, g]) => [u32(x!.offset), u32(g!.offset)],
  },
});

/** SiLU, x * sigmoid(x), fused: one kernel forward, one backward. */
export const silu = kernelOp({
  name: 'example.silu',
  infer: ([x]) => {
    floating('silu', x!);
    return [{ shape: x!.shape, dtype: x!.dtype }];
  },
  cpu: ([x], [y]) => {
    const xs = x!.handle;
    const out = y!.handle;
    for (let i = 0, n = size(y!); i < n; i++) {
      const v = xs[x!.offset + i]!;
      out[i] = v * sigmoid(v);
    }
  },
  webgpu: {
    wgsl: SILU_WGSL,
    workgroupSize: WORKGROUP,
    workItems: elements,
    params: ([x]) => [u32(x!.offset)],
  },
  save: { inputs: true },
  backward: (ctx, g) => [siluBackward(ctx.inputs[0]!, g!)],
});
