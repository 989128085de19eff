import {
  add, cast, DeviceError, withoutAutocast, fmt, installAutograd, isFloating, keep, onesLike, scope, shapesEqual, Tensor, TapegradError, ShapeError, zeros,
  type BackwardOptions, type DType, type GradFn, type Shape,
} from '@tapegrad/tensor';

/** What a gradient rule sees: the saved tensors, the attrs, and which inputs need a gradient. */
export interface GradContext<A = any> {
  readonly op: string;
  readonly attrs: A;
  /** Saved inputs (undefined where the rule did not ask to save them). */
  readonly inputs: readonly (Tensor | undefined)[];
  /** Saved outputs (empty unless the rule asked for them). */
  readonly outputs: readonly Tensor[];
  readonly inputShapes: readonly Shape[];
  readonly inputDTypes: readonly DType[];
  /** needsGrad[i]: whether input i needs a gradient; compute only those. */
  readonly needsGrad: readonly boolean[];
}

/**
 * How to differentiate one op. `backward` receives the gradients of the outputs (zeros where
 * an output was unused, made when read) and returns one gradient per input, or null where none
 * is needed.
 * Rules are written with tensor ops, so one rule serves every backend.
 */
export interface GradientRule<A = any> {
  /**
   * Inputs to keep for backward: true for all, or their indices; or a function of the call's
   * attrs and inputs, for ops whose inputs vary per call (custom ops save tensors as extra inputs).
   */
  saveInputs?: boolean | readonly number[] | ((attrs: A, inputs: readonly Tensor[]) => boolean | readonly number[]);
  /** Keep the outputs for backward (e.g. exp, softmax reuse their result). */
  saveOutputs?: boolean;
  /** Map the gradients of the outputs to the gradients of the inputs. */
  backward(ctx: GradContext<A>, grads: Tensor[]): readonly (Tensor | null | undefined)[];
}

const rules = new Map<string, GradientRule>();
/** Register the gradient rule of an op (once per op name). */
export function registerGradient<A = any>(op: string, rule: GradientRule<A>): void {
  if (rules.has(op)) throw new TapegradError(`registerGradient: op '${op}' already has a gradient rule`);
  rules.set(op, rule);
}
/** Whether a gradient rule is registered for `op`. */
export function hasGradient(op: string): boolean {
  return rules.has(op);
}

// ---- grad mode ------------------------------------------------------------------------------
let gradEnabled = true;
function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = enabled;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    gradEnabled = prev;
    throw e;
  }
  if (result instanceof Promise) {
    // async fn: the mode lasts until it settles (do not interleave other graph-building work)
    return result.finally(() => (gradEnabled = prev)) as T;
  }
  gradEnabled = prev;
  return result;
}
/** Run fn without recording ops (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}
/** Run fn with recording on, inside a noGrad region. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}
/** Whether ops are being recorded (false inside noGrad). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

// ---- the tape ------------------------------------------------------------------------------
type Edge = { node: GradNode; index: number } | { leaf: Tensor } | null;

/** A recorded op: where its inputs came from, and what its rule saved. */
export class GradNode implements GradFn {
  readonly edges: Edge[];
  readonly needsGrad: boolean[];
  readonly inputShapes: Shape[];
  readonly inputDTypes: DType[];
  readonly outputShapes: Shape[];
  readonly outputDTypes: DType[];
  private saved: { inputs: (Tensor | undefined)[]; outputs: Tensor[]; inputVersions: number[]; outputVersions: number[] } | undefined;

