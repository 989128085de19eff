import { customOp, type FunctionCtx } from '@tapegrad/autograd';
import { autocastActive, autocastOp,
  add, cat, defineOp, DeviceError, dispatch, div, DTypeError, fmt, full, hasKernel, isFloating, isTensor, linearCrossEntropyWorkspace, matmul,
  mul, narrow, reshape, run, ShapeError, shapesEqual, sum, TapegradError, tidy, transpose, ValueError,
  type ClassLossAttrs, type LinearCrossEntropyAttrs, type OutputSpec, type Tensor,
} from '@tapegrad/tensor';
import { checkIgnoreIndex, checkLabelSmoothing } from './class-targets.js';
import { crossEntropyBackwardOp, crossEntropyOp, type CrossEntropyOptions } from './cross-entropy.js';
import { checkReduction } from './reduction.js';

// issue 16 (optim): linearCrossEntropy(h, W, target) = crossEntropy(h·Wᵀ + b, target) for large
// vocabularies, computed `chunk` rows at a time so the (N, V) logits never exist whole.
//
// It is one node on the tape (a customOp, so its gradient rule is the backward below). Where the
// device has the kernels (the CPU: @tapegrad/backend-cpu's kernels/cross-entropy.ts, over its
// matrix product and crossEntropy's row passes), linearCrossEntropyForward runs the chunks and,
// when the loss is reduced and a gradient will be needed, also computes the gradients (upstream
// 1): backward only scales them by the upstream scalar, and training does three products, as
// the unfused pair does. Otherwise (reduction 'none', whose upstream differs per row)
// linearCrossEntropyBackward recomputes the logits. Elsewhere (WebGPU) the same chunks are a
// composite of ops that device has (matmul, crossEntropy, crossEntropyBackward): a kernel of its
// own would make those dispatches, and the memory goes away by chunking either way.

/** Options of {@link linearCrossEntropy}: crossEntropy's, the projection's bias and the chunk size. */
export interface LinearCrossEntropyOptions extends CrossEntropyOptions {
  /** The projection's bias, shape (V). */
  bias?: Tensor | null;
  /**
   * Rows of logits computed at a time: the memory the op needs is chunkSize·V values. Default:
   * about 32 MB of float32 logits (2^23 / V rows), and at least 2·D rows, so that adding up the
   * weight gradient's chunks costs little next to their products.
   */
  chunkSize?: number;
}

const OP = 'linearCrossEntropy';
type Attrs = LinearCrossEntropyAttrs;
const NONE: Attrs['grads'] = [false, false, false];

/** dh (N, D), dW (V, D), db (V): the gradients `a.grads` asks for. */
function gradSpecs(h: Tensor, W: Tensor, a: Attrs): OutputSpec[] {
  const shapes = [h.shape, W.shape, [W.shape[0]!]];
  return shapes.filter((_, i) => a.grads[i]).map((shape) => ({ shape, dtype: h.dtype }));
}
function workspace(h: Tensor, W: Tensor, a: Attrs): OutputSpec {
  return { shape: [linearCrossEntropyWorkspace(h.shape[0]!, h.shape[1]!, W.shape[0]!, a).size], dtype: h.dtype };
}
// the ops are linearCrossEntropy's own: it checks the user's arguments, so these only guard their form
function checkForm(op: string, h: Tensor, W: Tensor, target: Tensor): void {
  if (h.ndim !== 2 || W.ndim !== 2 || W.shape[1] !== h.shape[1] || target.size !== h.shape[0]) {
    throw new ShapeError(`${op}: expected h [N, D], W [V, D] and N targets; got ${fmt(h.shape)}, ${fmt(W.shape)} and ${fmt(target.shape)} (call linearCrossEntropy)`);
  }
}

