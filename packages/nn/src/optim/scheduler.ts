import { ValueError, notTraceable } from '@tapegrad/tensor';
import type { Optimizer } from './optimizer.js';

type AnyOptimizer = Optimizer<{ lr: number }>;
type Group = Record<string, unknown> & { lr: number };

/** What {@link LRScheduler.stateDict} returns: the epoch count and base rates (and, for SequentialLR, its schedulers' states). */
export interface LRSchedulerState {
  /** Steps taken so far. */
  lastEpoch: number;
  /** Each group's base rate. */
  baseLrs: number[];
  /** SequentialLR: the state of each of its schedulers. */
  schedulers?: LRSchedulerState[];
}

/**
 * A learning-rate schedule over an optimizer's groups: construction sets the epoch-0 rate,
 * each step() moves one epoch (or batch, for OneCycleLR) on, as torch.optim.lr_scheduler.
 * Every schedule is a closed form of the epoch ({@link LRScheduler.lrAt}), so a scheduler loaded
 * from a state dict continues exactly where the saved one was.
 */
export abstract class LRScheduler {
  /** Steps taken so far (epochs, or batches for OneCycleLR). */
  lastEpoch = 0;
  /**
   * Each group's rate before any scheduler changed it (OneCycleLR ignores it: its rates come from
   * maxLr). As in PyTorch, the first scheduler made for an optimizer records it in each group as
   * `initialLr`, and later ones (the parts of a SequentialLR) start from it, not from the rate
   * the earlier ones set.
   */
  readonly baseLrs: number[];
  /** @param optimizer - The optimizer whose groups' lr the schedule sets. */
  constructor(readonly optimizer: AnyOptimizer) {
    this.baseLrs = (optimizer.paramGroups as Group[]).map((g) => (g.initialLr ??= g.lr) as number);
  }
  /** The rate the schedule gives group i at epoch t (its closed form). */
  abstract lrAt(t: number, i: number): number;
  /** Set every group's rate to lrAt(lastEpoch). */
  protected apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.lrAt(this.lastEpoch, i)));
  }
  /** Let a scheduler that drives others (SequentialLR) set their rates. */
  protected static applyOf(s: LRScheduler): void {
    s.apply();
  }
  /** Advance one epoch (OneCycleLR: one batch) and set the new rates; call after optimizer.step(). */
  step(): void {
    notTraceable('it steps a learning-rate scheduler, which a replay would not do (the rate would stay); call scheduler.step() after the compiled step');
    this.lastEpoch++;
    this.apply();
  }
  /** The rates the last step set, per group. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  /** The epoch count and base rates, for loadStateDict(). */
  stateDict(): LRSchedulerState {
    return { lastEpoch: this.lastEpoch, baseLrs: this.baseLrs.slice() };
  }
  /** Restore what stateDict() returned and set the rates for that epoch. */
  loadStateDict(s: LRSchedulerState): void {
    this.lastEpoch = s.lastEpoch;
    this.baseLrs.splice(0, this.baseLrs.length, ...s.baseLrs);
    this.apply();
  }
}

/** Multiply the rate by gamma every stepSize epochs. */
export class StepLR extends LRScheduler {
  /** Epochs between decays. */
  readonly stepSize: number;
  /** The factor applied at each decay. */
  readonly gamma: number;
  /**
   * @param optimizer - The optimizer whose rates it sets.
   * @param options - stepSize, a positive integer (else a ValueError); gamma, default 0.1.
   */
  constructor(optimizer: AnyOptimizer, options: { stepSize: number; gamma?: number }) {
    super(optimizer);
    if (!Number.isInteger(options.stepSize) || options.stepSize < 1) throw new ValueError(`StepLR: stepSize must be a positive integer; got ${options.stepSize}`);
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    this.apply();
  }
  lrAt(t: number, i: number): number {
    return this.baseLrs[i]! * this.gamma ** Math.floor(t / this.stepSize);
  }
}

