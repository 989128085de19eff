// tapegrad-mlp.js with the layers, loss and optimizer imported from the subpath entries, which
// esbuild tree-shakes (through tg.nn it keeps every member of the namespace).
import * as tg from 'tapegrad';
import * as nn from 'tapegrad/nn';
import * as F from 'tapegrad/nn/functional';
import * as optim from 'tapegrad/optim';

export async function train(steps = 100) {
  const device = await tg.initWebGPU().then(() => 'webgpu', () => 'cpu');
  const model = new nn.Sequential(new nn.Linear(2, 16), new nn.ReLU(), new nn.Linear(16, 1)).to(device);
  const opt = new optim.Adam(model.parameters(), { lr: 0.02 });
  const x = tg.rand([64, 2], { device });
  const y = tg.tidy(() => x.narrow(1, 0, 1).mul(x.narrow(1, 1, 1)));
  for (let step = 0; step < steps; step++) {
    tg.tidy(() => {
      opt.zeroGrad();
      const loss = F.mseLoss(model.forward(x), y);
      loss.backward();
      opt.step();
    });
  }
  return model.forward(x).data();
}
