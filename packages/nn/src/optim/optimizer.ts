import { DTypeError, DeviceError, ShapeError, TapegradError, ValueError, checkDeviceErrors, getBackend, guardValue, isTensor, keep, shapesEqual, fmt, tidy, type Tensor } from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';
import { fusedSteps, type FusedUpdate } from './fused.js';

/** Per-parameter optimizer state: buffers (tensors the optimizer owns) and counters. */
export type ParamState = Record<string, Tensor | number>;
/** A parameter group: its parameters with the hyperparameters they use (defaults filled in). */
export type ParamGroup<H> = H & { params: Tensor[] };
/** An optimizer's parameters: a list, or groups of them with their own hyperparameters. */
export type Params<H> = Tensor[] | (Partial<H> & { params: Tensor[] })[];

/** What Optimizer.stateDict() returns and loadStateDict() takes (torch's optimizer state_dict). */
export interface OptimizerStateDict<H> {
  /** State by parameter index (the order of the parameters across all groups). */
  state: Record<number, ParamState>;
  /** Each group's hyperparameters, with its parameters as indices. */
  paramGroups: (H & { params: number[] })[];
}

/**
 * The optimizer base: parameter groups with hyperparameters (which schedulers change), state
 * per parameter, zeroGrad, and a step() that runs each group's update under noGrad, in place.
 */
export abstract class Optimizer<H extends { lr: number }> {
  /** The groups, each with its parameters and its hyperparameters (a scheduler changes their lr). */
  readonly paramGroups: ParamGroup<H>[];
  /** Each parameter's state (momentum buffers, step counts), created at its first update. */
  readonly state = new Map<Tensor, ParamState>();

  /**
   * @param params - The parameters to optimize (leaf tensors, each in one group; those that require no grad are skipped), or
   * groups of them with their own hyperparameters; an empty or bad list throws a ValueError.
   * @param defaults - The hyperparameters of a group that does not set its own.
   */
  constructor(params: Params<H>, readonly defaults: H) {
    const groups = params.length && !isTensor(params[0]) ? (params as (Partial<H> & { params: Tensor[] })[]) : [{ params: params as Tensor[] }];
    if (!groups.length || groups.every((g) => !g.params.length)) throw new ValueError(`${this.constructor.name}: got an empty parameter list`);
    const seen = new Set<Tensor>();
    this.paramGroups = groups.map((g) => {
      for (const p of g.params) {
        // a leaf that requires no grad (a frozen layer) is accepted: its grad stays null, so step() skips it, as in PyTorch
        if (!isTensor(p) || !p.isLeaf) throw new ValueError(`${this.constructor.name}: can only optimize leaf tensors (parameters), not the output of an op`);
        if (seen.has(p)) throw new ValueError(`${this.constructor.name}: a parameter appears in more than one group`);
        seen.add(p);
      }
      const group = { ...defaults, ...g, params: g.params.slice() } as ParamGroup<H>;
      this.validate(group);
      return group;
    });
  }
  /** Throw a ValueError naming a bad hyperparameter. */
  protected abstract validate(group: ParamGroup<H>): void;
  /**
   * Update one parameter in place (called under noGrad and tidy; keep() new state buffers), or
   * return its fused update: step() runs those of all parameters together, as one foreach kernel
   * call per op, device and dtype (SGD's and Adam's).
   */
  protected abstract update(p: Tensor, grad: Tensor, group: ParamGroup<H>, state: ParamState): FusedUpdate | void;
  /**
   * The JavaScript values one parameter's update bakes into a compiled training step (`compile`),
   * which traces again when one changes: by default every hyperparameter of the group and every
   * number in the state, read before the update, so a count the update advances re-traces rather
   * than replaying a stale one. SGD and Adam bake less: their fused kernels read the
   * hyperparameters and step count again at each replay.
   */
  protected traceKey(group: ParamGroup<H>, state: ParamState): unknown[] {
    const { params: _, ...hyper } = group;
    return [...Object.values(hyper), ...Object.values(state).filter((v) => !isTensor(v))];
  }