/** Cosine from the base rate down to etaMin over tMax epochs (and back up after, as PyTorch's closed form). */
export class CosineAnnealingLR extends LRScheduler {
  /** Epochs from the base rate down to etaMin. */
  readonly tMax: number;
  /** The lowest rate. */
  readonly etaMin: number;
  /**
   * @param optimizer - The optimizer whose rates it sets.
   * @param options - tMax, positive (else a ValueError); etaMin, default 0.
   */
  constructor(optimizer: AnyOptimizer, options: { tMax: number; etaMin?: number }) {
    super(optimizer);
    if (!(options.tMax > 0)) throw new ValueError(`CosineAnnealingLR: tMax must be positive; got ${options.tMax}`);
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    this.apply();
  }
  lrAt(t: number, i: number): number {
    return this.etaMin + ((this.baseLrs[i]! - this.etaMin) * (1 + Math.cos((Math.PI * t) / this.tMax))) / 2;
  }
}

/** Options of {@link OneCycleLR}, as torch.optim.lr_scheduler.OneCycleLR's. */
export interface OneCycleLROptions {
  /** The peak rate, or one per parameter group. */
  maxLr: number | number[];
  /** Total steps, or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  /** With stepsPerEpoch, gives totalSteps = epochs · stepsPerEpoch. */
  epochs?: number;
  /** With epochs, gives totalSteps = epochs · stepsPerEpoch. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent raising the rate (default 0.3). */
  pctStart?: number;
  /** How the rate moves within a phase (default 'cos'). */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (or Adam's beta1) inversely to the rate (default true). */
  cycleMomentum?: boolean;
  /** Momentum at the peak rate (default 0.85). */
  baseMomentum?: number;
  /** Momentum at the lowest rates (default 0.95). */
  maxMomentum?: number;
  /** Initial rate = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** Final rate = initial rate / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Three phases (up to maxLr, symmetrically back to the initial rate, then down to the final one) instead of two (default false). */
  threePhase?: boolean;
}
interface Phase {
  end: number;
  lr: [keyof PhaseLrs, keyof PhaseLrs];
  momentum: ['max' | 'base', 'max' | 'base'];
}
interface PhaseLrs {
  initial: number;
  max: number;
  min: number;
}

/** The 1cycle policy (Smith & Topin): rate up to maxLr then down far below, stepped once per batch. */
export class OneCycleLR extends LRScheduler {
  /** The length of the cycle in steps (batches). */
  readonly totalSteps: number;
  private readonly phases: Phase[];
  private readonly lrs: PhaseLrs[];
  private readonly anneal: (start: number, end: number, pct: number) => number;
  private readonly o: Required<Pick<OneCycleLROptions, 'cycleMomentum' | 'baseMomentum' | 'maxMomentum'>>;
  /**
   * @param optimizer - The optimizer whose rates (and, with cycleMomentum, momentum or beta1) it sets.
   * @param options - maxLr, and totalSteps or epochs with stepsPerEpoch; bad values throw a ValueError.
   */
  constructor(optimizer: AnyOptimizer, options: OneCycleLROptions) {
    super(optimizer);
    const total = options.totalSteps ?? (options.epochs !== undefined && options.stepsPerEpoch !== undefined ? options.epochs * options.stepsPerEpoch : NaN);
    if (!(Number.isInteger(total) && total > 0)) throw new ValueError('OneCycleLR: give totalSteps, or epochs and stepsPerEpoch, as positive integers');
    this.totalSteps = total;
    const pct = options.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1)) throw new ValueError(`OneCycleLR: pctStart must be in [0, 1]; got ${pct}`);
    const strategy = options.annealStrategy ?? 'cos';
    if (strategy !== 'cos' && strategy !== 'linear') throw new ValueError(`OneCycleLR: annealStrategy must be 'cos' or 'linear'; got ${String(strategy)}`);
    this.anneal = strategy === 'cos' ? (s, e, p) => e + ((s - e) / 2) * (Math.cos(Math.PI * p) + 1) : (s, e, p) => (e - s) * p + s;
    this.phases = options.threePhase
      ? [
          { end: pct * total - 1, lr: ['initial', 'max'], momentum: ['max', 'base'] },
          { end: 2 * pct * total - 2, lr: ['max', 'initial'], momentum: ['base', 'max'] },
          { end: total - 1, lr: ['initial', 'min'], momentum: ['max', 'max'] },
        ]
      : [
          { end: pct * total - 1, lr: ['initial', 'max'], momentum: ['max', 'base'] },
          { end: total - 1, lr: ['max', 'min'], momentum: ['base', 'max'] },
        ];
    const div = options.divFactor ?? 25;
    const finalDiv = options.finalDivFactor ?? 1e4;
    const maxLrs = Array.isArray(options.maxLr) ? options.maxLr : optimizer.paramGroups.map(() => options.maxLr as number);
    if (maxLrs.length !== optimizer.paramGroups.length) throw new ValueError(`OneCycleLR: maxLr has ${maxLrs.length} values for ${optimizer.paramGroups.length} parameter groups`);
    this.lrs = maxLrs.map((m) => ({ initial: m / div, max: m, min: m / div / finalDiv }));
    // as PyTorch: a scheduler made after this one (in a SequentialLR) starts from the cycle's initial rate
    (optimizer.paramGroups as Group[]).forEach((g, i) => (g.initialLr = this.lrs[i]!.initial));
    this.o = { cycleMomentum: options.cycleMomentum ?? true, baseMomentum: options.baseMomentum ?? 0.85, maxMomentum: options.maxMomentum ?? 0.95 };
    if (this.o.cycleMomentum && !optimizer.paramGroups.every((g) => 'momentum' in g || 'betas' in g)) {
      throw new ValueError('OneCycleLR: cycleMomentum needs an optimizer with momentum or betas; pass cycleMomentum: false');
    }
    this.apply();
  }
  lrAt(t: number, i: number): number {
    return this.at(t, (ph) => [this.lrs[i]![ph.lr[0]], this.lrs[i]![ph.lr[1]]]);
  }
  private at(t: number, ends: (ph: Phase) => [number, number]): number {
    if (t > this.totalSteps) throw new ValueError(`OneCycleLR: stepped ${t} times, past totalSteps=${this.totalSteps}`);
    let start = 0;
    for (let k = 0; k < this.phases.length; k++) {
      const ph = this.phases[k]!;
      if (t <= ph.end || k === this.phases.length - 1) {
        const [a, b] = ends(ph);
        return this.anneal(a, b, (t - start) / (ph.end - start));
      }
      start = ph.end;
    }
    return NaN;
  }
  protected override apply(): void {
    super.apply();
    if (!this.o.cycleMomentum) return;
    const m = this.at(this.lastEpoch, (ph) => ph.momentum.map((w) => (w === 'max' ? this.o.maxMomentum : this.o.baseMomentum)) as [number, number]);
    for (const g of this.optimizer.paramGroups as unknown as Record<string, unknown>[]) {
      if (Array.isArray(g.betas)) g.betas = [m, g.betas[1]];
      else g.momentum = m;
    }
  }
}

