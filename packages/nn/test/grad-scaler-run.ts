// Replays a scenario of fixtures/grad-scaler.json (PyTorch's GradScaler, see gen_grad-scaler.py)
// with tapegrad's on a device, checking after each step what PyTorch had. Shared by
// grad-scaler.test.ts (CPU) and packages/tapegrad/test/grad-scaler-webgpu.test.ts (WebGPU).
import { expect } from 'vitest';
import { scope, tensor, type DType } from '@tapegrad/tensor';
import { amp, optim } from '../src/index.js';

type Value = number | string; // "Infinity", "-Infinity" and "NaN" stand for what JSON cannot hold
export interface Enc {
  shape: number[];
  data: Value[];
}
interface Step {
  loss: Value;
  skipped: boolean[];
  stateDict: amp.GradScalerStateDict;
  params: Record<'w' | 'b', Enc>;
  adamSteps: number[][];
  unscaledGrads?: Record<'w' | 'b', Enc>;
}
export interface Scenario {
  name: string;
  scaler: Record<string, number>;
  optimizers: { cls: 'SGD' | 'Adam'; params: ('w' | 'b')[]; options: Record<string, number> }[];
  clip: number | null;
  inject: Record<string, ['w' | 'b', number, 'inf' | '-inf' | 'nan'][]>;
  newScale: Record<string, number>;
  zeroLoss: boolean;
  lossFactors: number[];
  runs: Record<string, Step[]>;
}
export interface ScalerFixture {
  x: Enc;
  y: Enc;
  w0: Enc;
  b0: Enc;
  scenarios: Scenario[];
  errors: Record<string, string>;
  defaults: { before: { scale: number; stateDict: amp.GradScalerStateDict }; growthFactor: number; backoffFactor: number; growthInterval: number; loss: number; scaledLoss: number };
  disabled: { scaleReturnsInput: boolean; scale: number; isEnabled: boolean; stateDict: Record<string, never>; w: Enc };
  resume: { saved: amp.GradScalerStateDict; loaded: amp.GradScalerStateDict; scaleAfterLoad: number };
}

const decode = (v: Value): number => (typeof v === 'string' ? Number(v) : v);
const camel = (k: string) => k.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
const INJECT = { inf: Infinity, '-inf': -Infinity, nan: NaN };

/** Relative closeness as |a − e| / (1 + |e|); a NaN or infinity must be matched exactly. */
export function expectValues(got: ArrayLike<number>, want: Enc, tol: number, what: string): void {
  expect(got.length, what).toBe(want.data.length);
  want.data.forEach((w, i) => {
    const e = decode(w);
    const a = got[i]!;
    const ok = Number.isFinite(e) ? Math.abs(a - e) / (1 + Math.abs(e)) <= tol : Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e));
    if (!ok) expect.fail(`${what}[${i}]: got ${a}, expected ${e} (PyTorch)`);
  });
}

export interface RunOptions {
  /** Before this step, the scaler and optimizers are replaced by fresh ones loaded from their state dicts. */
  restoreAt?: number;
  /** Called after each update(). */
  afterStep?: () => unknown;
}

/** Train the fixture's model with tapegrad as the scenario says, and compare every step with PyTorch's. */
export async function runScenario(ref: ScalerFixture, sc: Scenario, dtype: DType, device: string, method: 'step' | 'stepAsync', options: RunOptions = {}): Promise<void> {
  const tol = dtype === 'float64' ? 1e-10 : 3e-5;
  const make = (e: Enc) => tensor(e.data.map(decode), { shape: e.shape, dtype, device });
  const [x, y] = [make(ref.x), make(ref.y)];
  const params = { w: make(ref.w0).requiresGrad_(), b: make(ref.b0).requiresGrad_() };
  const newOptimizer = (i: number): optim.Optimizer<{ lr: number }> => {
    const { cls, params: names, options: o } = sc.optimizers[i]!;
    return new optim[cls](names.map((n) => params[n]), o);
  };
  let opts = sc.optimizers.map((_, i) => newOptimizer(i));
  const scalerOptions = Object.fromEntries(Object.entries(sc.scaler).map(([k, v]) => [camel(k), v]));
  let scaler = new amp.GradScaler(scalerOptions);
  const steps = sc.runs[dtype]!;
  try {
    for (let k = 0; k < steps.length; k++) {
      const want = steps[k]!;
      const at = `${sc.name} (${dtype} on ${device}), step ${k}`;
      if (k === options.restoreAt) {
        const saved = JSON.parse(JSON.stringify(scaler.stateDict()));
        scaler = new amp.GradScaler({ initScale: 3, growthInterval: 99 });
        scaler.loadStateDict(saved);
        opts = opts.map((old, i) => {
          const fresh = newOptimizer(i);
          fresh.loadStateDict(old.stateDict());
          old.dispose();
          return fresh;
        });
      }
      using _s = scope();
      for (const o of opts) o.zeroGrad();
      let loss = x.matmul(params.w).add(params.b).sub(y).square().mean();
      if (sc.zeroLoss) loss = loss.mul(0);
      for (const f of sc.lossFactors) loss = loss.mul(f);
      scaler.scale(loss).backward();
      for (const [name, index, what] of sc.inject[k] ?? []) {
        const mask = new Array<number>(params[name].size).fill(0);
        mask[index] = INJECT[what];
        params[name].grad!.add_(tensor(mask, { shape: params[name].shape, dtype, device }));
      }
      const before = await Promise.all(opts.map((o) => Promise.all(o.paramGroups[0]!.params.map((p) => p.data()))));
      if (sc.clip !== null) {
        for (const o of opts) scaler.unscale_(o);
        for (const n of ['w', 'b'] as const) expectValues(await params[n].grad!.data(), want.unscaledGrads![n], tol, `${at}: ${n}.grad after unscale_`);
        optim.clipGradNorm([params.w, params.b], sc.clip);
      }
      for (const o of opts) {
        if (method === 'step') scaler.step(o);
        else await scaler.stepAsync(o);
      }
      const newScale = sc.newScale[String(k)];
      if (newScale === undefined) scaler.update();
      else scaler.update(newScale);
      options.afterStep?.();

      expectValues([await loss.item()], { shape: [], data: [want.loss] }, tol, `${at}: loss`);
      expect(scaler.stateDict(), `${at}: state dict`).toEqual(want.stateDict);
      for (const n of ['w', 'b'] as const) expectValues(await params[n].data(), want.params[n], tol, `${at}: ${n}`);
      for (const [i, o] of opts.entries()) {
        if (!want.skipped[i]) continue;
        // a skipped step leaves the parameters bit for bit
        const after = await Promise.all(o.paramGroups[0]!.params.map((p) => p.data()));
        after.forEach((a, j) => expect(Array.from(a), `${at}: optimizer ${i} skipped`).toEqual(Array.from(before[i]![j]!)));
      }
      const adams = opts.filter((o) => o instanceof optim.Adam);
      expect(
        adams.map((o) => o.paramGroups[0]!.params.map((p) => (o.state.get(p)?.step as number | undefined) ?? 0)),
        `${at}: Adam's step counts`,
      ).toEqual(want.adamSteps);
    }
  } finally {
    for (const o of opts) o.dispose();
    for (const t of [x, y, params.w, params.b]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}