// inputs [h (N, D), W (V, D), target (N elements), bias?, weight?]; outputs [loss, stats (N, 2):
// each row's max and log Σ exp, totalWeight, workspace, then dh, dW, db as attrs.grads asks]
defineOp<Attrs>({
  name: 'linearCrossEntropyForward',
  differentiable: false,
  infer: ([h, W, target], a) => {
    checkForm('linearCrossEntropyForward', h!, W!, target!);
    return [
      { shape: a.reduction === 'none' ? target!.shape : [], dtype: h!.dtype },
      { shape: [h!.shape[0]!, 2], dtype: h!.dtype },
      { shape: [], dtype: h!.dtype },
      workspace(h!, W!, a),
      ...gradSpecs(h!, W!, a),
    ];
  },
});
// inputs [h, W, target, stats, totalWeight, upstream, bias?, weight?]; outputs [workspace, dh?, dW?, db?]
defineOp<Attrs>({
  name: 'linearCrossEntropyBackward',
  differentiable: false,
  infer: ([h, W, target], a) => {
    checkForm('linearCrossEntropyBackward', h!, W!, target!);
    return [workspace(h!, W!, a), ...gradSpecs(h!, W!, a)];
  },
});

const optional = (bias: Tensor | undefined, weight: Tensor | undefined) => [...(bias ? [bias] : []), ...(weight ? [weight] : [])];

/** [loss, stats, totalWeight, ...the gradients a.grads asks for (kernel devices only)]. */
function forwardPass(h: Tensor, W: Tensor, target: Tensor, bias: Tensor | undefined, weight: Tensor | undefined, a: Attrs): Tensor[] {
  if (hasKernel('linearCrossEntropyForward', h.device)) {
    const [loss, stats, total, ws, ...grads] = dispatch('linearCrossEntropyForward', [h, W, target, ...optional(bias, weight)], a);
    ws!.dispose();
    return [loss!, stats!, total!, ...grads];
  }
  return forwardChunks(h, W, target, bias, weight, a);
}
/** [dh, dW, db], null where a.grads asks for none. */
function backwardPass(h: Tensor, W: Tensor, target: Tensor, stats: Tensor, total: Tensor, g: Tensor, bias: Tensor | undefined, weight: Tensor | undefined, a: Attrs): (Tensor | null)[] {
  if (hasKernel('linearCrossEntropyBackward', h.device)) {
    const [ws, ...grads] = dispatch('linearCrossEntropyBackward', [h, W, target, stats, total, g, ...optional(bias, weight)], a);
    ws!.dispose();
    return a.grads.map((wanted) => (wanted ? grads.shift()! : null));
  }
  return backwardChunks(h, W, target, stats, total, g, bias, weight, a);
}

// ---- the composite, for devices without the kernels: the same chunks, as ops
const chunkLogits = (h: Tensor, W: Tensor, bias: Tensor | undefined, r0: number, rows: number) => {
  const y = matmul(narrow(h, 0, r0, rows), transpose(W, 0, 1));
  return bias ? add(y, bias) : y;
};
const chunkAttrs = (a: Attrs, target: Tensor, r0: number, reduction = a.reduction): ClassLossAttrs => ({
  reduction, ignoreIndex: a.ignoreIndex, labelSmoothing: a.labelSmoothing, report: { op: OP, offset: r0, shape: target.shape },
});
function* chunks(N: number, chunk: number): Generator<[number, number]> {
  for (let r0 = 0; r0 < N; r0 += chunk) yield [r0, Math.min(chunk, N - r0)];
}

function forwardChunks(h: Tensor, W: Tensor, target: Tensor, bias: Tensor | undefined, weight: Tensor | undefined, a: Attrs): Tensor[] {
  const N = h.shape[0]!;
  const flat = reshape(target, [N]);
  const none = a.reduction === 'none';
  const opts = { dtype: h.dtype, device: h.device };
  const losses: Tensor[] = [];
  const stats: Tensor[] = [];
  let lossSum = full([], 0, opts);
  let total = full([], 0, opts);
  for (const [r0, rows] of chunks(N, a.chunk)) {
    const [l, st, t] = tidy(() =>
      dispatch(crossEntropyOp.name, [chunkLogits(h, W, bias, r0, rows), narrow(flat, 0, r0, rows), ...optional(undefined, weight)], chunkAttrs(a, target, r0, none ? 'none' : 'sum')),
    );
    stats.push(st!);
    total = add(total, t!);
    if (none) losses.push(l!);
    else lossSum = add(lossSum, l!);
  }
  const loss = none ? reshape(N ? cat(losses) : full([0], 0, opts), target.shape) : a.reduction === 'mean' ? div(lossSum, total) : lossSum;
  return [loss, N ? cat(stats) : full([0, 2], 0, opts), total];
}

