import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';

const gc = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();
/** Collect garbage and give the finalizers their turn (they run in a later task). */
async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 0));
  }
}

// The core's own machinery, checked with a minimal in-test backend (typed arrays and the one
// 'copy' kernel), so this package's tests depend on no real backend.
const test: tg.Backend<tg.TypedArray, unknown> = {
  name: 'test',
  alloc: (dtype, n) => tg.allocArray(dtype, n),
  free: () => {},
  write: (h, d) => h.set(d),
  read: async (h) => h.slice(),
  readSync: (h) => h,
  run: (_kernel, [x], [o]) => {
    // the strided copy, written plainly: enough to exercise views and contiguous()
    const n = o!.shape.reduce((a, b) => a * b, 1);
    for (let i = 0, rem = i; i < n; i++, rem = i) {
      let src = x!.offset;
      let dst = o!.offset;
      for (let d = o!.shape.length - 1; d >= 0; d--) {
        const k = rem % o!.shape[d]!;
        rem = Math.floor(rem / o!.shape[d]!);
        src += k * x!.strides[d]!;
        dst += k * o!.strides[d]!;
      }
      o!.handle[dst] = x!.handle[src]!;
    }
  },
};
tg.registerBackend(test);
tg.registerKernel('copy', 'test', 'copy');
tg.setDefaultDevice('test');

describe('shapes and dtypes', () => {
  it('broadcasts like PyTorch', () => {
    expect(tg.broadcastShapes('op', [2, 1, 4], [3, 1])).toEqual([2, 3, 4]);
    expect(tg.broadcastShapes('op', [], [5])).toEqual([5]);
    expect(tg.broadcastShapes('op', [0, 1], [1, 3])).toEqual([0, 3]);
    expect(() => tg.broadcastShapes('op', [2], [3])).toThrow(tg.ShapeError);
  });
  it('normalises dims', () => {
    expect(tg.normalizeDim('op', -1, 3)).toBe(2);
    expect(tg.normalizeDims('op', [-1, 0], 3)).toEqual([0, 2]);
    expect(tg.normalizeDims('op', undefined, 2)).toEqual([0, 1]);
    expect(() => tg.normalizeDim('op', 3, 3)).toThrow(/dim 3 is out of range for a tensor of rank 3/);
  });
  it("follows torch's type promotion", () => {
    const r = (...o: [tg.DType, boolean][]) => tg.resultType(o.map(([dtype, zeroDim]) => ({ dtype, zeroDim })));
    expect(r(['int32', false], ['float32', false])).toBe('float32');
    expect(r(['float32', false], ['float64', true])).toBe('float32'); // a 0-d tensor does not widen within a category
    expect(r(['int32', false], ['float64', true])).toBe('float64'); // but lifts the category, to its own dtype (torch.result_type)
    expect(r(['int32', false], ['float32', true])).toBe('float32'); // what a fractional number next to an int tensor becomes
    expect(r(['float16', false], ['float32', true])).toBe('float16');
    expect(r(['float16', false], ['bfloat16', false])).toBe('float32'); // neither half holds the other
    expect(r(['bool', false], ['int32', true])).toBe('int32');
    expect(r(['float64', false], ['float32', false])).toBe('float64');
    expect(tg.scalarDType(2.5, 'int32')).toBe('float32');
    expect(tg.scalarDType(2, 'bool')).toBe('int32');
    expect(tg.scalarDType(2, 'float64')).toBe('float64');
  });
});

