import '@tapegrad/backend-cpu';
import {
  allocArray, DeviceError, getKernel, memory, registerBackend, ShapeError, TapegradError, tensor, tidy, ValueError, DTypeError,
  type Backend, type Tensor, type TypedArray,
} from '@tapegrad/tensor';
import { describe, expect, it } from 'vitest';
import { customOp, gradcheck, kernelOp, noGrad, type CustomCpuKernel, type WgslProgram } from '../src/index.js';

const f64 = (data: number[] | number[][], requiresGrad = true) => tensor(data, { dtype: 'float64', requiresGrad });
const values = (t: Tensor) => Array.from(t.dataSync());

// Names are unique per registry, and vitest runs this file in one module graph: number them.
let serial = 0;
const uniq = (base: string) => `test.${base}.${serial++}`;

describe('customOp (composite)', () => {
  const cube = customOp({
    name: uniq('cube'),
    forward(ctx, x: Tensor) {
      ctx.saveForBackward(x);
      return x.mul(x).mul(x);
    },
    backward(ctx, g) {
      const [x] = ctx.savedTensors;
      return [g!.mul(x!.square()).mul(3)];
    },
  });

  it('computes forward and the gradient backward returns', () => {
    const x = f64([1, 2, -3]);
    const y = cube(x);
    expect(values(y)).toEqual([1, 8, -27]);
    expect(y.requiresGrad).toBe(true);
    y.sum().backward();
    expect(values(x.grad!)).toEqual([3, 12, 27]);
  });

  it('passes gradcheck', () => {
    expect(gradcheck(cube, [f64([[0.5, -1.2], [2, 0.3]])])).toBe(true);
  });

  it('a backward may return a tensor it saved or captured: backward frees neither', () => {
    // backward frees spent grads early, but only those it created (tape.ts)
    const scaleByTwo = customOp({
      name: uniq('scaleByTwo'),
      forward: (_ctx, x: Tensor) => x.mul(2),
      backward: (_ctx, g) => [g!.mul(2)],
    });
    const dotSaved = customOp({
      name: uniq('dotSaved'),
      forward(ctx, x: Tensor, w: Tensor) {
        ctx.saveForBackward(w);
        return x.mul(w).sum();
      },
      backward: (ctx) => [ctx.savedTensors[0]!, null], // d/dx Σ x·w = w, for an upstream of 1
    });
    const ones = tensor([1, 1], { dtype: 'float64' });
    const sumConst = customOp({
      name: uniq('sumConst'),
      forward: (_ctx, x: Tensor) => x.sum(),
      backward: () => [ones], // d/dx Σ x, for an upstream of 1
    });
    const x = f64([1, 3]);
    const w = tensor([5, 7], { dtype: 'float64' });
    const y = dotSaved(scaleByTwo(x), w);
    y.backward(undefined, { retainGraph: true });
    y.backward(); // the saved w reached scaleByTwo's rule as its grad, and is still alive
    expect(values(x.grad!)).toEqual([20, 28]);
    const x2 = f64([4, 5]);
    sumConst(scaleByTwo(x2)).backward();
    expect(values(x2.grad!)).toEqual([2, 2]);
    expect(ones.isDisposed).toBe(false);
    expect(values(ones)).toEqual([1, 1]);
  });

  it('records nothing under noGrad or when no input requires grad', () => {
    const x = f64([1, 2]);
    expect(noGrad(() => cube(x)).requiresGrad).toBe(false);
    expect(cube(f64([1, 2], false)).requiresGrad).toBe(false);
  });

  // several tensor inputs, a non-tensor argument, two outputs
  const scaledSumDiff = customOp({
    name: uniq('scaledSumDiff'),
    forward(ctx, a: Tensor, b: Tensor, alpha: number) {
      ctx.state.alpha = alpha;
      return [a.add(b).mul(alpha), a.sub(b)];
    },
    backward(ctx, gSum, gDiff) {
      const alpha = ctx.state.alpha as number;
      return [
        ctx.needsInputGrad[0] ? gSum!.mul(alpha).add(gDiff!) : null,
        ctx.needsInputGrad[1] ? gSum!.mul(alpha).sub(gDiff!) : null,
        null,
      ];
    },
  });

  it('takes several inputs and non-tensor arguments and returns several outputs', () => {
    const a = f64([1, 2]);
    const b = f64([3, 5]);
    const [s, d] = scaledSumDiff(a, b, 2);
    expect(values(s!)).toEqual([8, 14]);
    expect(values(d!)).toEqual([-2, -3]);
    expect(gradcheck((x, y) => scaledSumDiff(x, y, 2), [f64([0.1, 0.7]), f64([-0.4, 1.5])])).toBe(true);
  });

  it('hands backward zeros for an unused output and computes only the grads that are needed', () => {
    let needs: readonly boolean[] = [];
    const op = customOp({
      name: uniq('twoOut'),
      forward: (_ctx, a: Tensor, b: Tensor) => [a.mul(2), b.mul(3)],
      backward(ctx, g0, g1) {
        needs = ctx.needsInputGrad;
        return [g0!.mul(2), g1!.mul(3)];
      },
    });
    const a = f64([1, 1]);
    const b = f64([1, 1], false);
    const [first] = op(a, b);
    first!.sum().backward();
    expect(needs).toEqual([true, false]);
    expect(values(a.grad!)).toEqual([2, 2]);
    expect(b.grad).toBeNull();
  });

  it('markNonDifferentiable: a marked output never requires grad', () => {
    const withMask = customOp({
      name: uniq('withMask'),
      forward(ctx, x: Tensor) {
        const mask = x.gt(0).cast(x.dtype);
        ctx.saveForBackward(mask);
        ctx.markNonDifferentiable(mask);
        return [x.mul(mask), mask];
      },
      backward: (ctx, g) => [g!.mul(ctx.savedTensors[0]!)],
    });
    const x = f64([-1, 2]);
    const [y, mask] = withMask(x);
    expect(mask!.requiresGrad).toBe(false);
    expect(y!.requiresGrad).toBe(true);
    y!.sum().backward();
    expect(values(x.grad!)).toEqual([0, 1]);
  });

  it('keeps saved intermediates alive past tidy and frees them after backward', () => {
    const softplusLike = customOp({
      name: uniq('logOnePlusExp'),
      forward(ctx, x: Tensor) {
        const e = x.exp();
        ctx.saveForBackward(e);
        return e.add(1).log();
      },
      backward: (ctx, g) => [g!.mul(ctx.savedTensors[0]!.div(ctx.savedTensors[0]!.add(1)))],
    });
    const x = f64([0, 1]);
    const before = memory().tensors;
    const loss = tidy(() => softplusLike(x).sum());
    // the saved exp(x) is held by the tape (untracked), not by any scope
    loss.backward();
    expect(values(x.grad!)).toEqual([0.5, Math.E / (1 + Math.E)]);
    loss.dispose();
    x.grad!.dispose();
    x.grad = null;
    expect(memory().tensors).toBe(before);
    expect(() => {
      const l = softplusLike(x).sum();
      l.backward();
      l.backward();
    }).toThrow(/second time/);
  });

  it('returns an input given back as is as a new tensor, and its gradient flows', () => {
    const ident = customOp({ name: uniq('ident'), forward: (_c, x: Tensor) => x, backward: (_c, g) => [g!] });
    const x = f64([1, 2]);
    const y = ident(x);
    expect(y).not.toBe(x);
    expect(x.isLeaf).toBe(true);
    y.mul(3).sum().backward();
    expect(values(x.grad!)).toEqual([3, 3]);
  });

  describe('errors', () => {
    it('a name registered twice, or the name of a core op', () => {
      const name = uniq('dup');
      customOp({ name, forward: (_c, x: Tensor) => x.mul(1), backward: (_c, g) => [g!] });
      expect(() => customOp({ name, forward: (_c, x: Tensor) => x, backward: (_c, g) => [g!] })).toThrow(
        new TapegradError(`customOp: an op named '${name}' is already registered; give each custom op a unique name (e.g. 'myproject.${name}')`),
      );
      expect(() => customOp({ name: 'add', forward: (_c, x: Tensor) => x, backward: (_c, g) => [g!] })).toThrow(/an op named 'add' is already registered/);
      expect(() => kernelOp({ name, infer: ([x]) => [{ shape: x!.shape, dtype: x!.dtype }], cpu: () => {} })).toThrow(/kernelOp: an op named/);
    });

    const bad = (name: string, backward: (g: Tensor) => unknown) =>
      customOp({ name, forward: (_c, a: Tensor, _k: number) => a.mul(2), backward: (_c, g) => backward(g!) as never });

    it('backward returning the wrong number of gradients', () => {
      const op = bad(uniq('tooFew'), (g) => [g]);
      expect(() => op(f64([1, 2]), 3).sum().backward()).toThrow(/tooFew\.\d+: backward returned 1 gradient\(s\) but forward took 2 argument\(s\)/);
    });
    it('entries for omitted optional arguments may be returned, but only empty', () => {
      const optional = customOp({
        name: uniq('optionalArg'),
        forward: (_c, a: Tensor, k: number = 2) => a.mul(k),
        backward: (_c, g) => [g!.mul(2), null],
      });
      const x = f64([1]);
      optional(x).sum().backward();
      expect(values(x.grad!)).toEqual([2]);
      const extra = customOp({ name: uniq('extraGrad'), forward: (_c, a: Tensor) => a.mul(2), backward: (_c, g) => [g!, g!] });
      expect(() => extra(f64([1])).sum().backward()).toThrow(/backward returned 2 gradient\(s\) but forward took 1 argument\(s\)/);
    });
    it('backward returning a gradient of the wrong shape', () => {
      const op = bad(uniq('badShape'), (g) => [g.sum(), null]);
      expect(() => op(f64([1, 2]), 3).sum().backward()).toThrow(ShapeError);
      expect(() => op(f64([1, 2]), 3).sum().backward()).toThrow(/badShape\.\d+: backward returned a gradient of shape \[\] for argument 0 of shape \[2\]/);
    });
    it('backward returning a gradient for a non-tensor argument, or not a tensor', () => {
      const forK = bad(uniq('gradForNumber'), (g) => [g, g]);
      expect(() => forK(f64([1, 2]), 3).sum().backward()).toThrow(/gradient for argument 1, which is not a tensor/);
      const notTensor = bad(uniq('notTensor'), () => [1, null]);
      expect(() => notTensor(f64([1, 2]), 3).sum().backward()).toThrow(/returned a number as the gradient of argument 0/);
    });
    it('forward returning something other than tensors', () => {
      const op = customOp({ name: uniq('badForward'), forward: () => 3 as unknown as Tensor, backward: () => [] });
      expect(() => op()).toThrow(/badForward\.\d+: forward must return a Tensor/);
    });
  });
});

