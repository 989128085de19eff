import '@tapegrad/autograd';
import { noGrad } from '@tapegrad/autograd';
import { cpuKernelInfo } from '@tapegrad/backend-cpu';
import { logSoftmax, manualSeed, randint, randn, tensor, tidy, zeros, type Tensor } from '@tapegrad/tensor';
import { defineSuite, fmt, speedup } from '../harness.js';

// One SGD step of an MNIST-shaped MLP, 784-128-10 at batch 64: forward (matmul, bias, relu,
// matmul, bias, softmax cross-entropy), backward, update in place, and reading the loss (the one
// sync per step a training loop does). Every framework computes x·W with W stored [in, out].
const B = 64, IN = 784, HID = 128, OUT = 10, LR = 0.01;

export default defineSuite({
  name: 'mlp-step',
  async run(ctx) {
    const reps = ctx.quick ? 11 : 31;

    manualSeed(0);
    const x = randn([B, IN]);
    const labels = Array.from(randint(0, OUT, [B]).dataSync());
    const onehot = tensor(labels.map((l) => Array.from({ length: OUT }, (_, j) => (j === l ? 1 : 0))));
    const params = [randn([IN, HID]).mul(0.05), zeros([HID]), randn([HID, OUT]).mul(0.1), zeros([OUT])].map((p) => p.requiresGrad_());
    const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
    const ours = await ctx.time(
      () =>
        tidy(() => {
          const logits = x.matmul(w1).add(b1).relu().matmul(w2).add(b2);
          const loss = logSoftmax(logits, 1).mul(onehot).sum().div(-B);
          for (const p of params) p.grad = (p.grad?.dispose(), null);
          loss.backward();
          noGrad(() => params.forEach((p) => p.sub_(p.grad!.mul(LR))));
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
      const step = () =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const logits = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(tx, v1), c1)), v2), c2);
            return tf.losses.softmaxCrossEntropy(ty, logits) as ReturnType<typeof tf.scalar>;
          }, vars);
          for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, LR)));
          return value.dataSync()[0];
        });
      const t = await ctx.time(step, backend === 'cpu' ? { reps: 3, warmup: 1, minMs: 0 } : { reps, warmup: 5 });
      tf.dispose([tx, ty, ...vars]);
      return t.median;
    };
    const wasm = await tfjsStep('wasm');
    const cpu = await tfjsStep('cpu');
    const torch = ctx.torch<number>(`
import torch.nn.functional as F
B, IN, HID, OUT, LR = ${B}, ${IN}, ${HID}, ${OUT}, ${LR}
x, y = torch.randn(B, IN), torch.randint(0, OUT, (B,))
ps = [(torch.randn(IN, HID) * 0.05).requires_grad_(), torch.zeros(HID, requires_grad=True), (torch.randn(HID, OUT) * 0.1).requires_grad_(), torch.zeros(OUT, requires_grad=True)]
w1, b1, w2, b2 = ps
def step():
    loss = F.cross_entropy(torch.relu(x @ w1 + b1) @ w2 + b2, y)
    for p in ps: p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in ps: p.sub_(p.grad * LR)
    return loss.item()
print(json.dumps(bench(step, warmup=5, reps=${reps})))
`);
    const info = cpuKernelInfo();
    const flops = 3 * 2 * B * (IN * HID + HID * OUT); // forward + two backward matmuls each
    return [{
      title: 'MLP training step, 784-128-10, batch 64 (ms per step, lower is better)',
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
