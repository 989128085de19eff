// autocast (float16) on WebGPU (the software adapter in CI; TAPEGRAD_REQUIRE_WEBGPU=1 makes a
// missing adapter a failure rather than a skip), read asynchronously: every op case and the MLP
// and CNN of fixtures/autocast.json (PyTorch's values, from fixtures/gen_autocast.py) within the
// CPU test's tolerances; the ops that read half input into float32 (softmax, logSoftmax, sum,
// mean with { dtype }, crossEntropy and nllLoss under autocast) as cast-then-op, bit for bit,
// without a cast copy; WebGPU against CPU autocast on random inputs; bfloat16 refused.
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { CALL, copies, expectWithin, make, modelForward, ref, ulp } from './autocast-cases.js';
import { throws, webgpuForTests } from './helpers.js';

const F = tg.nn.functional;
const device = 'webgpu';
const gpu = await webgpuForTests('autocast');
const gpuDescribe = gpu ? describe : describe.skip;
const read = async (t: tg.Tensor) => Array.from(await t.cast('float32').data());

// the gradient of y with respect to the leaf x, leaving x.grad as it was (null)
function gradOf(y: tg.Tensor, x: tg.Tensor): tg.Tensor {
  x.grad = null;
  y.backward();
  const g = x.grad!;
  x.grad = null;
  return g;
}

gpuDescribe('autocast float16 on WebGPU: ops against PyTorch\'s (CUDA) lists', () => {
  for (const c of ref.ops.float16) {
    it(`${c.name}: ${c.inputs.map((i) => i.dtype).join(', ')} -> ${c.out.dtype}`, async () => {
      using _s = tg.scope();
      const xs = c.inputs.map((i) => make(i, device));
      const y = tg.autocast({ device }, () => CALL[c.name]!(...xs));
      expect(y.dtype).toBe(c.out.dtype);
      expect(y.shape).toEqual(c.out.shape);
      const half = tg.isHalf(c.out.dtype);
      expectWithin(await read(y), c.out.values, (w) => (half ? ulp(c.out.dtype, w) : 2e-6 * Math.abs(w) + 1e-7), c.name);
    });
  }
});

gpuDescribe('autocast float16 on WebGPU: an MLP and a CNN, forward and backward', () => {
  for (const kind of ['mlp', 'cnn'] as const) {
    it(`${kind}: float32 loss and float32 parameter gradients as torch's`, async () => {
      using _s = tg.scope();
      const m = ref.models.float16[kind];
      const { P, logits, loss } = modelForward(kind, m, device, 'float16');
      expect(logits.dtype).toBe('float16');
      expect(loss.dtype).toBe('float32');
      expectWithin(await read(logits), m.logits, (w) => ulp('float16', w), 'logits');
      expect(Math.abs((await loss.item()) - m.loss)).toBeLessThan(1e-3 * Math.abs(m.loss));
      loss.backward();
      for (const [k, p] of Object.entries(P)) {
        expect(p.grad!.dtype, k).toBe('float32');
        const want = m.grads[k]!;
        const scale = Math.max(...want.map(Math.abs));
        expectWithin(await p.grad!.data(), want, () => 4 * ulp('float16', scale), `grad ${k}`);
      }
    });
  }
});