// ---- issue 16 (optim): LambdaLR, MultiStepLR, ExponentialLR, LinearLR, SequentialLR, ReduceLROnPlateau

/** The rate is the base rate times lrLambda(epoch) (torch.optim.lr_scheduler.LambdaLR). */
export class LambdaLR extends LRScheduler {
  private readonly lambdas: ((epoch: number) => number)[];
  /**
   * @param optimizer - The optimizer whose rates it sets.
   * @param options - lrLambda: a function of the epoch giving the factor, or one per parameter
   * group (a list of another length throws a ValueError). The functions are not part of the state dict.
   */
  constructor(optimizer: AnyOptimizer, options: { lrLambda: ((epoch: number) => number) | ((epoch: number) => number)[] }) {
    super(optimizer);
    const { lrLambda } = options;
    const n = optimizer.paramGroups.length;
    if (Array.isArray(lrLambda) && lrLambda.length !== n) throw new ValueError(`LambdaLR: expected ${n} lrLambdas (one per parameter group), but got ${lrLambda.length}`);
    this.lambdas = Array.isArray(lrLambda) ? lrLambda.slice() : optimizer.paramGroups.map(() => lrLambda);
    if (!this.lambdas.every((f) => typeof f === 'function')) throw new ValueError('LambdaLR: lrLambda must be a function of the epoch, or a list of them');
    this.apply();
  }
  lrAt(t: number, i: number): number {
    return this.baseLrs[i]! * this.lambdas[i]!(t);
  }
}

