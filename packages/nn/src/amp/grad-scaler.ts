import { DTypeError, DeviceError, TapegradError, ValueError, fmt, getBackend, guardValue, isFloating, isTensor, keep, mul, stack, tidy, type Tensor } from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';
import type { Optimizer } from '../optim/optimizer.js';

/** Options of {@link GradScaler}, with torch.cuda.amp.GradScaler's defaults. */
export interface GradScalerOptions {
  /** The scale before any update (default 2**16). */
  initScale?: number;
  /** What update() multiplies the scale by after growthInterval steps in a row without an inf or NaN (default 2; must be > 1). */
  growthFactor?: number;
  /** What update() multiplies the scale by after a step that found an inf or NaN (default 0.5; must be in (0, 1)). */
  backoffFactor?: number;
  /** How many steps in a row without an inf or NaN grow the scale (default 2000). */
  growthInterval?: number;
  /** false makes scale() return its input, step() call the optimizer's step() and the rest do nothing (default true). */
  enabled?: boolean;
}

/**
 * What {@link GradScaler.stateDict} returns, with PyTorch's keys, so a checkpoint reads the same
 * in both; plain numbers (fit for `JSON.stringify`).
 */
export interface GradScalerStateDict {
  /** The scale (a float32 value). */
  scale: number;
  /** {@link GradScalerOptions.growthFactor}. */
  growth_factor: number;
  /** {@link GradScalerOptions.backoffFactor}. */
  backoff_factor: number;
  /** {@link GradScalerOptions.growthInterval}. */
  growth_interval: number;
  /** Steps without an inf or NaN since the scale last changed. */
  _growth_tracker: number;
}

// What an optimizer has done since the last update() (PyTorch's OptState; absent means READY).
interface OptimizerStage {
  stage: 'unscaled' | 'stepped';
  /** One 0-d bool per device the gradients are on, true where every gradient there is finite; kept until read. */
  checks: Tensor[];
  /** How many devices found an inf or NaN, once the checks are read. */
  found?: number;
}

// every optimizer (SGD, Adam, a subclass of Optimizer) is one of these, and so is a union of them
type AnyOptimizer = Optimizer<{ lr: number }>;

/**
 * Dynamic loss scaling (torch.cuda.amp.GradScaler): multiply the loss by a large scale so small
 * gradients keep their digits, divide the gradients by it before the optimizer uses them, skip
 * the step when they overflowed to inf or NaN, and adjust the scale: smaller after an overflow,
 * larger after `growthInterval` clean steps.
 *
 * ```
 * scaler.scale(loss).backward();
 * scaler.unscale_(opt);            // optional: to clip or inspect the real gradients
 * scaler.step(opt);                // or `await scaler.stepAsync(opt)` on WebGPU
 * scaler.update();
 * ```
 *
 * The scale is a JavaScript number rounded to float32 as PyTorch's float32 scale tensor is, and
 * it is updated on the host: the inf check is a reduction on the gradients' device, and the one
 * value per device that step() must read to decide whether to skip is the only read per step.
 * step() reads it synchronously (the CPU); on a device that reads only asynchronously (WebGPU)
 * use stepAsync(). getScale() and stateDict() read nothing.
 */
export class GradScaler {
  #enabled: boolean;
  #initScale: number;
  #growthFactor: number;
  #backoffFactor: number;
  #growthInterval: number;
  #initGrowthTracker = 0;
  // null until the first scale(), as PyTorch creates its scale tensor there: unscale_, step and
  // update before it are the mistake of a script that forgot to scale the loss
  #scale: number | null = null;
  #growthTracker: number | null = null;
  #stages = new Map<AnyOptimizer, OptimizerStage>();

  /** @param options - Initial scale, growth and backoff, or `enabled: false` to turn scaling off. */
  constructor(options: GradScalerOptions = {}) {
    const { initScale = 2 ** 16, growthFactor = 2, backoffFactor = 0.5, growthInterval = 2000, enabled = true } = options;
    this.#enabled = enabled;
    this.#initScale = checkScale('GradScaler', 'initScale', initScale);
    this.#growthFactor = checkGrowth('GradScaler', growthFactor);
    this.#backoffFactor = checkBackoff('GradScaler', backoffFactor);
    this.#growthInterval = checkInterval('GradScaler', growthInterval);
  }

