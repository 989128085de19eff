// The bundle-size suite's tapegrad entry: train a 2-16-1 MLP with Adam, on WebGPU when the
// browser gives an adapter, else on the CPU. The same model in each library's own idiom.
import * as tg from 'tapegrad';

export async function train(steps = 100) {
  const device = await tg.initWebGPU().then(() => 'webgpu', () => 'cpu');
  const model = new tg.nn.Sequential(new tg.nn.Linear(2, 16), new tg.nn.ReLU(), new tg.nn.Linear(16, 1)).to(device);
  const opt = new tg.optim.Adam(model.parameters(), { lr: 0.02 });
  const x = tg.rand([64, 2], { device });
  const y = tg.tidy(() => x.narrow(1, 0, 1).mul(x.narrow(1, 1, 1)));
  for (let step = 0; step < steps; step++) {
    tg.tidy(() => {
      opt.zeroGrad();
      const loss = tg.nn.functional.mseLoss(model.forward(x), y);
      loss.backward();
      opt.step();
    });
  }
  return model.forward(x).data();
}
