import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { nn, optim } from '../src/index.js';

// Issue 15, bug 1, end to end: a small VAE (sigmoid + binary cross-entropy + KL) trained the
// documented way, each step in tidy(), follows PyTorch's float32 trajectory step for step.
// Before the fix it drifted from the second step and died with NaN near step 48.
// fixtures/gen_vae.py wrote fixtures/vae.json with Debian's torch 1.13.

interface Encoded { shape: number[]; data: number[] }
const ref: { init: Record<string, Encoded>; x: Encoded; noise: Encoded; lr: number; losses: number[]; firstGrads: Record<string, Encoded> } =
  JSON.parse(readFileSync(new URL('./fixtures/vae.json', import.meta.url), 'utf8'));
const t = (e: Encoded) => tg.tensor(e.data, { shape: e.shape });

describe('a VAE trained step by step matches PyTorch', () => {
  it('loss of every step within float32 tolerance, first-step gradients too', () => {
    const [D, H, Z] = [ref.x.shape[1]!, ref.init['enc1.weight']!.shape[0]!, ref.init['mu.weight']!.shape[0]!];
    const m = { enc1: new nn.Linear(D, H), mu: new nn.Linear(H, Z), lv: new nn.Linear(H, Z), dec1: new nn.Linear(Z, H), dec2: new nn.Linear(H, D) };
    for (const [name, mod] of Object.entries(m)) mod.loadStateDict({ weight: t(ref.init[`${name}.weight`]!), bias: t(ref.init[`${name}.bias`]!) });
    const params = Object.values(m).flatMap((mod) => mod.parameters());
    const opt = new optim.Adam(params, { lr: ref.lr });
    const x = t(ref.x);
    const noise = t(ref.noise);

    const losses: number[] = [];
    for (let step = 0; step < ref.losses.length; step++) {
      tg.tidy(() => {
        opt.zeroGrad();
        const h = m.enc1.forward(x).tanh();
        const mu = m.mu.forward(h), lv = m.lv.forward(h);
        const z = mu.add(lv.mul(0.5).exp().mul(noise.narrow(0, step, 1).squeeze(0)));
        const recon = m.dec2.forward(m.dec1.forward(z).tanh()).sigmoid();
        const bce = nn.functional.binaryCrossEntropy(recon, x, { reduction: 'sum' });
        const kl = lv.add(1).sub(mu.square()).sub(lv.exp()).sum().mul(-0.5);
        const loss = bce.add(kl);
        loss.backward();
        if (step === 0) {
          for (const [name, mod] of Object.entries(m)) {
            for (const [k, p] of [['weight', mod.weight], ['bias', mod.bias!]] as const) {
              const want = ref.firstGrads[`${name}.${k}`]!.data;
              const got = p.grad!.dataSync();
              want.forEach((w, i) => expect(Math.abs(got[i]! - w), `${name}.${k}[${i}]`).toBeLessThanOrEqual(1e-4 + 1e-4 * Math.abs(w)));
            }
          }
        }
        losses.push(loss.itemSync());
        opt.step();
      });
    }
    ref.losses.forEach((want, step) => {
      expect(Number.isFinite(losses[step]), `step ${step}`).toBe(true);
      expect(Math.abs(losses[step]! - want), `step ${step}: ${losses[step]} vs PyTorch ${want}`).toBeLessThanOrEqual(2e-4 * Math.abs(want));
    });
  });
});
