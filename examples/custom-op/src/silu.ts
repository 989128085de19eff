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

// WebGPU: one invocation per element; a 2-D grid of 64-wide workgroups so large tensors stay
// under the 65535 workgroups-per-dimension limit. Inputs are contiguous but may start at an
// offset, so offsets come in as uniforms.
const WORKGROUP = 64;
const MAX_GROUPS = 65535;
const grid = (n: number): [number, number] => {
  const groups = Math.ceil(n / WORKGROUP);
  return [Math.min(groups, MAX_GROUPS), Math.ceil(groups / MAX_GROUPS)];
};
const flatIndex = `let i = id.x + id.y * ${MAX_GROUPS * WORKGROUP}u;`;

const SILU_WGSL = /* wgsl */ `
struct Params { n: u32, xOffset: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  ${flatIndex}
  if (i >= params.n) { return; }
  let v = x[params.xOffset + i];
  y[i] = v / (1.0 + exp(-v));
}`;

const SILU_BACKWARD_WGSL = /* wgsl */ `
struct Params { n: u32, xOffset: u32, gOffset: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  ${flatIndex}
  if (i >= params.n) { return; }
  let v = x[params.xOffset + i];
  let s = 1.0 / (1.0 + exp(-v));
  dx[i] = g[params.gOffset + i] * s * (1.0 + v * (1.0 - s));
}`;

const u32 = (value: number) => ({ type: 'u32' as const, value });
const elements = (_: readonly TensorView[], [out]: readonly TensorView[]) => grid(size(out!));

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
    dispatch: elements,
    uniforms: ([x, g], [dx]) => [u32(size(dx!)), u32(x!.offset), u32(g!.offset)],
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
    dispatch: elements,
    uniforms: ([x], [y]) => [u32(size(y!)), u32(x!.offset)],
  },
  save: { inputs: true },
  backward: (ctx, g) => [siluBackward(ctx.inputs[0]!, g!)],
});