/** Multiply the rate by gamma at each milestone epoch (torch.optim.lr_scheduler.MultiStepLR). */
export class MultiStepLR extends LRScheduler {
  /** The milestones, sorted; one listed twice decays twice, as in PyTorch. */
  readonly milestones: readonly number[];
  /** The factor applied at each milestone. */
  readonly gamma: number;
  /**
   * @param optimizer - The optimizer whose rates it sets.
   * @param options - milestones: epochs (non-negative integers, else a ValueError); gamma, default 0.1.
   */
  constructor(optimizer: AnyOptimizer, options: { milestones: readonly number[]; gamma?: number }) {
    super(optimizer);
    const bad = options.milestones.find((m) => !Number.isInteger(m) || m < 0);
    if (bad !== undefined) throw new ValueError(`MultiStepLR: milestones must be non-negative integers; got ${bad}`);
    this.milestones = options.milestones.slice().sort((a, b) => a - b);
    this.gamma = options.gamma ?? 0.1;
    this.apply();
  }
  lrAt(t: number, i: number): number {
    return this.baseLrs[i]! * this.gamma ** this.milestones.filter((m) => m <= t).length;
  }
}

/** Multiply the rate by gamma every epoch (torch.optim.lr_scheduler.ExponentialLR). */
export class ExponentialLR extends LRScheduler {
  /** The factor per epoch. */
  readonly gamma: number;
  /**
   * @param optimizer - The optimizer whose rates it sets.
   * @param options - gamma, the factor per epoch.
   */
  constructor(optimizer: AnyOptimizer, options: { gamma: number }) {
    super(optimizer);
    if (typeof options.gamma !== 'number') throw new ValueError(`ExponentialLR: gamma must be a number; got ${String(options.gamma)}`);
    this.gamma = options.gamma;
    this.apply();
  }
  lrAt(t: number, i: number): number {
    return this.baseLrs[i]! * this.gamma ** t;
  }
}

/**
 * Scale the rate by a factor that moves linearly from startFactor to endFactor over totalIters
 * epochs, then stays (torch.optim.lr_scheduler.LinearLR): the usual warm-up.
 */
export class LinearLR extends LRScheduler {
  /** The factor at epoch 0. */
  readonly startFactor: number;
  /** The factor from epoch totalIters on. */
  readonly endFactor: number;
  /** Epochs the factor takes to get from startFactor to endFactor. */
  readonly totalIters: number;
  /**
   * @param optimizer - The optimizer whose rates it sets.
   * @param options - startFactor (default 1/3) and endFactor (default 1), each in [0, 1];
   * totalIters (default 5), a positive integer. Other values throw a ValueError.
   */
  constructor(optimizer: AnyOptimizer, options: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    super(optimizer);
    const { startFactor = 1 / 3, endFactor = 1, totalIters = 5 } = options;
    if (!(startFactor >= 0 && startFactor <= 1)) throw new ValueError(`LinearLR: startFactor must be in [0, 1]; got ${startFactor}`);
    if (!(endFactor >= 0 && endFactor <= 1)) throw new ValueError(`LinearLR: endFactor must be in [0, 1]; got ${endFactor}`);
    if (!Number.isInteger(totalIters) || totalIters < 1) throw new ValueError(`LinearLR: totalIters must be a positive integer; got ${totalIters}`);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.apply();
  }
  lrAt(t: number, i: number): number {
    return this.baseLrs[i]! * (this.startFactor + ((this.endFactor - this.startFactor) * Math.min(this.totalIters, t)) / this.totalIters);
  }
}

/**
 * Run schedulers one after another, switching at the milestone epochs
 * (torch.optim.lr_scheduler.SequentialLR): `schedulers[k]` runs from `milestones[k − 1]`, counting
 * its own epochs from 0 there. The usual use: a LinearLR warm-up, then a CosineAnnealingLR.
 */