  constructor(
    readonly op: string,
    readonly attrs: unknown,
    readonly rule: GradientRule | undefined,
    inputs: readonly Tensor[],
    outputs: readonly Tensor[],
  ) {
    this.needsGrad = inputs.map((t) => t.requiresGrad);
    this.edges = inputs.map((t) => (!t.requiresGrad ? null : t.gradFn ? { node: t.gradFn as GradNode, index: t.outputIndex } : { leaf: t }));
    this.inputShapes = inputs.map((t) => t.shape);
    this.inputDTypes = inputs.map((t) => t.dtype);
    this.outputShapes = outputs.map((t) => t.shape);
    this.outputDTypes = outputs.map((t) => t.dtype);
    const si = typeof rule?.saveInputs === 'function' ? rule.saveInputs(attrs, inputs) : rule?.saveInputs;
    const savedInputs = inputs.map((t, i) => (si === true || (Array.isArray(si) && si.includes(i)) ? alias(t) : undefined));
    const savedOutputs = rule?.saveOutputs ? outputs.map(alias) : [];
    this.saved = {
      inputs: savedInputs,
      outputs: savedOutputs,
      inputVersions: savedInputs.map((t) => t?.version ?? 0),
      outputVersions: savedOutputs.map((t) => t.version),
    };
  }
  /** @internal */
  run(grads: Tensor[]): readonly (Tensor | null | undefined)[] {
    if (!this.saved) {
      throw new TapegradError(
        `backward: trying to backward through the graph a second time (op '${this.op}'): its saved tensors were freed by the first backward; pass { retainGraph: true } to the first backward`,
      );
    }
    if (!this.rule) throw new TapegradError(`backward: op '${this.op}' has no gradient rule registered (registerGradient)`);
    const { inputShapes, inputDTypes, needsGrad, op, attrs } = this;
    const inputs = this.checked(this.saved.inputs, this.saved.inputVersions, 'input');
    const outputs = this.checked(this.saved.outputs, this.saved.outputVersions, 'output');
    return this.rule.backward({ op, attrs, inputs, outputs, inputShapes, inputDTypes, needsGrad }, grads);
  }
  /**
   * The saved tensors as the rule sees them: one written in place since it was saved throws when
   * the rule reads it. Checked on read, not up front, because a rule reads only what the
   * gradients it computes need (mul's gradient for a needs only b), as torch saves only those.
   */
  private checked<T extends Tensor | undefined>(saved: T[], versions: readonly number[], kind: string): readonly T[] {
    if (saved.every((t, i) => t === undefined || t.version === versions[i])) return saved;
    const view = saved.slice();
    saved.forEach((t, i) => {
      if (t === undefined || t.version === versions[i]) return;
      const message =
        `backward: ${kind} ${i} of '${this.op}' (${t.dtype} ${fmt(t.shape)}), saved for its gradient, was modified by an in-place operation: ` +
        `it is at version ${t.version}; expected version ${versions[i]}. Use the out-of-place form of the in-place op (y = y.mul(2), not y.mul_(2)), or apply it to a clone`;
      Object.defineProperty(view, i, { get: () => { throw new TapegradError(message); } });
    });
    return view;
  }
  /** Free what the rule saved. */
  release(): void {
    if (!this.saved) return;
    for (const t of this.saved.inputs) t?.dispose();
    for (const t of this.saved.outputs) t.dispose();
    this.saved = undefined;
  }
}

/** Another tensor object on t's storage, tracked by the open scope like any op's output. */
function share(t: Tensor): Tensor {
  return new Tensor(t.storage.retain(), t.shape, t.strides, t.offset, t.dtype);
}

/** A second reference to t's storage that no scope disposes: saved tensors outlive tidy(). */
function alias(t: Tensor): Tensor {
  return new Tensor(t.storage.retain(), t.shape, t.strides, t.offset, t.dtype, false);
}

function record(op: string, inputs: readonly Tensor[], outputs: readonly Tensor[], attrs: unknown): void {
  const node = new GradNode(op, attrs, rules.get(op), inputs, outputs);
  outputs.forEach((o, i) => {
    if (!isFloating(o.dtype)) return;
    o.requiresGrad = true;
    o.gradFn = node;
    o.outputIndex = i;
  });
}

