import { ValueError, notTraceable } from '@tapegrad/tensor';
import type { Optimizer } from './optimizer.js';

type AnyOptimizer = Optimizer<{ lr: number }>;

/**
 * A learning-rate schedule over an optimizer's groups: construction sets the epoch-0 rate,
 * each step() moves one epoch (or batch, for OneCycleLR) on, as torch.optim.lr_scheduler.
 */
export abstract class LRScheduler {
  /** Steps taken so far (epochs, or batches for OneCycleLR). */
  lastEpoch = 0;
  /** Each group's rate when the scheduler was made (OneCycleLR ignores it: its rates come from maxLr). */
  readonly baseLrs: number[];
  /** @param optimizer - The optimizer whose groups' lr the schedule sets. */
  constructor(readonly optimizer: AnyOptimizer) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
  }
  /** The rate of group i at epoch t. */
  protected abstract lrAt(t: number, i: number): number;
  /** Set every group's rate to lrAt(lastEpoch). */
  protected apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.lrAt(this.lastEpoch, i)));
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
  stateDict(): { lastEpoch: number; baseLrs: number[] } {
    return { lastEpoch: this.lastEpoch, baseLrs: this.baseLrs.slice() };
  }
  /** Restore what stateDict() returned and set the rates for that epoch. */
  loadStateDict(s: { lastEpoch: number; baseLrs: number[] }): void {
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
  protected lrAt(t: number, i: number): number {
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
  protected lrAt(t: number, i: number): number {
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
    this.o = { cycleMomentum: options.cycleMomentum ?? true, baseMomentum: options.baseMomentum ?? 0.85, maxMomentum: options.maxMomentum ?? 0.95 };
    if (this.o.cycleMomentum && !optimizer.paramGroups.every((g) => 'momentum' in g || 'betas' in g)) {
      throw new ValueError('OneCycleLR: cycleMomentum needs an optimizer with momentum or betas; pass cycleMomentum: false');
    }
    this.apply();
  }
  protected lrAt(t: number, i: number): number {
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
