import { cpuKernelInfo } from '@tapegrad/backend-cpu';
import { manualSeed, nn, optim, randint, randn, tidy, zeros, type Tensor } from 'tapegrad';
import { defineSuite, fmt, speedup } from '../harness.js';

// One training step of an MNIST-shaped MLP, 784-128-10 at batch 64, as the workload:
// forward (matmul, bias, relu, matmul, bias, softmax cross-entropy), backward, an SGD update with
// momentum 0.9 in place, and reading the loss (the one sync per step a training loop does). Every
// framework computes x·W with W stored [in, out] and uses its own cross-entropy and optimizer.
const B = 64, IN = 784, HID = 128, OUT = 10, LR = 0.01, MOMENTUM = 0.9;

export default defineSuite({
  name: 'mlp-step',
  async run(ctx) {
    const reps = ctx.quick ? 11 : 31;

    manualSeed(0);
    const x = randn([B, IN]);
    const y = randint(0, OUT, [B]);
    const labels = Array.from(y.dataSync());
    const params = [randn([IN, HID]).mul(0.05), zeros([HID]), randn([HID, OUT]).mul(0.1), zeros([OUT])].map((p) => p.requiresGrad_());
    const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
    const opt = new optim.SGD(params, { lr: LR, momentum: MOMENTUM });
    const ours = await ctx.time(
      () =>
        tidy(() => {
          const loss = nn.functional.crossEntropy(x.matmul(w1).add(b1).relu().matmul(w2).add(b2), y);
          opt.zeroGrad();
          loss.backward();
          opt.step();
          return loss.itemSync();
        }),
      { reps, warmup: 5 },
    );

    const tfjsStep = async (backend: 'cpu' | 'wasm') => {
      const { tf } = await ctx.tfjs(backend);
      const tx = tf.randomNormal([B, IN]);
      const ty = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), OUT), 'float32');
      const vars = [tf.variable(tf.mul(tf.randomNormal([IN, HID]), 0.05)), tf.variable(tf.zeros([HID])), tf.variable(tf.mul(tf.randomNormal([HID, OUT]), 0.1)), tf.variable(tf.zeros([OUT]))];
      const [v1, c1, v2, c2] = vars as [typeof vars[0], typeof vars[0], typeof vars[0], typeof vars[0]];
      const opt = tf.train.momentum(LR, MOMENTUM);
      const step = () =>
        tf.tidy(() => {
          const value = opt.minimize(() => {
            const logits = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(tx, v1), c1)), v2), c2);
            return tf.losses.softmaxCrossEntropy(ty, logits) as ReturnType<typeof tf.scalar>;
          }, true, vars);
          return value!.dataSync()[0];
        });
      const t = await ctx.time(step, backend === 'cpu' ? { reps: 3, warmup: 1, minMs: 0 } : { reps, warmup: 5 });
      opt.dispose();
      tf.dispose([tx, ty, ...vars]);
      return t.median;
    };
    const wasm = await tfjsStep('wasm');
    const cpu = await tfjsStep('cpu');
    const torch = ctx.torch<number>(`
import torch.nn.functional as F
B, IN, HID, OUT, LR, MOMENTUM = ${B}, ${IN}, ${HID}, ${OUT}, ${LR}, ${MOMENTUM}
x, y = torch.randn(B, IN), torch.randint(0, OUT, (B,))
ps = [(torch.randn(IN, HID) * 0.05).requires_grad_(), torch.zeros(HID, requires_grad=True), (torch.randn(HID, OUT) * 0.1).requires_grad_(), torch.zeros(OUT, requires_grad=True)]
w1, b1, w2, b2 = ps
opt = torch.optim.SGD(ps, lr=LR, momentum=MOMENTUM)
def step():
    loss = F.cross_entropy(torch.relu(x @ w1 + b1) @ w2 + b2, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()
print(json.dumps(bench(step, warmup=5, reps=${reps})))
`);
    const info = cpuKernelInfo();
    const flops = 3 * 2 * B * (IN * HID + HID * OUT); // forward + two backward matmuls each
    return [{
      title: 'MLP training step, 784-128-10, batch 64, SGD momentum (ms per step, lower is better)',
      columns: ['framework', 'ms/step', 'matmul GFLOP/s equiv.', 'tapegrad speed-up'],
      rows: [
        [`tapegrad (WebAssembly ${info.simd}, ${info.threads} thr)`, ours.median, flops / (ours.median * 1e6), '1x'],
        ['tfjs wasm', wasm, flops / (wasm * 1e6), speedup(ours.median, wasm)],
        ['tfjs cpu', cpu, flops / (cpu * 1e6), speedup(ours.median, cpu)],
        ['PyTorch', torch, torch ? flops / (torch * 1e6) : undefined, speedup(ours.median, torch)],
      ],
      notes: [`An MNIST epoch is 938 such steps: tapegrad ≈ ${fmt((ours.median * 938) / 1000)} s of steps alone at this rate.`],
    }];
  },
});