/** Reverse topological order of the nodes that lead to `root` (iterative DFS, no recursion limit). */
function topoOrder(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const seen = new Set<GradNode>([root]);
  const stack: [GradNode, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i < node.edges.length) {
      top[1]++;
      const e = node.edges[i];
      if (e && 'node' in e && !seen.has(e.node)) {
        seen.add(e.node);
        stack.push([e.node, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse();
}

/** Free the saved tensors of every node behind `root` (a graph that will not be differentiated again). */
export function releaseGraph(root: Tensor): void {
  const node = root.gradFn as GradNode | null;
  if (node) for (const n of topoOrder(node)) n.release();
}

/**
 * Add `g` to `leaf.grad`. The grad takes g's storage without a copy only where nothing else can
 * ever see it: g made by this pass (`mine`), contiguous, and the only reference to its storage;
 * otherwise it copies, so an in-place update of one grad never touches another tensor.
 */
function accumulateLeaf(leaf: Tensor, g: Tensor, mine: boolean): void {
  if (leaf.isDisposed) return;
  if (g.device !== leaf.device) {
    throw new DeviceError(
      `backward: the gradient of a leaf of shape ${fmt(leaf.shape)} is on '${g.device}', but the leaf is on '${leaf.device}' (moved, e.g. by Module.to, after this graph was recorded); run the forward again after moving`,
    );
  }
  const own = keep(mine && g.isContiguous() && g.storage.refCount === 1 ? alias(g) : g.clone());
  if (leaf.grad) {
    const sum = keep(add(leaf.grad, own));
    leaf.grad.dispose();
    own.dispose();
    leaf.grad = sum;
  } else {
    leaf.grad = own;
  }
}

function backward(root: Tensor, grad: Tensor | undefined, { retainGraph = false }: BackwardOptions): void {
  if (!root.requiresGrad) {
    throw new TapegradError(`backward: tensor of shape ${fmt(root.shape)} does not require grad and has no gradFn`);
  }
  if (grad === undefined && root.size !== 1) {
    throw new TapegradError(`backward: grad can be implicitly created only for one-element outputs; got shape ${fmt(root.shape)}: pass a gradient of that shape`);
  }
  if (grad !== undefined && !shapesEqual(grad.shape, root.shape)) {
    throw new ShapeError(`backward: grad has shape ${fmt(grad.shape)} but the tensor has shape ${fmt(root.shape)}`);
  }
  // autocast off: the gradient rules run in the dtypes the forward recorded (PyTorch's backward too)
  noGrad(() => withoutAutocast(() => {
    using s = scope();
    const rootNode = root.gradFn as GradNode | null;
    if (!rootNode) return accumulateLeaf(root, grad ?? onesLike(root), grad === undefined);
    // Ownership, the one rule that keeps this pass from freeing what it does not own: every
    // pending gradient is a Tensor object the pass made for its slot (share() of what a rule
    // returned, or a sum), held by that slot alone, so disposing it drops exactly one storage
    // reference. What a rule returns is disposed only when the pass made it (s.tracks), after
    // every slot and leaf has taken its own reference. A rule may return one tensor for several
    // inputs, its own output gradient, a view, a saved or a captured tensor: none of them is
    // ever freed while another object still uses it.
    const pending = new Map<GradNode, (Tensor | undefined)[]>();
    pending.set(rootNode, Object.assign([], { [root.outputIndex]: grad ? share(grad) : onesLike(root) }));
    for (const node of topoOrder(rootNode)) {
      const gs = pending.get(node);
      if (!gs) continue;
      pending.delete(node);
      // An unused output's zero gradient is made when the rule reads it, not before: a rule that
      // never reads it (crossEntropy's, of its saved exps, N·C values) costs no fill of its size.
      const held = node.outputShapes.map((_, i) => gs[i]);
      const outGrads: Tensor[] = [];
      node.outputShapes.forEach((shape, i) =>
        Object.defineProperty(outGrads, i, { enumerable: true, get: () => (held[i] ??= zeros(shape, { dtype: node.outputDTypes[i], device: root.device })) }),
      );
      const inGrads = node.run(outGrads);
      if (inGrads.length !== node.edges.length) {
        throw new TapegradError(`backward: the gradient rule of '${node.op}' returned ${inGrads.length} gradients for ${node.edges.length} inputs`);
      }
      // Spent output grads the rule did not pass on are freed before the edges take theirs: their
      // storage goes back to the pool, and a view the rule made of one (a transposed weight
      // gradient) is then the only holder of its storage, which a leaf keeps without a copy.
      for (const t of held) if (t && !inGrads.includes(t)) t.dispose();
      const made: Tensor[] = [];
      node.edges.forEach((edge, i) => {
        let g = inGrads[i];
        if (!edge || !g) return;
        if (!shapesEqual(g.shape, node.inputShapes[i]!)) {
          throw new ShapeError(`backward: the gradient rule of '${node.op}' returned a gradient of shape ${fmt(g.shape)} for input ${i} of shape ${fmt(node.inputShapes[i]!)}`);
        }
        if (g.dtype !== node.inputDTypes[i]) made.push((g = cast(g, node.inputDTypes[i]!)));
        if ('leaf' in edge) return accumulateLeaf(edge.leaf, g, s.tracks(g));
        const slot = pending.get(edge.node) ?? [];
        const prev = slot[edge.index];
        slot[edge.index] = prev ? add(prev, g) : share(g);
        prev?.dispose();
        pending.set(edge.node, slot);
      });
      for (const t of held) t?.dispose();
      for (const t of inGrads) if (t && s.tracks(t)) t.dispose();
      for (const t of made) t.dispose();
      if (!retainGraph) node.release();
    }
  }));
}

installAutograd({ isGradEnabled, record, backward });