  /**
   * One optimization step over every parameter that has a gradient. Everything is checked before
   * any parameter changes: a disposed parameter, or a gradient on another device or of another
   * shape or dtype than its parameter, throws, naming the parameter by its index across the
   * groups (as {@link Optimizer.stateDict} numbers them). State left on another device by
   * `model.to()` moves to its parameter's device. An error a device found while computing a parameter
   * or its gradient (on WebGPU, a class target or an index out of range is found after the op has
   * returned) throws too, once it is known.
   */
  step(): void {
    const work = this.stepWork();
    noGrad(() => {
      const fused: FusedUpdate[] = [];
      for (const [p, group, state] of work) {
        this.state.set(p, state);
        guardValue(() => this.traceKey(group, state), `${this.constructor.name}'s hyperparameters and state`);
        tidy(() => {
          const f = this.update(p, p.grad!, group, state);
          if (f) fused.push(f);
        });
      }
      tidy(() => fusedSteps(fused));
    });
  }
  // The parameters step() updates, with their groups and state, once all of them are checked.
  private stepWork(): [Tensor, ParamGroup<H>, ParamState][] {
    const work: [Tensor, ParamGroup<H>, ParamState][] = [];
    let index = 0;
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const what = `${this.constructor.name}.step: parameter ${index++} (shape ${fmt(p.shape)})`;
        if (p.isDisposed) throw new TapegradError(`${what} was disposed; an optimizer needs its parameters alive (make it for the model's current parameters)`);
        const g = p.grad;
        if (!g) continue;
        if (g.isDisposed) throw new TapegradError(`${what}: its gradient was disposed but is still set; set \`p.grad = null\` to skip the parameter`);
        if (g.device !== p.device) throw new DeviceError(`${what}: its gradient is on '${g.device}', but the parameter is on '${p.device}'`);
        if (!shapesEqual(g.shape, p.shape)) throw new ShapeError(`${what}: its gradient has shape ${fmt(g.shape)}; expected the parameter's shape`);
        if (g.dtype !== p.dtype) throw new DTypeError(`${what}: its gradient is ${g.dtype}, but the parameter is ${p.dtype}`);
        const state = this.state.get(p) ?? {};
        for (const [key, v] of Object.entries(state)) {
          if (!isTensor(v) || v.device === p.device) continue;
          if (!getBackend(v.device).readSync) {
            throw new DeviceError(`${what}: its state '${key}' is on '${v.device}', but the parameter is now on '${p.device}', and moving the state off '${v.device}' needs an asynchronous read; make the optimizer after moving the model`);
          }
        }
        work.push([p, group, state]);
      }
    }
    // a GPU finds bad input (a class target out of range) after the op returns: refuse tensors already known to be bad
    checkDeviceErrors(work.flatMap(([p]) => [p, p.grad!]));
    // every check passed: the state follows its parameter, under the same tensor objects
    noGrad(() => {
      for (const [p, , state] of work) for (const v of Object.values(state)) if (isTensor(v) && v.device !== p.device) v.adoptStorage(v.to(p.device));
    });
    return work;
  }
  /** Drop (dispose) the gradients of every parameter, as PyTorch's zero_grad(set_to_none=True). */
  zeroGrad(): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  // issue 17: an optimizer given up (a page that trains model after model) frees its state's memory now
  /** Dispose the state (momentum buffers, moments) of every parameter, which a later step would start afresh; the parameters are the model's. */
  dispose(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (isTensor(v)) v.dispose();
    this.state.clear();
  }

  /** The state (live tensors: do not dispose them) and the hyperparameters, with parameters by index. */
  stateDict(): OptimizerStateDict<H> {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...hyper } = g;
      return { ...structuredClone(hyper), params: params.map((p) => index.set(p, index.size).get(p)!) } as unknown as H & { params: number[] };
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) state[index.get(p)!] = { ...s };
    return { state, paramGroups };
  }
  /** Restore state and hyperparameters saved by stateDict() from an optimizer over parameters of the same shapes. */
  loadStateDict(sd: OptimizerStateDict<H>): void {
    const name = this.constructor.name;
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new ValueError(`${name}.loadStateDict: the state dict has ${sd.paramGroups.length} parameter groups; this optimizer has ${this.paramGroups.length}`);
    }
    this.paramGroups.forEach((g, i) => {
      if (sd.paramGroups[i]!.params.length !== g.params.length) {
        throw new ValueError(`${name}.loadStateDict: group ${i} has ${sd.paramGroups[i]!.params.length} parameters in the state dict and ${g.params.length} here`);
      }
    });
    const byIndex = new Map<number, Tensor>();
    sd.paramGroups.forEach((g, i) => g.params.forEach((idx, j) => byIndex.set(idx, this.paramGroups[i]!.params[j]!)));
    for (const [k, s] of Object.entries(sd.state)) {
      const p = byIndex.get(Number(k));
      if (!p) throw new ValueError(`${name}.loadStateDict: state for parameter ${k}, which no group lists`);
      for (const [key, v] of Object.entries(s)) {
        if (isTensor(v) && key !== 'step' && !shapesEqual(v.shape, p.shape)) {
          throw new ValueError(`${name}.loadStateDict: state '${key}' of parameter ${k} has shape ${fmt(v.shape)}, but the parameter has ${fmt(p.shape)}`);
        }
      }
    }
    // copies first: the state dict may hold this optimizer's own state (opt.loadStateDict(opt.stateDict()))
    const loaded = Object.entries(sd.state).map(([k, s]) => {
      const p = byIndex.get(Number(k))!;
      const copy: ParamState = {};
      for (const [key, v] of Object.entries(s)) copy[key] = isTensor(v) ? keep(tidy(() => noGrad(() => v.detach().to(p.device).cast(p.dtype).clone()))) : v;
      return [p, copy] as const;
    });
    for (const s of this.state.values()) for (const v of Object.values(s)) if (isTensor(v)) v.dispose();
    this.state.clear();
    for (const [p, copy] of loaded) this.state.set(p, copy);
    sd.paramGroups.forEach((g, i) => {
      const { params: _, ...hyper } = g;
      Object.assign(this.paramGroups[i]!, structuredClone(hyper));
    });
  }
}

/**
 * Throw a ValueError naming the optimizer and hyperparameter unless `ok(v)`: what the built-in
 * optimizers' `validate` uses, for subclasses of {@link Optimizer} to do the same.
 * @param cls - The optimizer's name, as the message starts ('SGD').
 * @param name - The hyperparameter's name ('lr').
 * @param v - Its value.
 * @param ok - Whether a value is acceptable.
 * @param what - What is expected, for the message ('a number >= 0').
 */
export function checkHyper(cls: string, name: string, v: number, ok: (v: number) => boolean, what: string): void {
  if (typeof v !== 'number' || !ok(v)) throw new ValueError(`${cls}: ${name} must be ${what}; got ${v}`);
}