describe('tensors and views', () => {
  it('creates from nested arrays, typed arrays and int64', () => {
    const t = tg.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.device).toBe('test');
    expect(tg.tensor(new Int32Array([1, 2])).dtype).toBe('int32');
    expect(tg.tensor([true, false]).dtype).toBe('bool');
    expect(Array.from(tg.tensor(new BigInt64Array([3n, -4n])).dataSync())).toEqual([3, -4]);
    expect(() => tg.tensor(new BigInt64Array([2n ** 40n]))).toThrow(/^tensor: value 1099511627776 at index \[0\] cannot be converted to int32 without overflow/);
  });
  it('views share storage and contiguous() copies only when needed', () => {
    const t = tg.arange(0, 6, 1, { dtype: 'float32' }).reshape(2, 3);
    const tt = t.T;
    expect(tt.storage).toBe(t.storage);
    expect(tt.strides).toEqual([1, 3]);
    expect(tt.isContiguous()).toBe(false);
    expect(t.contiguous()).toBe(t);
    const c = tt.contiguous();
    expect(c.storage).not.toBe(t.storage);
    expect(Array.from(c.dataSync())).toEqual([0, 3, 1, 4, 2, 5]);
    expect(t.reshape(3, 2).storage).toBe(t.storage);
    expect(t.unsqueeze(0).squeeze(0).storage).toBe(t.storage);
    expect(t.slice(1, 1).shape).toEqual([2, 2]);
    expect(Array.from(t.slice(1, 0, 3, 2).dataSync())).toEqual([0, 2, 3, 5]);
    expect(Array.from(t.narrow(0, 1, 1).dataSync())).toEqual([3, 4, 5]);
    expect(t.expand(4, 2, 3).strides).toEqual([0, 3, 1]);
    expect(Array.from(t.permute(1, 0).reshape(-1).dataSync())).toEqual([0, 3, 1, 4, 2, 5]);
    expect(t.flatten().shape).toEqual([6]);
  });
  it('reads asynchronously and as nested arrays', async () => {
    const t = tg.tensor([[1, 2], [3, 4]]);
    expect(await t.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(await t.T.toArray()).toEqual([[1, 3], [2, 4]]);
    expect(await tg.tensor([true, false]).toArray()).toEqual([true, false]);
    expect(await tg.full([], 7).item()).toBe(7);
    await expect(t.item()).rejects.toThrow(/only one-element tensors/);
  });
  it('prints like PyTorch', () => {
    expect(tg.tensor([[1, 2], [3, 4]]).toString()).toBe('tensor([[1., 2.],\n        [3., 4.]], device=\'test\')');
    expect(tg.tensor([0.5, -1.25]).toString()).toBe('tensor([ 0.5000, -1.2500], device=\'test\')');
    expect(tg.tensor([1e-5, 1]).toString()).toBe('tensor([1.0000e-05, 1.0000e+00], device=\'test\')');
    expect(tg.tensor([1, 2], { dtype: 'int32' }).toString()).toBe('tensor([1, 2], dtype=int32, device=\'test\')');
    expect(tg.full([], 3).toString()).toBe("tensor(3., device='test')");
    expect(tg.zeros([2]).requiresGrad_().toString()).toBe('tensor([0., 0.], device=\'test\', requiresGrad=true)');
    expect(tg.arange(0, 2000, 1).toString()).toBe('tensor([   0,    1,    2,  ..., 1997, 1998, 1999], dtype=int32, device=\'test\')');
  });
  it('creation functions', () => {
    expect(Array.from(tg.eye(2, 3).dataSync())).toEqual([1, 0, 0, 0, 1, 0]);
    expect(Array.from(tg.arange(5).dataSync())).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(tg.arange(0, 1, 0.25).dataSync())).toEqual([0, 0.25, 0.5, 0.75]);
    expect(tg.full([2], true).dtype).toBe('bool');
    expect(tg.onesLike(tg.zeros([2], { dtype: 'int32' })).dtype).toBe('int32');
  });
});

describe('random numbers', () => {
  it('manualSeed makes runs reproducible', () => {
    tg.manualSeed(42);
    const a = tg.randn([100]).dataSync();
    tg.manualSeed(42);
    const b = tg.randn([100]).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
  });
  it('samples the right distributions', () => {
    const g = new tg.Generator(7);
    const u = tg.rand([20000], { generator: g }).dataSync();
    const n = tg.randn([20000], { generator: g, dtype: 'float64' }).dataSync();
    const k = tg.randint(-2, 3, [20000], { generator: g }).dataSync();
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(mean(u)).toBeCloseTo(0.5, 1);
    expect(mean(n)).toBeCloseTo(0, 1);
    expect(mean(Array.from(n, (v) => v * v))).toBeCloseTo(1, 1);
    expect(new Set(k)).toEqual(new Set([-2, -1, 0, 1, 2]));
  });
  it('permutation(n) is Fisher-Yates drawing int(0, i + 1), and leaves the generator where that loop does', () => {
    for (const n of [0, 1, 2, 7, 1000]) {
      const g = new tg.Generator(3), h = new tg.Generator(3);
      const want = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = h.int(0, i + 1);
        [want[i], want[j]] = [want[j]!, want[i]!];
      }
      const got = g.permutation(n);
      expect(Array.from(got), `n=${n}`).toEqual(want);
      expect(g.nextUint32()).toBe(h.nextUint32());
    }
    expect([...new tg.Generator(9).permutation(500)].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });
});