gpuDescribe('autocast float16 on WebGPU: ops that read half input into a float32 result', () => {
  const x32 = () => tg.randn([5, 9], { device }).mul(3);
  const cases: [string, (x: tg.Tensor, dtype?: tg.DType) => tg.Tensor][] = [
    ['softmax', (x, dtype) => tg.softmax(x, 1, { dtype })],
    ['logSoftmax', (x, dtype) => tg.logSoftmax(x, 0, { dtype })],
    ['sum', (x, dtype) => tg.sum(x, [1], true, { dtype })],
    ['mean', (x, dtype) => tg.mean(x, undefined, false, { dtype })],
  ];
  for (const [name, f] of cases) {
    it(`${name}(float16, { dtype: 'float32' }) equals ${name}(cast) bit for bit, with no cast copy; gradient too`, async () => {
      using _s = tg.scope();
      tg.manualSeed(3);
      const x = x32().cast('float16').requiresGrad_();
      const spy = copies(device);
      const direct = f(x, 'float32');
      const copied = spy.count();
      spy.restore();
      expect(copied).toBe(0);
      const viaCast = f(x.cast('float32'));
      expect(direct.dtype).toBe('float32');
      expect(Array.from(await direct.data())).toEqual(Array.from(await viaCast.data()));
      const w = tg.randn(direct.shape, { device });
      const g1 = gradOf(direct.mul(w).sum(), x);
      const g2 = gradOf(viaCast.mul(w).sum(), x);
      expect(g1.dtype).toBe('float16');
      expect(await read(g1)).toEqual(await read(g2));
    });
  }
  it('crossEntropy (weight, labelSmoothing) and nllLoss (weight) under autocast read float16 logits: the same bits as cast-then-loss, no cast copy', async () => {
    using _s = tg.scope();
    tg.manualSeed(4);
    const logits = x32().cast('float16').requiresGrad_();
    const target = tg.tensor([0, 3, 8, 2, 5], { dtype: 'int32', device });
    const weight = tg.rand([9], { device }).add(0.5);
    for (const [name, loss] of [
      ['crossEntropy', (x: tg.Tensor) => F.crossEntropy(x, target, { weight, labelSmoothing: 0.1 })],
      ['nllLoss', (x: tg.Tensor) => F.nllLoss(x, target, { weight })],
    ] as const) {
      const spy = copies(device);
      const l = tg.autocast({ device }, () => loss(logits));
      const copied = spy.count();
      spy.restore();
      expect(copied, `${name}: no cast of the logits (the weight is float32 already)`).toBe(0);
      const ref32 = loss(logits.cast('float32'));
      expect(l.dtype).toBe('float32');
      expect(await l.item(), name).toBe(await ref32.item());
      const g1 = gradOf(l, logits);
      const g2 = gradOf(ref32, logits);
      expect(g1.dtype).toBe('float16');
      expect(await read(g1), name).toEqual(await read(g2));
    }
  });
});

gpuDescribe('autocast float16: WebGPU against the CPU on random inputs', () => {
  // the same model, data and region on both devices; the devices may sum in different orders, so a
  // half rounding may flip: the tolerances are a few units of float16 at the values' scale
  async function run(device: tg.Device) {
    using _s = tg.scope();
    tg.manualSeed(11);
    const m = new tg.nn.Sequential(new tg.nn.Conv2d(2, 4, 3, { padding: 1 }), new tg.nn.ReLU(), new tg.nn.MaxPool2d(2), new tg.nn.Flatten(), new tg.nn.Linear(36, 16), new tg.nn.GELU(), new tg.nn.LayerNorm(16), new tg.nn.Linear(16, 5)).to(device);
    const x = tg.randn([6, 2, 6, 6]).to(device);
    const target = tg.tensor([0, 4, 1, 3, 2, 2], { dtype: 'int32' }).to(device);
    const { logits, loss } = tg.autocast({ device, dtype: 'float16' }, () => {
      const logits = m.forward(x);
      return { logits, loss: F.crossEntropy(logits, target, { labelSmoothing: 0.05 }) };
    });
    loss.backward();
    const grads: Record<string, number[]> = {};
    for (const [k, p] of m.namedParameters()) grads[k] = Array.from(await p.grad!.data());
    const out = { logitsDtype: logits.dtype, logits: await read(logits), loss: await loss.item(), grads };
    m.dispose();
    return out;
  }
  it('a CNN with GELU and LayerNorm: logits, loss and every parameter gradient', async () => {
    const [c, g] = [await run('cpu'), await run(device)];
    expect(g.logitsDtype).toBe(c.logitsDtype);
    const scale = (v: number[]) => Math.max(...v.map(Math.abs));
    expectWithin(g.logits, c.logits, () => 4 * ulp('float16', scale(c.logits)), 'logits');
    expect(Math.abs(g.loss - c.loss)).toBeLessThan(4 * ulp('float16', c.loss));
    for (const [k, want] of Object.entries(c.grads)) expectWithin(g.grads[k]!, want, () => 8 * ulp('float16', scale(want)), `grad ${k}`);
  });
});

gpuDescribe('autocast bfloat16 on WebGPU', () => {
  it('is refused at region entry, naming the dtype, the device and the way out', () => {
    throws(() => tg.autocast({ device, dtype: 'bfloat16' }, () => 0), tg.DTypeError, /^autocast: dtype bfloat16 is not available on 'webgpu': bfloat16 is not supported on WebGPU .*use float16/);
    expect(tg.isAutocastEnabled(device)).toBe(false);
    // a disabled region does nothing, so it does not care
    expect(tg.autocast({ device, dtype: 'bfloat16', enabled: false }, () => 1)).toBe(1);
  });
  it('the default on WebGPU is float16', () => {
    using _s = tg.scope();
    const y = tg.autocast({ device }, () => tg.matmul(tg.randn([2, 3], { device }), tg.randn([3, 2], { device })));
    expect(y.dtype).toBe('float16');
  });
});