  /**
   * Multiply a loss (or each of several outputs) by the scale; differentiable, so `backward()` on
   * the result gives gradients times the scale. When disabled, returns `outputs` itself.
   */
  scale(outputs: Tensor): Tensor;
  scale(outputs: readonly Tensor[]): Tensor[];
  scale(outputs: Tensor | readonly Tensor[]): Tensor | Tensor[] {
    if (!this.#enabled) return outputs as Tensor | Tensor[];
    const list = isTensor(outputs) ? [outputs] : Array.isArray(outputs) ? outputs : null;
    if (!list || !list.every(isTensor)) throw new ValueError('GradScaler.scale: outputs must be a Tensor or an iterable of Tensors');
    this.#scale ??= Math.fround(this.#initScale);
    this.#growthTracker ??= this.#initGrowthTracker;
    // a compiled step bakes the number into its trace: trace again when update() changes it
    guardValue(() => this.#scale, 'GradScaler scale');
    const scaled = list.map((t) => mul(t, this.#scale!));
    return isTensor(outputs) ? scaled[0]! : scaled;
  }

  /**
   * Divide the optimizer's gradients by the scale, in place, and check them for inf and NaN on
   * their device (nothing is read back). Optional: step() does it when it was not done; call it
   * to clip or inspect the real gradients between backward() and step(). Once per optimizer
   * between update()s.
   */
  unscale_(optimizer: AnyOptimizer): void {
    if (!this.#enabled) return;
    this.#checkScaled('unscale_');
    const stage = this.#stages.get(optimizer)?.stage;
    if (stage === 'unscaled') throw new TapegradError('GradScaler.unscale_: unscale_() has already been called on this optimizer since the last update().');
    if (stage === 'stepped') throw new TapegradError('GradScaler.unscale_: unscale_() is being called after step().');
    const byDevice = new Map<string, Tensor[]>();
    let index = 0;
    for (const group of optimizer.paramGroups) {
      for (const p of group.params) {
        const g = p.grad;
        const what = `GradScaler.unscale_: parameter ${index++} (shape ${fmt(p.shape)})`;
        if (!g) continue;
        if (g.isDisposed) throw new TapegradError(`${what}: its gradient was disposed but is still set; set \`p.grad = null\` to skip the parameter`);
        if (!isFloating(g.dtype)) throw new DTypeError(`${what}: its gradient is ${g.dtype}; only floating-point gradients (float32, float64) can be unscaled`);
        if (!byDevice.has(g.device)) byDevice.set(g.device, []);
        byDevice.get(g.device)!.push(g);
      }
    }
    // FP32 division can be imprecise, so PyTorch takes the reciprocal in float64 and rounds it to float32
    const inv = Math.fround(1 / this.#scale!);
    const checks = noGrad(() =>
      [...byDevice.values()].map((grads) =>
        keep(
          tidy(() => {
            // checked before unscaling, as PyTorch's kernel does: a finite gradient that 1/scale > 1 pushes to inf still steps
            const finite = stack(grads.map((g) => g.isfinite().all())).all();
            if (inv !== 1) for (const g of grads) g.mul_(inv);
            return finite;
          }),
        ),
      ),
    );
    this.#stages.set(optimizer, { stage: 'unscaled', checks });
  }

  /**
   * Unscale the gradients (unless unscale_ did), read the inf check, and call `optimizer.step()`
   * unless a gradient had an inf or NaN; the skipped step leaves the parameters and the
   * optimizer's state as they were. Once per optimizer between update()s. The check is read
   * synchronously: a DeviceError on a device that cannot (WebGPU) says to use stepAsync.
   * Returns what `optimizer.step()` returns (nothing), as PyTorch.
   */
  step(optimizer: AnyOptimizer): void {
    if (!this.#enabled) return optimizer.step();
    const s = this.#beginStep(optimizer, 'step');
    s.found ??= this.#readSync(s, 'step', 'step(optimizer)', 'await scaler.stepAsync(optimizer)');
    this.#finishStep(optimizer, s);
  }

  /**
   * {@link GradScaler.step} for any device: the inf check is read with `await`, one value per
   * device the gradients are on. Use it on WebGPU.
   */
  async stepAsync(optimizer: AnyOptimizer): Promise<void> {
    if (!this.#enabled) return optimizer.step();
    const s = this.#beginStep(optimizer, 'stepAsync');
    // marked stepped before the await, so a second stepAsync started meanwhile is refused rather than stepping twice
    s.stage = 'stepped';
    if (s.found === undefined) {
      const values = await Promise.all(s.checks.map((c) => c.item()));
      s.found = values.filter((v) => !v).length;
      for (const c of s.checks) c.dispose();
    }
    this.#finishStep(optimizer, s);
  }

  /**
   * Adjust the scale for the next iteration, after every optimizer of this one was stepped: times
   * backoffFactor if any step found an inf or NaN (and the count of clean steps restarts), times
   * growthFactor after growthInterval clean steps in a row (unless that would overflow float32).
   * `newScale` sets the scale instead (the count of clean steps stays).
   */
  update(newScale?: number): void {
    if (!this.#enabled) return;
    this.#checkScaled('update');
    if (newScale !== undefined) {
      this.#scale = Math.fround(checkScale('GradScaler.update', 'newScale', newScale));
    } else {
      const stages = [...this.#stages.values()];
      let checks = 0;
      let found = 0;
      for (const s of stages) {
        checks += s.checks.length;
        if (s.stage === 'stepped' && s.found === undefined) throw new TapegradError('GradScaler.update: a stepAsync(optimizer) has not finished; await it before update()');
        s.found ??= this.#readSync(s, 'update', 'update()', 'await scaler.stepAsync(optimizer) for every optimizer before update()');
        found += s.found;
      }
      if (!checks) throw new TapegradError('GradScaler.update: No inf checks were recorded prior to update.');
      // PyTorch's _amp_update_scale_ kernel, on the host; the scale is float32 there
      if (found) {
        this.#scale = Math.fround(this.#scale! * this.#backoffFactor);
        this.#growthTracker = 0;
      } else if (this.#growthTracker! + 1 === this.#growthInterval) {
        const grown = Math.fround(this.#scale! * this.#growthFactor);
        if (Number.isFinite(grown)) this.#scale = grown;
        this.#growthTracker = 0;
      } else {
        this.#growthTracker! += 1;
      }
    }
    for (const s of this.#stages.values()) if (s.found === undefined) for (const c of s.checks) c.dispose();
    this.#stages.clear();
  }

  /** The scale (1 when disabled; the initial scale until the first scale()). */
  getScale(): number {
    return this.#enabled ? (this.#scale ?? this.#initScale) : 1;
  }
  /** Whether scaling is on. */
  isEnabled(): boolean {
    return this.#enabled;
  }
  /** The factor the scale grows by. */
  getGrowthFactor(): number {
    return this.#growthFactor;
  }
  /** Set the factor the scale grows by (> 1). */
  setGrowthFactor(factor: number): void {
    this.#growthFactor = checkGrowth('GradScaler.setGrowthFactor', factor);
  }
  /** The factor the scale shrinks by after an inf or NaN. */
  getBackoffFactor(): number {
    return this.#backoffFactor;
  }
  /** Set the factor the scale shrinks by (in (0, 1)). */
  setBackoffFactor(factor: number): void {
    this.#backoffFactor = checkBackoff('GradScaler.setBackoffFactor', factor);
  }
  /** How many clean steps in a row grow the scale. */
  getGrowthInterval(): number {
    return this.#growthInterval;
  }
  /** Set how many clean steps in a row grow the scale (a positive integer). */
  setGrowthInterval(interval: number): void {
    this.#growthInterval = checkInterval('GradScaler.setGrowthInterval', interval);
  }

  /**
   * The scale, the factors, the interval and the count of clean steps, with PyTorch's keys (an
   * empty object when disabled). Take it after update(), as PyTorch advises.
   */
  stateDict(): GradScalerStateDict | Record<string, never> {
    if (!this.#enabled) return {};
    return {
      scale: this.getScale(),
      growth_factor: this.#growthFactor,
      backoff_factor: this.#backoffFactor,
      growth_interval: this.#growthInterval,
      _growth_tracker: this.#growthTracker ?? this.#initGrowthTracker,
    };
  }
  /** Restore what stateDict() returned (here or from PyTorch's `scaler.state_dict()`); does nothing when disabled. */
  loadStateDict(sd: GradScalerStateDict | Record<string, never>): void {
    if (!this.#enabled) return;
    const name = 'GradScaler.loadStateDict';
    if (!Object.keys(sd).length) throw new TapegradError(`${name}: The source state dict is empty, possibly because it was saved from a disabled instance of GradScaler.`);
    const s = sd as GradScalerStateDict;
    const tracker = s._growth_tracker;
    if (typeof tracker !== 'number' || !Number.isInteger(tracker) || tracker < 0) throw new ValueError(`${name}: _growth_tracker must be an integer >= 0; got ${tracker}`);
    // all checked before anything changes
    const scale = checkScale(name, 'scale', s.scale);
    const growth = checkGrowth(name, s.growth_factor, 'growth_factor');
    const backoff = checkBackoff(name, s.backoff_factor, 'backoff_factor');
    const interval = checkInterval(name, s.growth_interval, 'growth_interval');
    this.#initScale = scale;
    if (this.#scale !== null) this.#scale = Math.fround(scale);
    this.#growthFactor = growth;
    this.#backoffFactor = backoff;
    this.#growthInterval = interval;
    this.#initGrowthTracker = tracker;
    if (this.#growthTracker !== null) this.#growthTracker = tracker;
  }

  #checkScaled(method: string): void {
    if (this.#scale === null) {
      throw new TapegradError(`GradScaler.${method}: called before any scale(). This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration.`);
    }
  }
  // step's checks and unscaling, shared by step and stepAsync
  #beginStep(optimizer: AnyOptimizer, method: string): OptimizerStage {
    this.#checkScaled(method);
    if (this.#stages.get(optimizer)?.stage === 'stepped') throw new TapegradError(`GradScaler.${method}: step() has already been called since the last update().`);
    if (!this.#stages.has(optimizer)) this.unscale_(optimizer);
    const s = this.#stages.get(optimizer)!;
    if (!s.checks.length) throw new TapegradError(`GradScaler.${method}: No inf checks were recorded for this optimizer. (none of its parameters has a gradient)`);
    return s;
  }
  #finishStep(optimizer: AnyOptimizer, s: OptimizerStage): void {
    if (!s.found) optimizer.step();
    s.stage = 'stepped';
  }
  // the number of devices that found an inf or NaN, read now
  #readSync(s: OptimizerStage, method: string, call: string, instead: string): number {
    const slow = s.checks.find((c) => !getBackend(c.device).readSync);
    if (slow) throw new DeviceError(`GradScaler.${method}: ${call} reads the inf check of gradients on '${slow.device}', which cannot be read synchronously; use \`${instead}\``);
    const found = s.checks.filter((c) => !c.itemSync()).length;
    for (const c of s.checks) c.dispose();
    return found;
  }
}

function checkScale(where: string, name: string, v: number): number {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(Math.fround(v))) throw new ValueError(`${where}: ${name} must be a positive number within float32's range; got ${v}`);
  return v;
}
function checkGrowth(where: string, v: number, name = 'growthFactor'): number {
  if (typeof v !== 'number' || !(v > 1) || !Number.isFinite(v)) throw new ValueError(`${where}: ${name} must be a finite number > 1; got ${v}`);
  return v;
}
function checkBackoff(where: string, v: number, name = 'backoffFactor'): number {
  if (typeof v !== 'number' || !(v > 0 && v < 1)) throw new ValueError(`${where}: ${name} must be in (0, 1); got ${v}`);
  return v;
}
function checkInterval(where: string, v: number, name = 'growthInterval'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ValueError(`${where}: ${name} must be an integer >= 1; got ${v}`);
  return v;
}