describe('memory', () => {
  it('dispose releases storage once the last view is gone', () => {
    const before = tg.memory().devices.test ?? { tensors: 0, bytes: 0 };
    const t = tg.zeros([4]);
    const v = t.reshape(2, 2);
    expect(tg.memory().devices.test!.bytes).toBe(before.bytes + 16);
    expect(tg.memory().devices.test!.tensors).toBe(before.tensors + 2);
    t.dispose();
    expect(tg.memory().devices.test!.bytes).toBe(before.bytes + 16);
    v.dispose();
    v.dispose(); // idempotent
    expect(tg.memory().devices.test).toEqual(before);
  });
  it('tidy disposes what fn created except what it returns, nested', () => {
    const before = tg.memory().tensors;
    const out = tg.tidy(() => {
      tg.ones([3]);
      const inner = tg.tidy(() => {
        tg.ones([3]);
        return { a: tg.ones([2]), list: [tg.ones([1])] };
      });
      expect(tg.memory().tensors).toBe(before + 3);
      return inner.a;
    });
    expect(tg.memory().tensors).toBe(before + 1);
    out.dispose();
    expect(tg.memory().tensors).toBe(before);
  });
  it('keep() exempts a tensor from its scope; Symbol.dispose works with using', () => {
    const before = tg.memory().tensors;
    let kept: tg.Tensor | undefined;
    tg.tidy(() => {
      kept = tg.keep(tg.ones([2]));
      tg.ones([2]);
    });
    expect(tg.memory().tensors).toBe(before + 1);
    {
      using _t = kept!;
    }
    expect(kept!.isDisposed).toBe(true);
    expect(tg.memory().tensors).toBe(before);
  });
  it("the finalizer frees the storage of a tensor collected undisposed, once no scope holds it", async () => {
    const bytes = () => tg.memory().devices.test?.bytes ?? 0;
    const collected = async () => {
      await collectGarbage();
      return bytes();
    };
    const base = await collected();
    // made and dropped outside any scope; returned from the outermost tidy; kept inside one
    (() => void tg.zeros([100]))();
    (() => void tg.tidy(() => tg.zeros([100])))();
    (() => void tg.tidy(() => void tg.keep(tg.zeros([100]))))();
    expect(bytes()).toBe(base + 1200);
    expect(await collected()).toBe(base);
    // returned from an inner tidy: the outer scope holds it until it closes
    let outerHeld = 0;
    tg.tidy(() => {
      (() => void tg.tidy(() => tg.zeros([100])))();
      outerHeld = bytes() - base;
    });
    expect(outerHeld).toBe(400);
    expect(await collected()).toBe(base);
    // unreachable but held by an open scope: the scope, not the collector, frees it
    const s = tg.scope();
    (() => void tg.zeros([100]))();
    expect(await collected()).toBe(base + 400);
    s[Symbol.dispose]();
    expect(bytes()).toBe(base);
    // disposed and then collected: released once, not twice
    (() => tg.keep(tg.zeros([100])).dispose())();
    expect(await collected()).toBe(base);
  });
  it('the finalizer uncounts each tensor it frees, views included, so memory() is exact after a collection', async () => {
    const live = () => ({ ...(tg.memory().devices.test ?? { tensors: 0, bytes: 0 }) });
    await collectGarbage();
    const base = live();
    // one storage under three tensors (a base and two views), none disposed; a fourth tensor disposed by hand
    (() => {
      const t = tg.zeros([6]);
      void [t.reshape(2, 3), t.unsqueeze(0), tg.keep(tg.tidy(() => t.reshape(3, 2)))];
      tg.zeros([2]).dispose();
    })();
    expect(live()).toEqual({ tensors: base.tensors + 4, bytes: base.bytes + 24 });
    await collectGarbage();
    expect(live()).toEqual(base);
    // a view collected while its base lives: one tensor uncounted, the storage kept
    const kept = tg.zeros([4]);
    (() => void kept.reshape(2, 2))();
    await collectGarbage();
    expect(live()).toEqual({ tensors: base.tensors + 1, bytes: base.bytes + 16 });
    kept.dispose();
    expect(live()).toEqual(base);
  });
});

