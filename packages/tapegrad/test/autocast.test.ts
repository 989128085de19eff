// autocast (issue 18) against PyTorch: output dtypes and values per op, a small MLP and CNN
// forward and backward (float32 loss, float32 parameter gradients), the cast cache, regions
// (nested, disabled, `using` across await, async flows), errors, the output-dtype option of the
// ops autocast runs on half input, and Module.to(dtype). The reference values are in
// fixtures/autocast.json, written by fixtures/gen_autocast.py (its docstring says how: PyTorch's
// CUDA lists emulated by explicit casts, checked against torch.autocast('cpu') where they agree).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import * as tg from '../src/index.js';
import { CALL, copies, expectWithin, HALVES, make, modelForward, ref, ulp, type Half } from './autocast-cases.js';
import { throws } from './helpers.js';

const F = tg.nn.functional;
// WebGPU's tests, which read asynchronously: autocast-webgpu.test.ts
const devices: tg.Device[] = ['cpu'];
for (const device of devices) {
  describe(`autocast on ${device}`, () => {
    for (const dtype of HALVES) {
      describe(`${dtype}: ops against PyTorch's (CUDA) lists`, () => {
        for (const c of ref.ops[dtype]) {
          it(`${c.name}: ${c.inputs.map((i) => i.dtype).join(', ')} -> ${c.out.dtype}${c.cpuAgrees ? ' (torch.autocast cpu agrees)' : ''}`, () => {
            using _s = tg.scope();
            const xs = c.inputs.map((i) => make(i, device));
            const y = tg.autocast({ device, dtype }, () => CALL[c.name]!(...xs));
            expect(y.dtype).toBe(c.out.dtype);
            expect(y.shape).toEqual(c.out.shape);
            // half results: within one unit of the half dtype (summation order may flip a rounding);
            // float32 results are computed from the same half inputs, in float32
            const half = tg.isHalf(c.out.dtype);
            expectWithin(y.cast('float32').dataSync(), c.out.values, (w) => (half ? ulp(c.out.dtype, w) : 2e-6 * Math.abs(w) + 1e-7), c.name);
          });
        }
      });

      describe(`${dtype}: an MLP and a CNN, forward and backward`, () => {
        for (const kind of ['mlp', 'cnn'] as const) {
          it(`${kind}: float32 loss and float32 parameter gradients as torch's`, () => {
            using _s = tg.scope();
            const m = ref.models[dtype][kind];
            const { P, logits, loss } = modelForward(kind, m, device, dtype);
            expect(logits.dtype).toBe(dtype);
            expect(loss.dtype).toBe('float32');
            expectWithin(logits.cast('float32').dataSync(), m.logits, (w) => ulp(dtype, w), 'logits');
            expect(Math.abs(loss.itemSync() - m.loss)).toBeLessThan(1e-3 * Math.abs(m.loss));
            loss.backward();
            for (const [k, p] of Object.entries(P)) {
              expect(p.grad!.dtype, k).toBe('float32');
              const want = m.grads[k]!;
              const scale = Math.max(...want.map(Math.abs));
              // a rounding flipped by summation order moves later gradients by a few units of the half dtype
              expectWithin(p.grad!.dataSync(), want, () => 4 * ulp(dtype, scale), `grad ${k}`);
            }
          });
        }
      });
    }

    describe('ops that read half input into a float32 result (the output-dtype option)', () => {
      const x32 = () => tg.randn([5, 9], { device }).mul(3);
      const cases: [string, (x: tg.Tensor, dtype?: tg.DType) => tg.Tensor][] = [
        ['softmax', (x, dtype) => tg.softmax(x, 1, { dtype })],
        ['logSoftmax', (x, dtype) => tg.logSoftmax(x, 0, { dtype })],
        ['sum', (x, dtype) => tg.sum(x, [1], true, { dtype })],
        ['mean', (x, dtype) => tg.mean(x, undefined, false, { dtype })],
      ];
      for (const dtype of HALVES) {
        for (const [name, f] of cases) {
          it(`${name}(${dtype}, { dtype: 'float32' }) equals ${name}(cast) bit for bit, gradient too`, () => {
            using _s = tg.scope();
            tg.manualSeed(3);
            const x = x32().cast(dtype).requiresGrad_();
            const direct = f(x, 'float32');
            const viaCast = f(x.cast('float32'));
            expect(direct.dtype).toBe('float32');
            expect(Array.from(direct.dataSync())).toEqual(Array.from(viaCast.dataSync()));
            const w = tg.randn(direct.shape, { device });
            const g1 = gradOf(direct.mul(w).sum(), x);
            const g2 = gradOf(viaCast.mul(w).sum(), x);
            expect(g1!.dtype).toBe(dtype);
            expect(Array.from(g1!.dataSync())).toEqual(Array.from(g2!.dataSync()));
          });
        }
        it(`crossEntropy and nllLoss under autocast read ${dtype} logits: the same bits as cast-then-loss, no cast copy`, () => {
          using _s = tg.scope();
          tg.manualSeed(4);
          const logits = x32().cast(dtype).requiresGrad_();
          const target = tg.tensor([0, 3, 8, 2, 5], { dtype: 'int32', device });
          const weight = tg.rand([9], { device }).add(0.5);
          for (const loss of [
            (x: tg.Tensor) => F.crossEntropy(x, target, { weight, labelSmoothing: 0.1 }),
            (x: tg.Tensor) => F.nllLoss(x, target, { weight }),
          ]) {
            const spy = copies(device);
            const l = tg.autocast({ device, dtype }, () => loss(logits));
            const copied = spy.count();
            spy.restore();
            expect(copied, 'no cast of the logits (the weight is float32 already)').toBe(0);
            const ref32 = loss(logits.cast('float32'));
            expect(l.dtype).toBe('float32');
            expect(l.itemSync()).toBe(ref32.itemSync());
            const g1 = gradOf(l, logits);
            const g2 = gradOf(ref32, logits);
            expect(g1!.dtype).toBe(dtype);
            expect(Array.from(g1!.dataSync())).toEqual(Array.from(g2!.dataSync()));
          }
        });
      }
      it('a half class weight with float32 logits under autocast is cast to float32 with them', () => {
        using _s = tg.scope();
        const logits = tg.randn([4, 3], { device });
        const target = tg.tensor([0, 2, 1, 2], { dtype: 'int32', device });
        const weight = tg.tensor([1, 2, 0.5], { device }).cast('bfloat16');
        const l = tg.autocast({ device }, () => F.crossEntropy(logits, target, { weight }));
        expect(l.dtype).toBe('float32');
        expect(l.itemSync()).toBe(F.crossEntropy(logits, target, { weight: weight.cast('float32') }).itemSync());
      });
      it('bad dtype options name the op and the argument', () => {
        const x = tg.randn([2, 3], { device });
        throws(() => tg.softmax(x, 1, { dtype: 'float128' as tg.DType }), tg.DTypeError, /softmax.*dtype/);
        throws(() => tg.sum(x, 1, false, { dtype: 'half' as tg.DType }), tg.DTypeError, /sum.*dtype/);
        throws(() => tg.softmax(x, 1, { dtype: 'int32' }), tg.DTypeError, /softmax: dtype must be floating point; got int32/);
      });
    });

    describe('cast cache', () => {
      const setup = () => {
        tg.manualSeed(5);
        const w = tg.randn([4, 3], { device }).requiresGrad_();
        const x = tg.randn([2, 4], { device });
        return { w, x };
      };
      it('casts a parameter once per region, and again in the next region', () => {
        using _s = tg.scope();
        const { w, x } = setup();
        const spy = copies(device);
        try {
          tg.autocast({ device, dtype: 'bfloat16' }, () => {
            tg.matmul(x, w);
            const before = spy.count(); // x and w cast
            tg.matmul(x, w);
            expect(spy.count() - before, 'the second use: only x is cast').toBe(1);
          });
          const inRegion = spy.count();
          tg.autocast({ device, dtype: 'bfloat16' }, () => tg.matmul(x, w));
          expect(spy.count() - inRegion, 'a new region casts w again').toBe(2);
          const before = spy.count();
          tg.autocast({ device, dtype: 'bfloat16', cacheEnabled: false }, () => {
            tg.matmul(x, w);
            tg.matmul(x, w);
          });
          expect(spy.count() - before, 'cacheEnabled: false casts at every use').toBe(4);
        } finally {
          spy.restore();
        }
      });
      it('an in-place write (a version bump) invalidates the cached cast', () => {
        using _s = tg.scope();
        const { w, x } = setup();
        tg.autocast({ device, dtype: 'bfloat16' }, () => {
          const a = tg.matmul(x, w).cast('float32').dataSync();
          tg.noGrad(() => w.mul_(2));
          const b = tg.matmul(x, w).cast('float32').dataSync();
          // doubling is exact in bfloat16: the new values are twice the old ones
          expect(Array.from(b)).toEqual(Array.from(a).map((v) => 2 * v));
        });
      });
      it('the cached cast is shared by two uses; gradients add up in float32', () => {
        using _s = tg.scope();
        const { w, x } = setup();
        const twice = gradOf(tg.autocast({ device, dtype: 'bfloat16' }, () => tg.add(tg.matmul(x, w).sum(), tg.matmul(x, w).sum())), w);
        expect(twice.dtype).toBe('float32');
        const once = gradOf(tg.autocast({ device, dtype: 'bfloat16' }, () => tg.matmul(x, w).sum()), w);
        expect(Array.from(twice.dataSync())).toEqual(Array.from(once.dataSync()).map((v) => 2 * v));
      });
      it('the cached casts are freed when the region exits', () => {
        using _s = tg.scope();
        const { w, x } = setup();
        const before = tg.memory().tensors;
        // backward frees what the graph saved; what stays is w's gradient, not w's cached cast
        tg.autocast({ device, dtype: 'bfloat16' }, () => tg.tidy(() => tg.matmul(x, w).sum().backward()));
        expect(w.grad).not.toBeNull();
        expect(tg.memory().tensors).toBe(before + 1);
      });
    });

    describe('regions', () => {
      const x = () => tg.randn([2, 3], { device });
      const w = () => tg.randn([3, 2], { device });
      it('nested regions, enabled: false inside, and exits restore', () => {
        using _s = tg.scope();
        const [a, b] = [x(), w()];
        expect(tg.isAutocastEnabled(device)).toBe(false);
        tg.autocast({ device }, () => {
          expect(tg.matmul(a, b).dtype).toBe(device === 'cpu' ? 'bfloat16' : 'float16');
          tg.autocast({ device, dtype: 'float16' }, () => {
            expect(tg.matmul(a, b).dtype).toBe('float16');
            tg.autocast({ device, enabled: false }, () => {
              expect(tg.isAutocastEnabled(device)).toBe(false);
              expect(tg.matmul(a, b).dtype).toBe('float32');
            });
            expect(tg.matmul(a, b).dtype).toBe('float16');
          });
          expect(tg.matmul(a, b).dtype).toBe(device === 'cpu' ? 'bfloat16' : 'float16');
        });
        expect(tg.matmul(a, b).dtype).toBe('float32');
      });
      it('a region for another device leaves this one alone', () => {
        using _s = tg.scope();
        tg.autocast({ device: device === 'cpu' ? 'webgpu' : 'cpu' }, () => expect(tg.matmul(x(), w()).dtype).toBe('float32'));
      });
      it('an error inside closes the region', () => {
        expect(() => tg.autocast({ device }, () => {
          throw new Error('boom');
        })).toThrow('boom');
        expect(tg.isAutocastEnabled(device)).toBe(false);
      });
      it('`using` holds across await and ends with its block', async () => {
        using _s = tg.scope();
        const [a, b] = [x(), w()];
        await (async () => {
          using _ = tg.autocast({ device, dtype: 'float16' });
          await new Promise((r) => setTimeout(r, 5));
          expect(tg.matmul(a, b).dtype).toBe('float16');
          await Promise.resolve();
          expect(tg.isAutocastEnabled(device)).toBe(true);
        })();
        expect(tg.isAutocastEnabled(device)).toBe(false);
        expect(tg.matmul(a, b).dtype).toBe('float32');
      });
      it('an async fn keeps its region until it settles; async flows are isolated', async () => {
        using _s = tg.scope();
        const [a, b] = [x(), w()];
        // Each flow waits at a gate the test opens, one at a time, while the other two are
        // suspended inside their own regions. (Timers raced: under load, a 10 ms timer set first
        // fired before a 5 ms one set a few ms later.)
        const gate = () => {
          let open!: () => void;
          const opened = new Promise<void>((r) => (open = r));
          return { open, opened };
        };
        const [toRegion, toOutside, toUsing] = [gate(), gate(), gate()];
        const seen: string[] = [];
        const flows = Promise.all([
          tg.autocast({ device, dtype: 'bfloat16' }, async () => {
            await toRegion.opened;
            seen.push(`region ${tg.matmul(a, b).dtype}`);
          }),
          (async () => {
            await toOutside.opened;
            seen.push(`outside ${tg.matmul(a, b).dtype}`);
          })(),
          (async () => {
            await null;
            using _ = tg.autocast({ device, dtype: 'float16' });
            await toUsing.opened;
            seen.push(`using ${tg.matmul(a, b).dtype}`);
          })(),
        ]);
        const turn = () => new Promise((r) => setTimeout(r, 0));
        await turn();
        for (const g of [toOutside, toUsing, toRegion]) {
          g.open();
          await turn();
        }
        await flows;
        expect(seen).toEqual(['outside float32', 'using float16', 'region bfloat16']);
        expect(tg.isAutocastEnabled(device)).toBe(false);
      });
      it('float64 is never cast (PyTorch\'s rule): gradcheck passes inside a region', () => {
        using _s = tg.scope();
        tg.manualSeed(7);
        const a = tg.randn([3, 4], { dtype: 'float64' }).requiresGrad_();
        const b = tg.randn([4, 5], { dtype: 'float64' }).requiresGrad_();
        const t = tg.tensor([1, 0, 4], { dtype: 'int32' });
        const f = (p: tg.Tensor, q: tg.Tensor) => F.crossEntropy(F.linear(tg.relu(p), q.transpose(0, 1), null), t);
        tg.autocast({ device: 'cpu' }, () => {
          expect(tg.matmul(a, b).dtype).toBe('float64');
          expect(f(a, b).dtype).toBe('float64');
          expect(tg.gradcheck(f, [a, b])).toBe(true);
        });
      });
      it('returns fn result; backward inside a region runs with autocast off', () => {
        using _s = tg.scope();
        const a = x().requiresGrad_();
        const loss = tg.autocast({ device }, () => tg.softmax(tg.matmul(a, w()), 1).square().sum());
        const outside = gradOf(loss, a, true).dataSync();
        const inside = tg.autocast({ device }, () => gradOf(loss, a).dataSync());
        expect(Array.from(inside)).toEqual(Array.from(outside));
      });
    });

    describe('every kind of layer runs under autocast; parameter gradients arrive in float32', () => {
      const nn = tg.nn;
      // [layer, inputs, the output dtype under autocast float16: PyTorch's where the layer is one op there]
      const cases: [string, () => tg.nn.Module, () => tg.Tensor[], tg.DType][] = [
        ['Conv1d', () => new nn.Conv1d(3, 2, 3), () => [tg.randn([1, 3, 8], { device })], 'float16'],
        ['ConvTranspose2d', () => new nn.ConvTranspose2d(3, 2, 3), () => [tg.randn([1, 3, 4, 4], { device })], 'float16'],
        ['MultiheadAttention', () => new nn.MultiheadAttention(8, 2, { batchFirst: true }), () => [0, 1, 2].map(() => tg.randn([2, 3, 8], { device })), 'float16'],
        // ends in a LayerNorm (float32 list), as PyTorch's
        ['TransformerEncoderLayer', () => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true, dropout: 0 }), () => [tg.randn([2, 3, 8], { device })], 'float32'],
        ['TransformerDecoderLayer', () => new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true, dropout: 0 }), () => [tg.randn([2, 3, 8], { device }), tg.randn([2, 4, 8], { device })], 'float32'],
        // composites here: the gates' matmuls run in half, the float32 initial state promotes the cell
        // state and output to float32 (PyTorch's fused cuDNN RNN returns half)
        ['LSTM', () => new nn.LSTM(4, 5, { batchFirst: true }), () => [tg.randn([2, 3, 4], { device })], 'float32'],
        ['GRU', () => new nn.GRU(4, 5, { batchFirst: true }), () => [tg.randn([2, 3, 4], { device })], 'float32'],
        ['BatchNorm2d', () => new nn.BatchNorm2d(3), () => [tg.randn([2, 3, 4, 4], { device })], 'float32'],
        ['GroupNorm', () => new nn.GroupNorm(1, 3), () => [tg.randn([2, 3, 4, 4], { device })], 'float32'],
        ['Embedding', () => new nn.Embedding(10, 4), () => [tg.tensor([1, 2, 3], { dtype: 'int32', device })], 'float32'],
        [
          'a CNN of pooling, upsampling and activations, ending in softmax',
          () => new nn.Sequential(new nn.Conv2d(3, 2, 3), new nn.Upsample({ scaleFactor: 2 }), new nn.AvgPool2d(2), new nn.AdaptiveAvgPool2d(1), new nn.Flatten(), new nn.Linear(2, 3), new nn.GELU(), new nn.SiLU(), new nn.Mish(), new nn.Softplus(), new nn.ELU(), new nn.Hardswish(), new nn.LeakyReLU(), new nn.Dropout(0.5), new nn.Softmax(1)),
          () => [tg.randn([2, 3, 6, 6], { device })],
          'float32',
        ],
      ];
      for (const [name, make, inputs, want] of cases) {
        it(`${name} -> ${want}`, () => {
          using _s = tg.scope();
          tg.manualSeed(8);
          const m = make().to(device);
          const xs = inputs();
          const out = tg.autocast({ device, dtype: 'float16' }, () => {
            const y = (m.forward as (...a: tg.Tensor[]) => tg.Tensor | [tg.Tensor, unknown])(...xs);
            return Array.isArray(y) ? y[0] : y;
          });
          expect(out.dtype).toBe(want);
          out.cast('float32').square().sum().backward();
          for (const [k, p] of m.namedParameters()) {
            expect(p.grad?.dtype, k).toBe('float32');
            expect(Array.from(p.grad!.dataSync()).every(Number.isFinite), k).toBe(true);
          }
        });
      }
    });

    describe('errors', () => {
      it('binaryCrossEntropy is banned under autocast, with PyTorch advice', () => {
        using _s = tg.scope();
        const p = tg.rand([4], { device });
        throws(() => tg.autocast({ device }, () => F.binaryCrossEntropy(p, p)), tg.TapegradError, /binaryCrossEntropy.*unsafe to autocast.*binaryCrossEntropyWithLogits/);
        expect(F.binaryCrossEntropy(p, p).dtype).toBe('float32');
      });
      it('bad options name the argument', () => {
        throws(() => tg.autocast({ device, dtype: 'float32' as Half }, () => 0), tg.DTypeError, /autocast: dtype must be 'float16' or 'bfloat16'.*got float32/);
        throws(() => tg.autocast({ device, enabled: 'yes' as unknown as boolean }, () => 0), tg.ValueError, /autocast: enabled must be a boolean; got yes/);
        throws(() => tg.autocast({ device, cacheEnabled: 1 as unknown as boolean }, () => 0), tg.ValueError, /autocast: cacheEnabled must be a boolean/);
        throws(() => tg.autocast({} as tg.AutocastOptions, () => 0), tg.ValueError, /autocast: device must be 'cpu', 'webgpu' or another registered backend's name; got undefined/);
        throws(() => tg.autocast({ device: 'gpu' }, () => 0), tg.ValueError, /autocast: device must be .* got 'gpu'/);
        throws(() => tg.autocast(null as unknown as tg.AutocastOptions), tg.ValueError, /autocast: options must be an object/);
        throws(() => tg.autocast({ device }, 3 as unknown as () => 0), tg.ValueError, /autocast: fn must be a function; got number/);
        expect(tg.isAutocastEnabled(device)).toBe(false);
      });
      it('tg.amp.autocast is tg.autocast', () => {
        expect(tg.amp.autocast).toBe(tg.autocast);
      });
    });
  });
}