describe('kernelOp', () => {
  // squared ReLU: y = max(x, 0)^2, with its own backward kernel dy/dx = 2 max(x, 0)
  const size = (v: { shape: readonly number[] }) => v.shape.reduce((a, b) => a * b, 1);
  const elementwise = (f: (x: number) => number): CustomCpuKernel => ([x], [out]) => {
    for (let i = 0; i < size(out!); i++) out!.handle[i] = f(x!.handle[x!.offset + i]!);
  };
  const sameShape = ([x]: readonly Tensor[]) => {
    if (x!.dtype !== 'float32' && x!.dtype !== 'float64') throw new DTypeError(`sqrelu: expected a floating tensor; got ${x!.dtype}`);
    return [{ shape: x!.shape, dtype: x!.dtype }];
  };
  const sqreluGrad = kernelOp<undefined>({
    name: uniq('sqreluGrad'),
    infer: ([x, g]) => [{ shape: x!.shape, dtype: g!.dtype }],
    cpu: ([x, g], [out]) => {
      for (let i = 0; i < size(out!); i++) out!.handle[i] = 2 * Math.max(x!.handle[x!.offset + i]!, 0) * g!.handle[g!.offset + i]!;
    },
  });
  const SQRELU_WGSL = `
    @group(0) @binding(0) var<storage, read> x: array<f32>;
    @group(0) @binding(1) var<storage, read_write> y: array<f32>;
    @group(0) @binding(2) var<storage, read> md: array<u32>;
    @compute @workgroup_size(64)
    fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
      let i = (wg.x + wg.y * nwg.x) * 64u + lid;
      if (i >= md[0]) { return; }
      let v = max(x[md[2] + i], 0.0);
      y[i] = v * v;
    }`;
  const sqrelu = kernelOp({
    name: uniq('sqrelu'),
    infer: sameShape,
    cpu: elementwise((x) => Math.max(x, 0) ** 2),
    webgpu: {
      wgsl: SQRELU_WGSL,
      workgroupSize: 64,
      workItems: (_inputs, [y]) => size(y!),
      params: ([x]) => [{ type: 'u32', value: x!.offset }],
    },
    save: { inputs: true },
    backward: (ctx, g) => [sqreluGrad(ctx.inputs[0]!, g!)],
  });

  it('runs its cpu kernel and its backward kernel; passes gradcheck', () => {
    const x = f64([-1, 0.5, 2]);
    const y = sqrelu(x);
    expect(values(y)).toEqual([0, 0.25, 4]);
    y.sum().backward();
    expect(values(x.grad!)).toEqual([0, 1, 4]);
    expect(gradcheck(sqrelu, [f64([[-1.3, 0.4], [0.9, 2.2]])])).toBe(true);
  });

  it('sees contiguous inputs (a transposed input reads in its logical order)', () => {
    const x = tensor([[1, -2], [3, 4]]).T;
    expect(values(sqrelu(x))).toEqual([1, 9, 0, 16]);
  });

  it('a composite backward and attrs, several outputs', () => {
    const scaleShift = kernelOp<{ scale: number }, Tensor[]>({
      name: uniq('scaleShift'),
      infer: ([x], { scale }) => {
        if (!Number.isFinite(scale)) throw new ValueError(`scaleShift: scale must be finite; got ${scale}`);
        return [{ shape: x!.shape, dtype: x!.dtype }, { shape: x!.shape, dtype: x!.dtype }];
      },
      cpu: ([x], [a, b], { scale }) => {
        for (let i = 0; i < size(a!); i++) {
          a!.handle[i] = x!.handle[x!.offset + i]! * scale;
          b!.handle[i] = x!.handle[x!.offset + i]! + scale;
        }
      },
      backward: (ctx, ga, gb) => [ga!.mul(ctx.attrs.scale).add(gb!)],
    });
    const x = f64([1, 2]);
    const [a, b] = scaleShift(x, { scale: 3 });
    expect(values(a!)).toEqual([3, 6]);
    expect(values(b!)).toEqual([4, 5]);
    expect(gradcheck((t) => scaleShift(t, { scale: 3 }), [f64([0.3, -0.2])])).toBe(true);
    expect(() => scaleShift(x, { scale: NaN })).toThrow(new ValueError('scaleShift: scale must be finite; got NaN'));
  });

  it('validates input through infer', () => {
    expect(() => sqrelu(tensor([1, 2], { dtype: 'int32' }))).toThrow(new DTypeError('sqrelu: expected a floating tensor; got int32'));
  });

  it('a kernel that writes past the end of its output is an error naming the op', () => {
    const name = uniq('overrun');
    const overrun = kernelOp({
      name,
      infer: ([x]) => [{ shape: [x!.shape[0]! - 1], dtype: x!.dtype }],
      // bug: loops over the input's size, one more than the output holds
      cpu: ([x], [out]) => {
        for (let i = 0; i < x!.shape[0]!; i++) out!.handle[i] = x!.handle[x!.offset + i]!;
      },
    });
    const x = tensor([1, 2, 3]);
    const before = memory().tensors;
    expect(() => overrun(x)).toThrow(
      new ShapeError(
        `${name}: the cpu kernel wrote past the end of output 0 (shape [2], 2 elements): ` +
          "its loop bounds disagree with the output shape that infer returned (loop over the view's shape, not handle.length)",
      ),
    );
    expect(memory().tensors).toBe(before);
  });

  it('a kernel op without backward fails at backward naming the op', () => {
    const name = uniq('noGrad');
    const op = kernelOp({ name, infer: sameShape, cpu: elementwise((x) => x) });
    const y = op(f64([1]));
    expect(() => y.sum().backward()).toThrow(`backward: op '${name}' has no gradient rule registered (registerGradient)`);
  });

  it('rejects a definition without kernels or with an incomplete webgpu kernel', () => {
    expect(() => kernelOp({ name: uniq('noKernels'), infer: sameShape })).toThrow(/needs at least one kernel/);
    expect(() => kernelOp({ name: uniq('noWorkItems'), infer: sameShape, webgpu: { wgsl: '', workgroupSize: 64 } as never })).toThrow(
      /the webgpu kernel of 'test.noWorkItems.\d+' needs wgsl \(source or a function returning it\), workgroupSize \(a positive integer\) and workItems/,
    );
    expect(() => kernelOp({ name: uniq('sizeMismatch'), infer: sameShape, webgpu: { wgsl: SQRELU_WGSL, workgroupSize: 128, workItems: () => 1 } })).toThrow(
      /says workgroupSize 128, but its WGSL has no @workgroup_size\(128\)/,
    );
  });

  it("turns its WGSL kernel into the program the WebGPU backend runs", () => {
    // what the backend's run would be handed: views whose handles are its buffers
    const view = (handle: string, shape: number[], offset = 0) => ({ handle, dtype: 'float32' as const, shape, strides: [1], offset });
    const kernel = getKernel(sqrelu.opName, 'webgpu') as (i: unknown[], o: unknown[], a: unknown) => WgslProgram[];
    const [program, ...rest] = kernel([view('xbuf', [200], 7)], [view('ybuf', [200])], {});
    expect(rest).toEqual([]);
    expect(program!.inputs).toEqual(['xbuf']);
    expect(program!.outputs).toEqual(['ybuf']);
    expect(program!.meta).toEqual([200, 0, 7]); // work items, the backend's word, x's offset
    expect(program!.workgroups).toBe(4); // ceil(200 / 64)
    expect(program!.wgsl()).toBe(SQRELU_WGSL);
    expect(program!.key).toBe(`${sqrelu.opName}\n${SQRELU_WGSL}`);
    // f32 and i32 params travel as their bits
    const scaled = kernelOp<{ k: number }>({
      name: uniq('scaledWgsl'),
      infer: sameShape,
      webgpu: { wgsl: () => '@workgroup_size(8)', workgroupSize: 8, workItems: () => 9, params: (_i, _o, { k }) => [{ type: 'f32', value: k }, { type: 'i32', value: -1 }] },
    });
    const [p] = (getKernel(scaled.opName, 'webgpu') as typeof kernel)([], [], { k: 1.5 });
    expect(p!.meta).toEqual([9, 0, 0x3fc00000, 0xffffffff]);
    expect(p!.workgroups).toBe(2);
  });

  describe('on another backend', () => {
    // A toy backend like the CPU one whose kernels are { run } objects: enough to see that the
    // kernel is picked from the inputs' device at run time.
    interface ToyKernel {
      run: CustomCpuKernel;
    }
    const toy: Backend<TypedArray, ToyKernel> = {
      name: 'toy',
      alloc: (dtype, length) => allocArray(dtype, length),
      free: () => {},
      write: (h, data) => h.set(data),
      read: async (h) => h.slice(),
      readSync: (h) => h,
      run: (kernel, inputs, outputs, attrs) => kernel.run(inputs, outputs, attrs),
    };
    registerBackend(toy);

    it('dispatch picks the kernel of the backend holding the inputs', () => {
      const op = kernelOp({
        name: uniq('perDevice'),
        infer: sameShape,
        cpu: elementwise(() => 1),
        kernels: { toy: { run: elementwise(() => 2) } satisfies ToyKernel },
      });
      expect(values(op(tensor([0, 0])))).toEqual([1, 1]);
      const onToy = op(tensor([0, 0], { device: 'toy' }));
      expect(onToy.device).toBe('toy');
      expect(values(onToy)).toEqual([2, 2]);
    });

    it('an op used on a backend it has no kernel for names the op and the backend', () => {
      expect(() => sqrelu(tensor([1], { device: 'toy' }))).toThrow(
        new DeviceError(`${sqrelu.opName}: no kernel for backend 'toy'; this op has kernels for: cpu, webgpu`),
      );
    });
  });
});