function backwardChunks(h: Tensor, W: Tensor, target: Tensor, stats: Tensor, total: Tensor, g: Tensor, bias: Tensor | undefined, weight: Tensor | undefined, a: Attrs): (Tensor | null)[] {
  const N = h.shape[0]!;
  const flat = reshape(target, [N]);
  const up = a.reduction === 'none' ? reshape(g, [N]) : g;
  const dh: Tensor[] = [];
  const dW = a.grads[1] ? full(W.shape, 0, { dtype: h.dtype, device: h.device }) : null;
  const db = a.grads[2] ? full([W.shape[0]!], 0, { dtype: h.dtype, device: h.device }) : null;
  for (const [r0, rows] of chunks(N, a.chunk)) {
    const parts = tidy(() => {
      const upstream = a.reduction === 'none' ? narrow(up, 0, r0, rows) : up;
      const inputs = [chunkLogits(h, W, bias, r0, rows), narrow(flat, 0, r0, rows), narrow(stats, 0, r0, rows), total, upstream, ...optional(undefined, weight)];
      const G = run(crossEntropyBackwardOp.name, inputs, chunkAttrs(a, target, r0));
      return [a.grads[0] ? matmul(G, W) : null, a.grads[1] ? matmul(transpose(G, 0, 1), narrow(h, 0, r0, rows)) : null, a.grads[2] ? sum(G, [0]) : null];
    });
    if (parts[0]) dh.push(parts[0]);
    // in place, so the chunks' terms are freed as they are added (this runs in backward's scope, which frees only at its end)
    for (const [sumSoFar, term] of [[dW, parts[1]], [db, parts[2]]] as const) {
      if (!term) continue;
      sumSoFar!.add_(term);
      term.dispose();
    }
  }
  return [a.grads[0] ? (N ? cat(dh) : full(h.shape, 0, { dtype: h.dtype, device: h.device })) : null, dW, db];
}

// ---- the node on the tape
const fused = customOp({
  name: OP,
  forward(ctx: FunctionCtx, h: Tensor, W: Tensor, target: Tensor, bias: Tensor | undefined, weight: Tensor | undefined, a: Attrs): Tensor {
    const need = ctx.needsInputGrad;
    const wanted: Attrs['grads'] = [need[0]!, need[1]!, need[3]!];
    const precompute = a.reduction !== 'none' && wanted.some(Boolean) && hasKernel('linearCrossEntropyForward', h.device);
    const [loss, stats, total, ...grads] = forwardPass(h, W, target, bias, weight, { ...a, grads: precompute ? wanted : NONE });
    Object.assign(ctx.state, { grads: wanted, precomputed: precompute, attrs: a });
    if (precompute) ctx.saveForBackward(...grads);
    else if (wanted.some(Boolean)) ctx.saveForBackward(h, W, target, stats!, total!, ...optional(bias, weight));
    return loss!;
  },
  backward(ctx: FunctionCtx, g: Tensor) {
    if (ctx.needsInputGrad[4]) throw new TapegradError(`${OP}: gradients with respect to weight (the class weights) are not supported (as in PyTorch's cross_entropy); detach it`);
    const wanted = ctx.state.grads as Attrs['grads'];
    let grads: (Tensor | null)[];
    if (ctx.state.precomputed) {
      const saved = [...ctx.savedTensors];
      grads = wanted.map((w) => (w ? mul(saved.shift()!, g) : null));
    } else {
      const [h, W, target, stats, total, ...rest] = ctx.savedTensors as Tensor[];
      const a = ctx.state.attrs as Attrs;
      grads = backwardPass(h!, W!, target!, stats!, total!, g, a.bias ? rest[0] : undefined, a.weight ? rest[a.bias ? 1 : 0] : undefined, { ...a, grads: wanted });
    }
    return [grads[0], grads[1], null, grads[2], null, null];
  },
});

/** The default rows per chunk: about 2^23 logits (32 MB of float32), at least 2·D rows, a multiple of 8. */
function defaultChunk(D: number, V: number): number {
  const rows = V > 0 ? Math.max(Math.ceil(2 ** 23 / V), 2 * D) : 2 * D;
  return Math.max(8, Math.ceil(rows / 8) * 8);
}