// the gradient of y with respect to the leaf x, leaving x.grad as it was (null)
function gradOf(y: tg.Tensor, x: tg.Tensor, retainGraph = false): tg.Tensor {
  x.grad = null;
  y.backward(undefined, { retainGraph });
  const g = x.grad!;
  x.grad = null;
  return g;
}

describe('autocast without AsyncLocalStorage (browsers): one chain of regions for the program', () => {
  it('nested regions, `using` across await and async fns work; a task run during an await shares the region', () => {
    const pkg = fileURLToPath(new URL('..', import.meta.url));
    const r = spawnSync(process.execPath, ['--conditions=@tapegrad/source', '--import', 'tsx', 'test/fixtures/autocast-without-als.ts'], { cwd: pkg, encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(['nested bfloat16 float32 bfloat16 float32', 'using float32', 'shared bfloat16 float32 false', ''].join('\n'));
  });
});

describe('Module.to(dtype), half, bfloat16, float, double', () => {
  const model = () => {
    tg.manualSeed(6);
    return new tg.nn.Sequential(new tg.nn.Linear(3, 4), new tg.nn.BatchNorm1d(4), new tg.nn.Linear(4, 2));
  };
  it('converts floating parameters and buffers in place, keeps identity and integer buffers', () => {
    const m = model();
    const params = m.parameters();
    const before = params.map((p) => Array.from(p.dataSync()));
    const opt = new tg.optim.SGD(params, { lr: 0.1 });
    m.half();
    expect(m.parameters()).toEqual(params);
    params.forEach((p, i) => {
      expect(p.dtype).toBe('float16');
      expect(Array.from(p.dataSync())).toEqual(Array.from(tg.tensor(before[i]!).cast('float16').dataSync()));
    });
    const buffers = Object.fromEntries(m.namedBuffers());
    for (const [k, b] of Object.entries(buffers)) expect(b.dtype, k).toBe(k.endsWith('num_batches_tracked') ? 'int32' : 'float16');
    expect(opt.paramGroups[0]!.params[0]).toBe(params[0]);
    expect(m.bfloat16().parameters()[0]!.dtype).toBe('bfloat16');
    expect(m.float().parameters()[0]!.dtype).toBe('float32');
    expect(m.double().parameters()[0]!.dtype).toBe('float64');
    expect(m.to('float32').parameters()[0]!.dtype).toBe('float32');
    expect(m.to('cpu', 'float16').parameters()[0]!.dtype).toBe('float16');
  });
  it('converts gradients too', () => {
    const m = model();
    const y = m.forward(tg.randn([5, 3])).sum();
    y.backward();
    m.bfloat16();
    for (const p of m.parameters()) expect(p.grad!.dtype).toBe('bfloat16');
  });
  it('refuses a non-floating dtype, naming it', () => {
    throws(() => model().to('int32'), tg.DTypeError, /Module.to: dtype must be a floating-point dtype .* got int32/);
    throws(() => model().to('cpu', 'bool'), tg.DTypeError, /Module.to: dtype must be a floating-point dtype .* got bool/);
  });
});
