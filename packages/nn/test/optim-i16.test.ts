import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ValueError, memory, ones, tensor, tidy, zeros, type Tensor } from '@tapegrad/tensor';
import { Linear, optim, parameter } from '../src/index.js';
import { expectClose, f64, type Encoded } from './helpers.js';

// PyTorch 1.13 reference values written by fixtures/gen_i16-optim.py.
const ref = JSON.parse(readFileSync(new URL('./fixtures/i16-optim.json', import.meta.url), 'utf8'));

type AnyOptimizer = optim.Optimizer<{ lr: number }>;
const make = (name: string, params: Tensor[], options: Record<string, unknown> = {}): AnyOptimizer => {
  const Cls = (optim as unknown as Record<string, new (p: Tensor[], o: object) => AnyOptimizer>)[name]!;
  return new Cls(params, options);
};
const ALL = ['SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad', 'Adamax', 'NAdam'];

describe('Adagrad, Adamax and NAdam against PyTorch, step by step on fixed gradients', () => {
  const o = ref.optim;
  for (const c of o.cases) {
    it(`${c.optimizer} ${JSON.stringify(c.options)}: parameters and every state tensor after each of ${c.steps.length} steps`, () => {
      const w = f64(o.w0, true);
      const b = f64(o.b0, true);
      const frozen = ones([2], { dtype: 'float64' }); // requires no grad: accepted and skipped
      const opt = make(c.optimizer, [w, b, frozen], c.options);
      c.steps.forEach((step: { w: Encoded; b: Encoded; state: Record<string, Encoded | number>[] }, k: number) => {
        w.grad = f64(o.grads[k][0]);
        b.grad = f64(o.grads[k][1]);
        opt.step();
        expectClose(w, step.w, 1e-10);
        expectClose(b, step.b, 1e-10);
        [w, b].forEach((p, j) => {
          const state = opt.state.get(p)!;
          expect(Object.keys(state).sort()).toEqual(Object.keys(step.state[j]!).sort());
          for (const [key, want] of Object.entries(step.state[j]!)) {
            const got = state[key]!;
            if (typeof want === 'number') expect(got as number, key).toBeCloseTo(want, 12);
            else expectClose(got as Tensor, want, 1e-10);
          }
        });
      });
      expect(Array.from(frozen.dataSync())).toEqual([1, 1]);
      expect(opt.state.has(frozen)).toBe(false);
    });
  }

  for (const name of ['Adagrad', 'Adamax', 'NAdam']) {
    it(`${name}: a state dict round-trips, and the restored optimizer continues exactly`, () => {
      const run = (opt: AnyOptimizer, w: Tensor, k: number) => {
        w.grad = f64(ref.optim.grads[k][0]);
        opt.step();
      };
      const w1 = f64(ref.optim.w0, true);
      const o1 = make(name, [w1], { lr: 0.05 });
      run(o1, w1, 0);
      run(o1, w1, 1);
      const w2 = f64({ shape: [...w1.shape], data: Array.from(w1.dataSync()) }, true);
      const o2 = make(name, [w2], { lr: 0.5 });
      o2.loadStateDict(o1.stateDict());
      expect(o2.paramGroups[0]!.lr).toBe(0.05);
      for (const k of [2, 3]) {
        run(o1, w1, k);
        run(o2, w2, k);
      }
      expect(Array.from(w2.dataSync())).toEqual(Array.from(w1.dataSync()));
      expect(o2.stateDict().state[0]!.step).toBe(4);
    });
  }

  it('step in a tidy holds memory flat (state is made once, at the first step)', () => {
    for (const name of ['Adagrad', 'Adamax', 'NAdam']) {
      const m = new Linear(4, 3);
      const opt = make(name, m.parameters(), { lr: 0.1, weightDecay: 0.01 });
      const x = tensor([[1, 2, 3, 4]]);
      const step = () => tidy(() => {
        opt.zeroGrad();
        m.forward(x).sum().backward();
        opt.step();
      });
      step();
      const before = memory();
      for (let i = 0; i < 5; i++) step();
      expect(memory().tensors, name).toBe(before.tensors);
      expect(memory().bytes, name).toBe(before.bytes);
    }
  });

  it('rejects bad hyperparameters, naming the optimizer and the value', () => {
    const p = parameter(zeros([2]));
    expect(() => new optim.Adagrad([p], { lrDecay: -1 })).toThrow('Adagrad: lrDecay must be a number >= 0; got -1');
    expect(() => new optim.Adagrad([p], { initialAccumulatorValue: -0.1 })).toThrow('Adagrad: initialAccumulatorValue must be a number >= 0; got -0.1');
    expect(() => new optim.Adamax([p], { betas: [0.9, 1] })).toThrow('Adamax: betas[1] must be in [0, 1); got 1');
    expect(() => new optim.NAdam([p], { momentumDecay: -1 })).toThrow('NAdam: momentumDecay must be a number >= 0; got -1');
    expect(() => new optim.NAdam([p], { lr: Number.NaN })).toThrow(ValueError);
  });
});