/**
 * Cross-entropy of the logits `h·Wᵀ + bias` against class-index `target`, computed without the
 * (N, V) logits ever existing whole: equal to `crossEntropy(linear(h, W, bias), target, options)`
 * within float rounding, with every crossEntropy option (`weight`, `ignoreIndex`, `reduction`,
 * `labelSmoothing`), forward and backward (gradients for h, W and bias). For language models
 * with large vocabularies, where the logits and their gradient are the largest tensors of a
 * step (N = 4096 tokens over V = 128,000 classes: 2 GB each in float32); see docs/losses.md.
 *
 * - h: [..., D] floating; W: [V, D] (a Linear's weight); target: int32 of h's shape without the
 *   last dim; 'none' gives a loss of the target's shape.
 * - The memory it needs is about `chunkSize`·V values at a time (the default keeps that near 32 MB).
 * - With grad mode on and a reduced loss, the forward computes the gradients too (the backward
 *   then only scales them), so evaluate under `noGrad()` to save that work.
 *
 * Bad input throws as crossEntropy's does (a target outside [0, V) that is not ignoreIndex is an
 * IndexError naming its position), and a ShapeError/DTypeError for mismatched h, W, bias or weight.
 */
export function linearCrossEntropy(h: Tensor, W: Tensor, target: Tensor, options: LinearCrossEntropyOptions = {}): Tensor {
  if (autocastActive()) return autocastOp('linearCrossEntropy', [h, W, target], ([x, w, t]) => linearCrossEntropy(x, w, t, options));
  const reduction = checkReduction(OP, options.reduction ?? 'mean');
  const ignoreIndex = checkIgnoreIndex(OP, options.ignoreIndex ?? -100);
  const labelSmoothing = checkLabelSmoothing(OP, options.labelSmoothing ?? 0);
  const bias = options.bias ?? undefined;
  const { weight } = options;
  for (const [name, t] of Object.entries({ input: h, weight: W, target, bias, 'class weight': weight })) {
    if (t !== undefined && !isTensor(t)) throw new ValueError(`${OP}: ${name} must be a Tensor; got ${typeof t}`);
    if (t && t.device !== h.device) throw new DeviceError(`${OP}: expected all tensors on one device, but the input is on '${h.device}' and the ${name} on '${t.device}'`);
  }
  if (!isFloating(h.dtype)) throw new DTypeError(`${OP}: input must be floating point; got a ${h.dtype} input of shape ${fmt(h.shape)}`);
  if (h.ndim === 0) throw new ShapeError(`${OP}: input must have shape [..., D] (rows of D features); got a 0-d input`);
  const D = h.shape[h.ndim - 1]!;
  const rows = h.shape.slice(0, -1);
  if (W.ndim !== 2 || W.shape[1] !== D) {
    throw new ShapeError(`${OP}: weight must have shape [V, ${D}] (a Linear's weight from the input's ${D} features to V classes); got ${fmt(W.shape)} for input ${fmt(h.shape)}`);
  }
  const V = W.shape[0]!;
  for (const [name, t] of Object.entries({ weight: W, bias, 'class weight': weight })) {
    if (t && t.dtype !== h.dtype) throw new DTypeError(`${OP}: ${name} must have the input's dtype ${h.dtype}; got ${t.dtype}`);
  }
  for (const [name, t] of Object.entries({ bias, 'class weight': weight })) {
    if (t && !shapesEqual(t.shape, [V])) throw new ShapeError(`${OP}: ${name} must have shape [${V}] (one per class of weight ${fmt(W.shape)}); got ${fmt(t.shape)}`);
  }
  if (target.dtype !== 'int32') {
    throw new DTypeError(`${OP}: target must be int32 class indices; got a ${target.dtype} target of shape ${fmt(target.shape)} (for class probabilities, compute the logits and use crossEntropy)`);
  }
  if (!shapesEqual(target.shape, rows)) {
    throw new ShapeError(`${OP}: target must have the input's shape without its last dim, ${fmt(rows)} (input ${fmt(h.shape)}); got ${fmt(target.shape)}`);
  }
  const chunk = options.chunkSize ?? defaultChunk(D, V);
  if (!Number.isInteger(chunk) || chunk < 1) throw new ValueError(`${OP}: chunkSize must be a positive integer; got ${chunk}`);
  const a: Attrs = { reduction, ignoreIndex, labelSmoothing, bias: !!bias, weight: !!weight, chunk, grads: NONE };
  const h2 = h.ndim === 2 ? h : reshape(h, [-1, D]);
  return fused(h2, W, target, bias, weight, a);
}