describe('adoptStorage: a tensor moves to another device under the same object (as Module.to moves parameters)', () => {
  tg.registerBackend({ ...test, name: 'test2' });
  tg.registerKernel('copy', 'test2', 'copy');
  const counts = (device: string) => tg.memory().devices[device] ?? { tensors: 0, bytes: 0 };

  it('moves the data and the per-device counts; a view taken before keeps the old storage', () => {
    const [before, before2] = [counts('test'), counts('test2')];
    const t = tg.tensor([1, 2, 3, 4]).requiresGrad_();
    const v = t.reshape(2, 2);
    t.adoptStorage(t.to('test2'));
    expect([t.device, t.requiresGrad, t.isLeaf, Array.from(t.dataSync())]).toEqual(['test2', true, true, [1, 2, 3, 4]]);
    // t is counted on test2 now; its old storage stays on test, held by the view
    expect(counts('test')).toEqual({ tensors: before.tensors + 1, bytes: before.bytes + 16 });
    expect(counts('test2')).toEqual({ tensors: before2.tensors + 1, bytes: before2.bytes + 16 });
    t.fill_(9);
    expect([v.device, v.arraySync()]).toEqual(['test', [[1, 2], [3, 4]]]);
    v.dispose();
    expect(counts('test')).toEqual(before);
    t.dispose();
    expect(counts('test2')).toEqual(before2);
  });

  it('refuses a disposed tensor, a non-leaf and a view, naming what was asked', () => {
    const gone = tg.tensor([1, 2]);
    gone.dispose();
    expect(() => gone.assertMovable("Module.to: parameter 'w'")).toThrow("Module.to: parameter 'w' (shape [2]) was disposed");
    const made = tg.tensor([1, 2]);
    made.gradFn = { op: 'mul' };
    expect(() => made.adoptStorage(made.to('test2'))).toThrow("adoptStorage: tensor (shape [2]) is the output of 'mul', not a leaf: only leaf tensors (parameters, buffers) move in place");
    const x = tg.arange(0, 6, 1, { dtype: 'float32' }).reshape(2, 3);
    for (const view of [x.T, x.slice(1, 1), tg.tensor([1]).expand(3)]) {
      expect(() => view.adoptStorage(view.to('test2'))).toThrow(/^adoptStorage: tensor \(shape \[\d(, \d)?\]\) is a view \(offset \d, strides \[.*\] into \d elements\): only a tensor that spans its whole storage moves in place; give it its own storage with clone\(\) first$/);
      expect(view.device).toBe('test');
    }
  });

  it('the finalizer releases the storage a moved tensor owns now, when it is collected undisposed', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collected = async () => {
      for (let i = 0; i < 4; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 0)); // finalizers run in a later task
      }
      return [counts('test').bytes, counts('test2').bytes];
    };
    const [base, base2] = await collected();
    (() => {
      const t = tg.zeros([100]);
      t.adoptStorage(t.to('test2'));
    })();
    expect([counts('test').bytes, counts('test2').bytes]).toEqual([base, base2! + 400]);
    expect(await collected()).toEqual([base, base2]);
  });
});

describe('warnings', () => {
  it('are delivered once per message, to the handler set, and by default as Node process warnings', async () => {
    const seen: string[] = [];
    const previous = tg.setWarningHandler((m) => seen.push(m));
    try {
      tg.warn('core test: first');
      tg.warn('core test: second');
      tg.warn('core test: first');
    } finally {
      expect(tg.setWarningHandler(previous)).not.toBe(previous);
    }
    expect(seen).toEqual(['core test: first', 'core test: second']);
    const emitted = new Promise<Error>((resolve) => process.once('warning', resolve));
    tg.warn('core test: to the process');
    const w = await emitted;
    expect([w.name, w.message]).toEqual(['TapegradWarning', 'core test: to the process']);
  });
});

// issue 16 (optim): the high-water mark of live bytes, for measuring what a computation needs at its worst
describe('memory().peakBytes', () => {
  it('is the most bytes live at once since resetPeakMemory(), freed intermediates included', () => {
    const base = tg.memory().bytes;
    tg.resetPeakMemory();
    expect(tg.memory().peakBytes).toBe(base);
    const kept = tg.tidy(() => {
      tg.zeros([100]); // 400 bytes, freed when tidy returns
      return tg.zeros([10]);
    });
    expect(tg.memory().bytes).toBe(base + 40);
    expect(tg.memory().peakBytes).toBe(base + 440);
    kept.dispose();
    tg.resetPeakMemory();
    expect(tg.memory().peakBytes).toBe(base);
  });
});