export class SequentialLR extends LRScheduler {
  /** The schedulers, in the order they run. */
  readonly schedulers: readonly LRScheduler[];
  /** The epochs at which the next scheduler takes over (increasing). */
  readonly milestones: readonly number[];
  /**
   * @param optimizer - The optimizer whose rates it sets; every scheduler must be made for it.
   * @param options - schedulers, and one milestone fewer than schedulers (increasing non-negative
   * integers). Otherwise a ValueError.
   */
  constructor(optimizer: AnyOptimizer, options: { schedulers: readonly LRScheduler[]; milestones: readonly number[] }) {
    super(optimizer);
    const { schedulers, milestones } = options;
    if (!schedulers.length) throw new ValueError('SequentialLR: expected at least one scheduler');
    schedulers.forEach((s, i) => {
      if (s.optimizer !== optimizer) throw new ValueError(`SequentialLR: scheduler ${i} was made for another optimizer; all must belong to the one given`);
      if (s instanceof SequentialLR) throw new ValueError(`SequentialLR: scheduler ${i} is a SequentialLR; nest their schedulers instead`);
    });
    if (milestones.length !== schedulers.length - 1) {
      throw new ValueError(`SequentialLR: expected one milestone fewer than schedulers (${schedulers.length - 1} for ${schedulers.length}); got ${milestones.length}`);
    }
    milestones.forEach((m, i) => {
      if (!Number.isInteger(m) || m < 0 || (i > 0 && m <= milestones[i - 1]!)) throw new ValueError(`SequentialLR: milestones must be increasing non-negative integers; got [${milestones.join(', ')}]`);
    });
    this.schedulers = schedulers.slice();
    this.milestones = milestones.slice();
    this.apply();
  }
  /** The scheduler that runs at epoch t, and its own epoch count there. */
  private at(t: number): [LRScheduler, number] {
    let k = 0;
    while (k < this.milestones.length && t >= this.milestones[k]!) k++;
    return [this.schedulers[k]!, k > 0 ? t - this.milestones[k - 1]! : t];
  }
  lrAt(t: number, i: number): number {
    const [s, epoch] = this.at(t);
    return s.lrAt(epoch, i);
  }
  // the running scheduler sets the rates (and OneCycleLR its momentum) at its own epoch
  protected override apply(): void {
    const [s, epoch] = this.at(this.lastEpoch);
    s.lastEpoch = epoch;
    LRScheduler.applyOf(s);
  }
  /** The epoch count and base rates, with each scheduler's state. */
  override stateDict(): LRSchedulerState {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  /** Restore what stateDict() returned (and each scheduler's state) and set the rates for that epoch. */
  override loadStateDict(s: LRSchedulerState): void {
    if (s.schedulers?.length !== this.schedulers.length) {
      throw new ValueError(`SequentialLR.loadStateDict: the state has ${s.schedulers?.length ?? 0} schedulers; this one has ${this.schedulers.length}`);
    }
    s.schedulers.forEach((sub, i) => this.schedulers[i]!.loadStateDict(sub));
    super.loadStateDict(s);
  }
}

/** Options of {@link ReduceLROnPlateau}, as torch.optim.lr_scheduler.ReduceLROnPlateau's. */
export interface ReduceLROnPlateauOptions {
  /** 'min' (default): the metric should fall (a loss); 'max': it should rise (an accuracy). */
  mode?: 'min' | 'max';
  /** new rate = rate · factor, below 1 (default 0.1). */
  factor?: number;
  /** Epochs without improvement that are tolerated; the next one reduces the rate (default 10). */
  patience?: number;
  /** How much better than the best a metric must be to count as an improvement (default 1e-4). */
  threshold?: number;
  /** 'rel' (default): better than best·(1 ∓ threshold); 'abs': better than best ∓ threshold. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs after a reduction during which bad epochs are not counted (default 0). */
  cooldown?: number;
  /** The lowest rate, or one per parameter group (default 0). */
  minLr?: number | number[];
  /** A reduction smaller than this is not applied (default 1e-8). */
  eps?: number;
}

/** What {@link ReduceLROnPlateau.stateDict} returns. */
export interface ReduceLROnPlateauState {
  /** The best metric so far (±Infinity before the first; JSON writes those as null, which loadStateDict reads back as no best yet). */
  best: number | null;
  /** Epochs since the last improvement, as counted. */
  numBadEpochs: number;
  /** Epochs of cooldown left. */
  cooldownCounter: number;
  /** Epochs stepped. */
  lastEpoch: number;
}

/**
 * Divide the rate by a factor when a metric has stopped improving
 * (torch.optim.lr_scheduler.ReduceLROnPlateau): call `step(metric)` once per epoch with, say,
 * the validation loss as a number (`await loss.item()`).
 */
export class ReduceLROnPlateau {
  /** Whether the metric should fall or rise. */
  readonly mode: 'min' | 'max';
  /** The factor of a reduction. */
  readonly factor: number;
  /** Tolerated epochs without improvement. */
  readonly patience: number;
  /** The significance threshold of an improvement. */
  readonly threshold: number;
  /** Whether the threshold is relative or absolute. */
  readonly thresholdMode: 'rel' | 'abs';
  /** Epochs of cooldown after a reduction. */
  readonly cooldown: number;
  /** The lowest rate of each group. */
  readonly minLrs: number[];
  /** The smallest reduction applied. */
  readonly eps: number;
  /** The best metric so far. */
  best: number;
  /** Epochs since the last improvement. */
  numBadEpochs = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  /** Epochs stepped. */
  lastEpoch = 0;