describe('parameters that require no grad (as PyTorch: accepted, skipped)', () => {
  for (const name of ALL) {
    it(`${name} takes a frozen tensor and leaves it alone`, () => {
      const w = parameter(tensor([1, 2]));
      const frozen = tensor([5, 6]);
      const opt = make(name, [w, frozen], { lr: 0.1 });
      w.grad = tensor([1, 1]);
      opt.step();
      expect(Array.from(w.dataSync())).not.toEqual([1, 2]);
      expect(Array.from(frozen.dataSync())).toEqual([5, 6]);
      expect(opt.state.has(frozen)).toBe(false);
    });
  }
  it('a module with a frozen layer: optimize all its parameters, only the trainable ones move', () => {
    const m = new Linear(2, 1);
    m.bias!.requiresGrad = false;
    const bias = Array.from(m.bias!.dataSync());
    const opt = new optim.Adam(m.parameters(), { lr: 0.1 });
    m.forward(tensor([[1, 2]])).sum().backward();
    expect(m.bias!.grad).toBeNull();
    opt.step();
    expect(Array.from(m.bias!.dataSync())).toEqual(bias);
  });
  it('still refuses a tensor that is not a leaf', () => {
    const w = parameter(tensor([1, 2]));
    expect(() => new optim.SGD([w.mul(2)])).toThrow('SGD: can only optimize leaf tensors (parameters), not the output of an op');
  });
});

