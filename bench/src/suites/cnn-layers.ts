import { functional as F } from '@tapegrad/nn';
import { manualSeed, randn, relu, tidy, type Tensor } from '@tapegrad/tensor';
import { cpuKernelInfo } from '@tapegrad/backend-cpu';
import { defineSuite, speedup, type Cell } from '../harness.js';

// The MNIST CNN's layers one at a time, at batch 64, beside PyTorch: where a training step's
// time goes, layer by layer. Each row times the forward pass alone, then forward + backward from
// a fixed output gradient, computing the gradients the model needs (the first convolution's
// input is the data, so it gets none; every later layer's input does).
const B = 64;
interface Layer {
  name: string;
  input: number[];
  inputGrad: boolean;
  /** tapegrad's forward, given the input and the layer's parameters. */
  ours(x: Tensor, p: Tensor[]): Tensor;
  /** The parameters' shapes. */
  params: number[][];
  /** PyTorch's forward over x and the list p, as a Python expression. */
  torch: string;
}
const LAYERS: Layer[] = [
  { name: 'conv 3x3 1->8, 28x28', input: [B, 1, 28, 28], inputGrad: false, params: [[8, 1, 3, 3], [8]], ours: (x, [w, b]) => F.conv2d(x, w!, b, { padding: 1 }), torch: 'F.conv2d(x, p[0], p[1], padding=1)' },
  { name: 'relu + maxpool 2, 8x28x28', input: [B, 8, 28, 28], inputGrad: true, params: [], ours: (x) => F.maxPool2d(relu(x), 2), torch: 'F.max_pool2d(F.relu(x), 2)' },
  { name: 'conv 3x3 8->16, 14x14', input: [B, 8, 14, 14], inputGrad: true, params: [[16, 8, 3, 3], [16]], ours: (x, [w, b]) => F.conv2d(x, w!, b, { padding: 1 }), torch: 'F.conv2d(x, p[0], p[1], padding=1)' },
  { name: 'relu + maxpool 2, 16x14x14', input: [B, 16, 14, 14], inputGrad: true, params: [], ours: (x) => F.maxPool2d(relu(x), 2), torch: 'F.max_pool2d(F.relu(x), 2)' },
];

export default defineSuite({
  name: 'cnn-layers',
  async run(ctx) {
    const opts = { warmup: 5, reps: ctx.quick ? 3 : 21, minMs: 0 };
    const torch = ctx.torch<[number, number][]>(`
import torch.nn.functional as F
torch.manual_seed(0)
layers = [${LAYERS.map((l) => `(${JSON.stringify(l.input)}, ${l.inputGrad ? 'True' : 'False'}, ${JSON.stringify(l.params)}, lambda x, p: ${l.torch})`).join(', ')}]
out = []
for shape, grad, params, f in layers:
    x = torch.randn(shape, requires_grad=grad)
    p = [torch.randn(s, requires_grad=True) for s in params]
    seed = torch.randn(f(x, p).shape)
    def step():
        for t in [x, *p]: t.grad = None
        f(x, p).backward(seed)
    out.append([bench(lambda: f(x, p), warmup=${opts.warmup}, reps=${opts.reps}, min_s=0), bench(step, warmup=${opts.warmup}, reps=${opts.reps}, min_s=0)])
print(json.dumps(out))
`);

    const rows: Cell[][] = [];
    for (const [i, layer] of LAYERS.entries()) {
      manualSeed(0);
      const x = randn(layer.input).requiresGrad_(layer.inputGrad);
      const params = layer.params.map((s) => randn(s).requiresGrad_());
      const seed = tidy(() => randn(layer.ours(x, params).shape));
      const forward = (await ctx.time(() => tidy(() => void layer.ours(x, params)), opts)).median;
      const both = (await ctx.time(() => {
        tidy(() => layer.ours(x, params).backward(seed));
        for (const t of [x, ...params]) t.grad = (t.grad?.dispose(), null);
      }, opts)).median;
      for (const t of [x, seed, ...params]) t.dispose();
      const [pf, pb] = torch?.[i] ?? [undefined, undefined];
      rows.push([layer.name, forward, both, pf, pb, speedup(forward, pf), speedup(both, pb)]);
    }
    const info = cpuKernelInfo();
    return [{
      title: `MNIST CNN layers at batch ${B}, float32: ms per call (lower is better)`,
      columns: ['layer', 'tapegrad fwd', 'tapegrad fwd+bwd', 'PyTorch fwd', 'PyTorch fwd+bwd', 'vs PyTorch fwd', 'vs PyTorch fwd+bwd'],
      rows,
      notes: [`tapegrad: WebAssembly ${info.simd}, ${info.threads} thread(s); PyTorch: ${torch ? 'torch CPU, default threads' : 'not available'}.`],
    }];
  },
});
