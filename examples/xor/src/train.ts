import * as tg from 'tapegrad';

/** Fit a 2-8-1 MLP to XOR with plain SGD, written with core ops only; returns the losses. */
export function trainXor({ steps = 500, lr = 0.5, seed = 0, log = (_: string) => {} } = {}): number[] {
  tg.manualSeed(seed);
  const x = tg.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
  const y = tg.tensor([[0], [1], [1], [0]]);
  const w1 = tg.randn([2, 8]).mul(0.8).detach().requiresGrad_();
  const b1 = tg.zeros([8], { requiresGrad: true });
  const w2 = tg.randn([8, 1]).mul(0.8).detach().requiresGrad_();
  const b2 = tg.zeros([1], { requiresGrad: true });
  const params = [w1, b1, w2, b2];
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    tg.tidy(() => {
      const p = x.matmul(w1).add(b1).tanh().matmul(w2).add(b2).sigmoid();
      // binary cross-entropy, clamped away from log(0)
      const pc = p.clamp(1e-7, 1 - 1e-7);
      const loss = y.mul(pc.log()).add(y.neg().add(1).mul(pc.neg().add(1).log())).mean().neg();
      for (const t of params) t.grad = (t.grad?.dispose(), null);
      loss.backward();
      tg.noGrad(() => params.forEach((t) => t.sub_(t.grad!.mul(lr))));
      losses.push(loss.itemSync());
      if (step % 100 === 0 || step === steps - 1) log(`step ${String(step).padStart(4)}  loss ${losses[step]!.toFixed(4)}`);
    });
  }
  const pred = tg.noGrad(() => x.matmul(w1).add(b1).tanh().matmul(w2).add(b2).sigmoid());
  log(`predictions for (0,0) (0,1) (1,0) (1,1): ${Array.from(pred.dataSync(), (v) => v.toFixed(3)).join(' ')}`);
  pred.dispose();
  return losses;
}