describe('schedulers against PyTorch lr sequences', () => {
  const s = ref.schedulers;
  const N = 40;
  type Make = (o: AnyOptimizer) => { step(): void };
  /** Each group's lr (or momentum, or beta1) before each of N steps, for an optimizer like the fixture's. */
  const sequence = (makeScheduler: Make, opts: { groups?: number; kind?: 'sgd' | 'adam'; key?: 'lr' | 'momentum' | 'beta1'; steps?: number } = {}) => {
    const { groups = 1, kind = 'sgd', key = 'lr', steps = N } = opts;
    const paramGroups = Array.from({ length: groups }, (_, i) => ({ params: [parameter(zeros([1]))], lr: 0.1 * (i + 1) }));
    const opt = kind === 'sgd' ? new optim.SGD(paramGroups, { lr: 0.1, momentum: 0.9 }) : new optim.Adam(paramGroups, { lr: 0.1 });
    const sched = makeScheduler(opt as unknown as AnyOptimizer);
    const out: number[][] = [];
    for (let i = 0; i < steps; i++) {
      out.push(opt.paramGroups.map((g) => (key === 'beta1' ? (g as { betas: number[] }).betas[0]! : (g as unknown as Record<string, number>)[key]!)));
      opt.step();
      sched.step();
    }
    return out;
  };
  const close = (got: number[][], want: number[][], what = '') => {
    expect(got.length).toBe(want.length);
    got.forEach((row, t) => row.forEach((v, i) => expect(v, `${what} step ${t} group ${i}: ${v} vs ${want[t]![i]}`).toBeCloseTo(want[t]![i]!, 12)));
  };

  it('LambdaLR, one function and one per group', () => {
    close(sequence((o) => new optim.LambdaLR(o, { lrLambda: (e) => 0.95 ** e })), s.LambdaLR);
    close(sequence((o) => new optim.LambdaLR(o, { lrLambda: [(e) => 1 / (e + 1), (e) => (e % 2 ? 0.5 : 1)] }), { groups: 2 }), s.LambdaLRGroups);
  });
  it('MultiStepLR (a milestone listed twice decays twice)', () => close(sequence((o) => new optim.MultiStepLR(o, { milestones: [5, 12, 12, 20], gamma: 0.5 })), s.MultiStepLR));
  it('ExponentialLR', () => close(sequence((o) => new optim.ExponentialLR(o, { gamma: 0.9 }), { groups: 2 }), s.ExponentialLR));
  it('LinearLR: up, down, and the defaults', () => {
    close(sequence((o) => new optim.LinearLR(o, { startFactor: 0.25, endFactor: 1, totalIters: 8 })), s.LinearLR);
    close(sequence((o) => new optim.LinearLR(o, { startFactor: 1, endFactor: 0.1, totalIters: 10 }), { groups: 2 }), s.LinearLRDown);
    close(sequence((o) => new optim.LinearLR(o)), s.LinearLRDefault);
  });
  for (const [name, c] of Object.entries<Record<string, unknown> & { options: optim.OneCycleLROptions; groups: number }>(s.OneCycleLR)) {
    it(`OneCycleLR ${name} ${JSON.stringify(c.options)}: rates, SGD momentum and Adam beta1`, () => {
      const one = (o: AnyOptimizer) => new optim.OneCycleLR(o, c.options);
      close(sequence(one, { groups: c.groups }), c.sgd as number[][], 'lr');
      close(sequence(one, { groups: c.groups, key: 'momentum' }), c.sgdMomentum as number[][], 'momentum');
      close(sequence(one, { groups: c.groups, kind: 'adam' }), c.adam as number[][], 'adam lr');
      close(sequence(one, { groups: c.groups, kind: 'adam', key: 'beta1' }), c.adamBeta1 as number[][], 'beta1');
    });
  }
  const warmupCosine = (o: AnyOptimizer) =>
    new optim.SequentialLR(o, { schedulers: [new optim.LinearLR(o, { startFactor: 0.1, totalIters: 5 }), new optim.CosineAnnealingLR(o, { tMax: 20, etaMin: 0.001 })], milestones: [5] });
  const three = (o: AnyOptimizer) =>
    new optim.SequentialLR(o, {
      schedulers: [new optim.LinearLR(o, { startFactor: 0.5, totalIters: 4 }), new optim.ExponentialLR(o, { gamma: 0.8 }), new optim.StepLR(o, { stepSize: 3, gamma: 0.5 })],
      milestones: [4, 15],
    });
  it('SequentialLR: warm-up then cosine (two groups), and three schedulers', () => {
    close(sequence(warmupCosine, { groups: 2 }), s.SequentialLR);
    close(sequence(three), s.SequentialLR3);
  });

  // a scheduler saved at step k and loaded into a fresh one (on a fresh optimizer) continues PyTorch's sequence
  const resumable: [string, Make, number[][], number][] = [
    ['LambdaLR', (o) => new optim.LambdaLR(o, { lrLambda: (e) => 0.95 ** e }), s.LambdaLR, 1],
    ['MultiStepLR', (o) => new optim.MultiStepLR(o, { milestones: [5, 12, 12, 20], gamma: 0.5 }), s.MultiStepLR, 1],
    ['ExponentialLR', (o) => new optim.ExponentialLR(o, { gamma: 0.9 }), s.ExponentialLR, 2],
    ['LinearLR', (o) => new optim.LinearLR(o, { startFactor: 0.25, endFactor: 1, totalIters: 8 }), s.LinearLR, 1],
    ['OneCycleLR', (o) => new optim.OneCycleLR(o, { maxLr: 1, totalSteps: N }), s.OneCycleLR.cos.sgd, 1],
    ['SequentialLR', warmupCosine, s.SequentialLR, 2],
    ['SequentialLR (three)', three, s.SequentialLR3, 1],
  ];
  for (const [name, makeScheduler, want] of resumable) {
    it(`${name}: stateDict at step 7, loaded into a new scheduler, continues the sequence`, () => {
      const groups = want[0]!.length;
      const build = () => {
        const opt = new optim.SGD(Array.from({ length: groups }, (_, i) => ({ params: [parameter(zeros([1]))], lr: 0.1 * (i + 1) })), { lr: 0.1, momentum: 0.9 });
        return [opt, makeScheduler(opt as unknown as AnyOptimizer) as optim.LRScheduler] as const;
      };
      const [, first] = build();
      for (let i = 0; i < 7; i++) first.step();
      const saved = JSON.parse(JSON.stringify(first.stateDict()));
      const [opt, second] = build();
      second.loadStateDict(saved);
      const got: number[][] = [];
      for (let t = 7; t < N; t++) {
        got.push(opt.paramGroups.map((g) => g.lr));
        second.step();
      }
      close(got, want.slice(7));
    });
  }

  describe('ReduceLROnPlateau', () => {
    const { metrics, cases } = s.ReduceLROnPlateau;
    const build = (options: optim.ReduceLROnPlateauOptions) => {
      const opt = new optim.SGD([{ params: [parameter(zeros([1]))], lr: 0.1 }, { params: [parameter(zeros([1]))], lr: 0.3 }], { lr: 0.1 });
      return [opt, new optim.ReduceLROnPlateau(opt as unknown as AnyOptimizer, options)] as const;
    };
    for (const [name, c] of Object.entries<{ options: optim.ReduceLROnPlateauOptions; lrs: number[][] }>(cases)) {
      it(`${name} ${JSON.stringify(c.options)}: the rates after each of ${metrics.length} epochs`, () => {
        const [opt, sched] = build(c.options);
        const got = (metrics as number[]).map((m) => {
          opt.step();
          sched.step(m);
          return sched.getLastLr();
        });
        close(got, c.lrs);
      });
      it(`${name}: resumed from a state dict (through JSON) mid-run, it continues the same`, () => {
        const [opt, sched] = build(c.options);
        const half = 13;
        for (const m of metrics.slice(0, half)) sched.step(m);
        const saved = JSON.parse(JSON.stringify(sched.stateDict()));
        const [opt2, sched2] = build(c.options);
        opt2.loadStateDict(opt.stateDict());
        sched2.loadStateDict(saved);
        const got = (metrics as number[]).slice(half).map((m) => (sched2.step(m), sched2.getLastLr()));
        close(got, c.lrs.slice(half));
      });
    }
    it('reads a null best (JSON of Infinity) as no best yet', () => {
      const [, sched] = build({ patience: 0 });
      sched.loadStateDict({ best: null, numBadEpochs: 0, cooldownCounter: 0, lastEpoch: 0 });
      sched.step(5);
      expect(sched.best).toBe(5);
      expect(sched.getLastLr()).toEqual([0.1, 0.3]);
    });
  });

  it('bad options throw a ValueError naming the scheduler', () => {
    const opt = new optim.SGD([parameter(zeros([1]))], { lr: 0.1 }) as unknown as AnyOptimizer;
    const other = new optim.SGD([parameter(zeros([1]))], { lr: 0.1 }) as unknown as AnyOptimizer;
    expect(() => new optim.LambdaLR(opt, { lrLambda: [(e) => e, (e) => e] })).toThrow('LambdaLR: expected 1 lrLambdas (one per parameter group), but got 2');
    expect(() => new optim.MultiStepLR(opt, { milestones: [3, -1] })).toThrow('MultiStepLR: milestones must be non-negative integers; got -1');
    expect(() => new optim.LinearLR(opt, { startFactor: 1.5 })).toThrow('LinearLR: startFactor must be in [0, 1]; got 1.5');
    expect(() => new optim.LinearLR(opt, { totalIters: 0 })).toThrow('LinearLR: totalIters must be a positive integer; got 0');
    const a = new optim.LinearLR(opt);
    expect(() => new optim.SequentialLR(opt, { schedulers: [a, new optim.StepLR(opt, { stepSize: 2 })], milestones: [] })).toThrow(
      'SequentialLR: expected one milestone fewer than schedulers (1 for 2); got 0',
    );
    expect(() => new optim.SequentialLR(opt, { schedulers: [a, new optim.StepLR(other, { stepSize: 2 })], milestones: [3] })).toThrow('SequentialLR: scheduler 1 was made for another optimizer');
    expect(() => new optim.ReduceLROnPlateau(opt, { factor: 1 })).toThrow('ReduceLROnPlateau: factor must be in [0, 1); got 1');
    expect(() => new optim.ReduceLROnPlateau(opt, { mode: 'up' as 'min' })).toThrow("ReduceLROnPlateau: mode must be 'min' or 'max'; got up");
    expect(() => new optim.ReduceLROnPlateau(opt, { minLr: [0, 0] })).toThrow('ReduceLROnPlateau: expected 1 minLr values (one per parameter group); got 2');
    expect(() => new optim.ReduceLROnPlateau(opt).step(tensor(1) as unknown as number)).toThrow('ReduceLROnPlateau.step: metric must be a number');
  });
});