  /**
   * @param optimizer - The optimizer whose rates it reduces.
   * @param options - See {@link ReduceLROnPlateauOptions}; bad values throw a ValueError.
   */
  constructor(readonly optimizer: AnyOptimizer, options: ReduceLROnPlateauOptions = {}) {
    const { mode = 'min', factor = 0.1, patience = 10, threshold = 1e-4, thresholdMode = 'rel', cooldown = 0, minLr = 0, eps = 1e-8 } = options;
    const name = 'ReduceLROnPlateau';
    if (mode !== 'min' && mode !== 'max') throw new ValueError(`${name}: mode must be 'min' or 'max'; got ${String(mode)}`);
    if (thresholdMode !== 'rel' && thresholdMode !== 'abs') throw new ValueError(`${name}: thresholdMode must be 'rel' or 'abs'; got ${String(thresholdMode)}`);
    if (!(factor < 1 && factor >= 0)) throw new ValueError(`${name}: factor must be in [0, 1); got ${factor}`);
    for (const [k, v] of Object.entries({ patience, cooldown })) {
      if (!Number.isInteger(v) || v < 0) throw new ValueError(`${name}: ${k} must be a non-negative integer; got ${v}`);
    }
    for (const [k, v] of Object.entries({ threshold, eps })) if (!(v >= 0)) throw new ValueError(`${name}: ${k} must be a number >= 0; got ${v}`);
    const n = optimizer.paramGroups.length;
    if (Array.isArray(minLr) && minLr.length !== n) throw new ValueError(`${name}: expected ${n} minLr values (one per parameter group); got ${minLr.length}`);
    this.mode = mode;
    this.factor = factor;
    this.patience = patience;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
    this.cooldown = cooldown;
    this.eps = eps;
    this.minLrs = Array.isArray(minLr) ? minLr.slice() : optimizer.paramGroups.map(() => minLr);
    this.best = this.worst;
  }
  private get worst(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }
  private isBetter(a: number): boolean {
    const { best, threshold: th } = this;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - th) : a < best - th;
    return this.thresholdMode === 'rel' ? a > best * (th + 1) : a > best + th;
  }
  /** Record one epoch's metric, and reduce the rates if it is the patience+1-th epoch without improvement. */
  step(metric: number): void {
    if (typeof metric !== 'number') throw new ValueError(`ReduceLROnPlateau.step: metric must be a number (read a tensor with \`await t.item()\`); got ${typeof metric}`);
    this.lastEpoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0; // bad epochs in cooldown do not count
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const lr = Math.max(g.lr * this.factor, this.minLrs[i]!);
        if (g.lr - lr > this.eps) g.lr = lr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
  }
  /** The rates now, per group. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  /** The counters and the best metric, for loadStateDict(). */
  stateDict(): ReduceLROnPlateauState {
    return { best: this.best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter, lastEpoch: this.lastEpoch };
  }
  /** Restore what stateDict() returned (the optimizer's rates come with the optimizer's own state dict). */
  loadStateDict(s: ReduceLROnPlateauState): void {
    this.best = s.best ?? this.worst;
    this.numBadEpochs = s.numBadEpochs;
    this.cooldownCounter = s.cooldownCounter;
    this.lastEpoch = s.lastEpoch;
  }
}