describe('gradient clipping', () => {
  it('clipGradValue clamps every gradient in place, as torch.nn.utils.clip_grad_value_', () => {
    const want = ref.clipGradValue;
    const a = parameter(tensor([3, -4, 0.5]));
    const c = parameter(tensor([[12, -0.25]]));
    const none = parameter(tensor([1]));
    a.grad = tensor([3, -4, 0.5]);
    c.grad = tensor([[12, -0.25]]);
    optim.clipGradValue([a, c, none], 1.5);
    expect(Array.from(a.grad.dataSync())).toEqual(want.a);
    expect(Array.from(c.grad.dataSync())).toEqual(want.c);
    expect(none.grad).toBeNull();
    expect(() => optim.clipGradValue([a], -1)).toThrow('clipGradValue: clipValue must be a number >= 0; got -1');
    const before = memory();
    tidy(() => optim.clipGradValue([a, c], 0.5));
    expect(memory().tensors).toBe(before.tensors);
  });

  // issue 16: the norm clipGradNorm returns was keep()'d, so a tidy around the call let it out: one tensor per call
  it('clipGradNorm inside tidy leaks nothing (the returned norm belongs to the tidy)', () => {
    const a = parameter(tensor([3, 4]));
    const b = parameter(tensor([[12]]));
    const call = () => {
      for (const p of [a, b]) p.grad?.dispose();
      a.grad = tensor([3, 4]);
      b.grad = tensor([[12]]);
      tidy(() => void optim.clipGradNorm([a, b], 1));
    };
    call();
    const before = memory();
    for (let i = 0; i < 5; i++) call();
    expect(memory().tensors).toBe(before.tensors);
    expect(memory().bytes).toBe(before.bytes);
    // a returned norm is still usable inside the tidy, and a caller outside any scope owns it
    const kept = tidy(() => optim.clipGradNorm([a, b], 1));
    expect(kept.isDisposed).toBe(false);
    kept.dispose();
  });
});
