// float16 and bfloat16 (issue 18) against PyTorch: every 16-bit pattern widened and narrowed
// back, rounding of hard float32 values, type promotion, ops, a gradient. The reference values
// are in fixtures/half.json, written by fixtures/gen_half.py (its docstring says how).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { throws } from './helpers.js';

type Half = tg.HalfDType;
const HALVES: Half[] = ['float16', 'bfloat16'];
interface Case {
  name: string;
  dtype: Half;
  inputs: string[];
  key: string;
  shape: number[];
  bits: number[];
  out: { dtype: tg.DType; shape: number[]; bits: number[] };
  f32: number[];
  native: boolean;
}
const ref = JSON.parse(readFileSync(new URL('./fixtures/half.json', import.meta.url), 'utf8')) as {
  widen: Record<Half, string>;
  roundTrip: Record<Half, [number, number, number][]>;
  narrow: { float32: number[] } & Record<Half, number[]>;
  fromDouble: { numbers: number[] } & Record<Half, number[]>;
  promote: { types: [tg.DType, tg.DType, tg.DType][]; zeroDim: [tg.DType, tg.DType, tg.DType][]; scalars: [tg.DType, number | boolean, tg.DType][] };
  ops: Case[];
  grad: { w: number[]; grad: number[]; gradDtype: tg.DType };
};

const ALL = Uint16Array.from({ length: 65536 }, (_, i) => i);
const words = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const isNaNBits = (dtype: Half, h: number) => (dtype === 'float16' ? (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0 : (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0);
/** A tensor of `dtype` holding these bit patterns. */
const fromBits = (bits: ArrayLike<number>, shape: number[], dtype: Half) => tg.fromArray(Uint16Array.from(bits), shape, dtype);

// torch's float32 patterns of all 65,536 halves: int32 differences, gzip, base64 (see gen_half.py)
function torchWidened(dtype: Half): Uint32Array {
  const bytes = gunzipSync(Buffer.from(ref.widen[dtype], 'base64'));
  const deltas = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const out = new Uint32Array(65536);
  let acc = 0;
  deltas.forEach((d, i) => (out[i] = acc = (acc + d) >>> 0));
  return out;
}
function torchRoundTrip(dtype: Half): Uint16Array {
  const out = new Uint16Array(65536);
  for (const [first, count, value] of ref.roundTrip[dtype]) for (let h = first; h < first + count; h++) out[h] = value === -1 ? h : value;
  return out;
}
// the same bits, or both NaN: PyTorch's own NaN patterns differ between its scalar and vectorised casts
function expectBits(dtype: Half, got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const same = got[i] === want[i] || (isNaNBits(dtype, got[i]!) && isNaNBits(dtype, want[i]!));
    if (!same && bad.push(`[${i}] 0x${got[i]!.toString(16)} vs torch 0x${want[i]!.toString(16)}`) >= 5) break;
  }
  expect(bad, what).toEqual([]);
}

describe('float16 and bfloat16 conversions against PyTorch', () => {
  for (const dtype of HALVES) {
    it(`${dtype}: all 65,536 patterns widen to torch's float32 bits, in the functions and through a tensor`, () => {
      const want = torchWidened(dtype);
      expect(words(tg.widenHalf(dtype, ALL))).toEqual(want);
      const t = fromBits(ALL, [65536], dtype);
      expect(words(t.dataSync() as Float32Array)).toEqual(want);
      expect(Array.from(t.rawDataSync())).toEqual(Array.from(ALL));
      const one = dtype === 'float16' ? tg.fromFloat16Bits : tg.fromBfloat16Bits;
      for (const h of [0x0001, 0x3c00, 0x8000, 0x7c00, 0xfc00, 0x7bff, 0x0400, 0x03ff]) expect(Math.fround(one(h))).toBe(new Float32Array(new Uint32Array([want[h]!]).buffer)[0]);
      t.dispose();
    });

    it(`${dtype}: all 65,536 patterns come back from float32 as torch's .to(${dtype}) brings them (NaNs as NaNs)`, () => {
      const want = torchRoundTrip(dtype);
      expectBits(dtype, tg.narrowHalf(dtype, tg.widenHalf(dtype, ALL)), want, 'narrowHalf(widenHalf(x))');
      const t = fromBits(ALL, [65536], dtype);
      const wide = t.to('float32');
      expect(wide.dtype).toBe('float32');
      const back = wide.to(dtype);
      expect(back.dtype).toBe(dtype);
      expectBits(dtype, back.rawDataSync(), want, "to('float32').to(dtype)");
      for (const x of [t, wide, back]) x.dispose();
    });

    it(`${dtype}: hard float32 values (ties, subnormals, overflow, NaN) round as torch rounds them`, () => {
      const x = new Float32Array(Uint32Array.from(ref.narrow.float32).buffer);
      expectBits(dtype, tg.narrowHalf(dtype, x), ref.narrow[dtype], 'narrowHalf');
      const scalar = dtype === 'float16' ? tg.float32BitsToFloat16Bits : tg.float32BitsToBfloat16Bits;
      expectBits(dtype, ref.narrow.float32.map(scalar), ref.narrow[dtype], 'one at a time');
      const t = tg.fromArray(x, [x.length], 'float32');
      const h = t.cast(dtype);
      expectBits(dtype, h.rawDataSync(), ref.narrow[dtype], 'cast');
      t.dispose();
      h.dispose();
    });

    it(`${dtype}: tensor(numbers) rounds each number to float32 first, as torch.tensor does`, () => {
      const t = tg.tensor(ref.fromDouble.numbers, { dtype });
      expectBits(dtype, t.rawDataSync(), ref.fromDouble[dtype], 'tensor()');
      const toBits = dtype === 'float16' ? tg.toFloat16Bits : tg.toBfloat16Bits;
      expectBits(dtype, ref.fromDouble.numbers.map(toBits), ref.fromDouble[dtype], 'toBits');
      t.dispose();
    });
  }
});

describe('float16 and bfloat16 type promotion', () => {
  it('promoteTypes is torch.promote_types for every pair', () => {
    for (const [a, b, want] of ref.promote.types) expect(tg.promoteTypes(a, b), `${a}, ${b}`).toBe(want);
  });
  it('a 0-d tensor and a number lift the category only, as torch.result_type', () => {
    for (const [a, b, want] of ref.promote.zeroDim) expect(tg.resultType([{ dtype: a, zeroDim: false }, { dtype: b, zeroDim: true }]), `${a} tensor, ${b} 0-d`).toBe(want);
    for (const [a, s, want] of ref.promote.scalars) {
      expect(tg.resultType([{ dtype: a, zeroDim: false }, { dtype: tg.scalarDType(s, a), zeroDim: true }]), `${a} tensor, ${s}`).toBe(want);
    }
  });
  it('ops follow it: half + float32 is float32, float16 + bfloat16 float32, half + int or a number stays half', () => {
    tg.tidy(() => {
      const h = tg.tensor([1.5, 2], { dtype: 'float16' });
      const b = tg.tensor([1.5, 2], { dtype: 'bfloat16' });
      expect(h.add(tg.tensor([1, 2])).dtype).toBe('float32');
      expect(h.add(b).dtype).toBe('float32');
      expect(h.mul(tg.tensor([1, 2], { dtype: 'int32' })).dtype).toBe('float16');
      expect(b.add(2.5).dtype).toBe('bfloat16');
      expect(h.add(tg.tensor(0.5, { dtype: 'float64' })).dtype).toBe('float16');
      expect(tg.tensor([1, 2], { dtype: 'int32' }).add(tg.tensor(0.5, { dtype: 'float16' })).dtype).toBe('float16');
      expect(h.matmul(tg.tensor([[1], [2]])).dtype).toBe('float32');
      expect(tg.cat([h, b]).dtype).toBe('float32');
    });
  });
});

// Distance in units in the last place between two patterns of one dtype (NaNs equal each other).
function ulps(dtype: Half, a: number, b: number): number {
  if (isNaNBits(dtype, a) || isNaNBits(dtype, b)) return isNaNBits(dtype, a) && isNaNBits(dtype, b) ? 0 : Infinity;
  const order = (h: number) => (h & 0x8000 ? -(h & 0x7fff) : h);
  return Math.abs(order(a) - order(b));
}

describe('ops on float16 and bfloat16 tensors against PyTorch', () => {
  const OPS: Record<string, (...x: tg.Tensor[]) => tg.Tensor> = {
    add: (a, b) => a!.add(b!),
    sub: (a, b) => a!.sub(b!),
    mul: (a, b) => a!.mul(b!),
    div: (a, b) => a!.div(b!),
    add_scalar: (a) => a!.add(0.1),
    mul_scalar: (a) => a!.mul(1e5),
    add_float32: (a) => a!.add(tg.tensor([0.1, 0.1, 0.1, 0.1, 0.1])),
    sum: (a) => a!.sum(),
    sum_dim: (a) => a!.sum(1),
    mean: (a) => a!.mean(),
    matmul: (a, b) => a!.matmul(b!),
    softmax: (a) => a!.softmax(1),
    exp: (a) => a!.exp(),
    tanh: (a) => a!.tanh(),
  };
  // one float32 operation rounded once: the same bits as torch's CPU, which computes these in float
  const EXACT = new Set(['add', 'sub', 'mul', 'div', 'add_scalar', 'mul_scalar', 'add_float32']);

  for (const dtype of HALVES) {
    const inputs = new Map(ref.ops.filter((c) => c.name === 'input' && c.dtype === dtype).map((c) => [c.key, c]));
    for (const c of ref.ops.filter((c) => c.name !== 'input' && c.dtype === dtype)) {
      const how = c.native ? "torch's own" : "torch's float32 op, rounded (see gen_half.py)";
      it(`${dtype} ${c.name} matches ${how}${EXACT.has(c.name) ? ' bit for bit' : ' within an ulp'}`, () => {
        tg.tidy(() => {
          const xs = c.inputs.map((k) => fromBits(inputs.get(k)!.bits, inputs.get(k)!.shape, dtype));
          const y = OPS[c.name]!(...xs);
          expect(y.dtype).toBe(c.out.dtype);
          expect(y.shape).toEqual(c.out.shape);
          if (y.dtype === 'float32') {
            expect(Array.from(words(y.dataSync() as Float32Array))).toEqual(c.out.bits);
            return;
          }
          const got = Array.from(y.rawDataSync());
          if (EXACT.has(c.name)) {
            expectBits(dtype, got, c.out.bits, c.name);
            return;
          }
          // summation order (and the float32 exp/tanh) differ in the float32 result's last bits
          const far = got.map((g, i) => [i, ulps(dtype, g, c.out.bits[i]!), ulps(dtype, g, c.f32[i]!)]).filter(([, u, v]) => u! > 1 || v! > 1);
          expect(far, `elements more than an ulp from torch (index, ulps from torch, ulps from float32 rounded)`).toEqual([]);
        });
      });
    }
  }

  it("a float16 leaf's gradient is float16, with torch's bits", () => {
    const w = fromBits(ref.grad.w, [ref.grad.w.length], 'float16').requiresGrad_();
    tg.tidy(() => w.mul(w).mul(0.5).add(w).sum().backward());
    expect(w.grad!.dtype).toBe(ref.grad.gradDtype);
    expectBits('float16', w.grad!.rawDataSync(), ref.grad.grad, 'grad');
    w.dispose();
  });

  it('a float32 leaf cast to a half gets a float32 gradient through the cast', () => {
    const x = tg.tensor([0.1, 2, -3]).requiresGrad_();
    tg.tidy(() => x.to('bfloat16').mul(2).sum().backward());
    expect(x.grad!.dtype).toBe('float32');
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 2, 2]);
    x.dispose();
  });
});

describe('float16 and bfloat16 storage on the CPU', () => {
  it('data() gives the exact values as a Float32Array, rawData() the bit patterns', async () => {
    const t = tg.tensor([1, 0.1, 65504, 70000, -0], { dtype: 'float16' });
    const values = await t.data();
    expect(values).toBeInstanceOf(Float32Array);
    expect(Array.from(values)).toEqual([1, 0.0999755859375, 65504, Infinity, -0]);
    expect(Array.from(await t.rawData())).toEqual([0x3c00, 0x2e66, 0x7bff, 0x7c00, 0x8000]);
    expect(t.arraySync()).toEqual([1, 0.0999755859375, 65504, Infinity, -0]);
    expect(await t.index(1).item()).toBe(0.0999755859375);
    expect(t.toString()).toContain('dtype=float16');
    t.dispose();
  });

  it('an op writing into a view of half storage leaves the other elements bit for bit', () => {
    const bits = [0x7c01, 0x3c00, 0xfe55, 0x4000];
    const t = fromBits(bits, [2, 2], 'float16');
    t.T.select(0, 1).fill_(0.5); // column 1: elements 1 and 3
    expect(Array.from(t.rawDataSync())).toEqual([0x7c01, 0x3800, 0xfe55, 0x3800]);
    t.add_(1); // in place, through the widened copy
    expect(Array.from(t.dataSync()).map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(['NaN', 1.5, 'NaN', 1.5]);
    t.dispose();
  });

  it('ops on views (a column, a row, a broadcast) widen only what the view reaches, with the float32 bits rounded', () => {
    tg.tidy(() => {
      const x = tg.randn([6, 7]).mul(3).to('float16');
      const f = x.to('float32');
      const views: [(t: tg.Tensor) => tg.Tensor, string][] = [
        [(t) => t.select(1, 2).mul(2.5), 'column'],
        [(t) => t.select(0, 4).add(t.select(0, 1)), 'rows'],
        [(t) => t.narrow(0, 2, 3).T.matmul(t.narrow(0, 1, 3)), 'blocks'],
        [(t) => t.select(0, 5).unsqueeze(0).expand(4, 7).softmax(1), 'broadcast'],
      ];
      for (const [op, what] of views) expect(op(x).rawDataSync(), what).toEqual(op(f).to('float16').rawDataSync());
    });
  });

  it("an optimizer updates a float16 parameter in its own storage, rounding once (float32 arithmetic)", () => {
    const p = tg.tensor([1, -2, 0.3333], { dtype: 'float16' }).requiresGrad_();
    const before = Float32Array.from(p.dataSync());
    const opt = new tg.optim.SGD([p], { lr: 0.1 });
    tg.tidy(() => p.mul(p).sum().backward());
    const g = Float32Array.from(p.grad!.dataSync());
    opt.step();
    expect(p.dtype).toBe('float16');
    const want = tg.narrowHalf('float16', before.map((v, i) => Math.fround(v - Math.fround(0.1 * g[i]!))));
    expect(Array.from(p.rawDataSync())).toEqual(Array.from(want));
    p.dispose();
  });

  it('creation functions round into half storage; rand and randn draw halves', () => {
    tg.tidy(() => {
      expect(Array.from(tg.full([2], 0.1, { dtype: 'bfloat16' }).rawDataSync())).toEqual([0x3dcd, 0x3dcd]);
      expect(Array.from(tg.arange(0, 3, 1, { dtype: 'float16' }).dataSync())).toEqual([0, 1, 2]);
      expect(Array.from(tg.eye(2, 2, { dtype: 'float16' }).dataSync())).toEqual([1, 0, 0, 1]);
      const r = tg.rand([100], { dtype: 'float16' });
      expect(r.dtype).toBe('float16');
      expect(Array.from(r.dataSync()).every((v) => v >= 0 && v <= 1)).toBe(true);
      expect(tg.zerosLike(r).dtype).toBe('float16');
    });
  });

  it('a half checkpoint (safetensors F16) loads into a float32 model, and a float16 model runs', async () => {
    const model = new tg.nn.Linear(3, 2);
    const state = Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, t.to('float16')]));
    const other = new tg.nn.Linear(3, 2);
    const loaded = tg.parseSafetensors(await tg.serializeSafetensors(state));
    other.loadStateDict(loaded);
    expect(other.weight.dtype).toBe('float32');
    expect(Array.from(other.weight.dataSync())).toEqual(Array.from(state.weight!.dataSync()));
    const y = tg.tidy(() => tg.nn.functional.linear(tg.ones([4, 3], { dtype: 'float16' }), loaded.weight!, loaded.bias!));
    expect(y.dtype).toBe('float16');
    expect(y.shape).toEqual([4, 2]);
    for (const t of [...Object.values(state), ...Object.values(loaded), y]) t.dispose();
    model.dispose();
    other.dispose();
  });

  it('a compiled function on half tensors replays to the bits eager computes', () => {
    const f = (x: tg.Tensor, w: tg.Tensor) => x.matmul(w).softmax(1).mul(3).add(x.sum(1, true));
    const g = tg.compile(f);
    tg.tidy(() => {
      for (let i = 0; i < 3; i++) {
        const x = tg.randn([4, 5]).to('bfloat16');
        const w = tg.randn([5, 5]).to('bfloat16');
        const [want, got] = [f(x, w), g(x, w)];
        expect(got.dtype).toBe('bfloat16');
        expect(got.rawDataSync()).toEqual(want.rawDataSync());
      }
    });
    expect(g.stats().replays).toBeGreaterThan(0);
  });

  it('a backend that cannot hold a dtype refuses it naming the op (as WebGPU refuses halves)', () => {
    const cpu = tg.getBackend('cpu');
    tg.registerBackend({ ...cpu, name: 'no-halves', unsupportedDTypes: { float16: 'half support is not built here' } });
    tg.registerKernel('copy', 'no-halves', tg.getKernel('copy', 'cpu'));
    throws(() => tg.zeros([2], { dtype: 'float16', device: 'no-halves' }), tg.DTypeError, "full: a float16 tensor cannot live on 'no-halves': half support is not built here");
    const h = tg.tensor([1, 2], { dtype: 'float16' });
    throws(() => h.to('no-halves'), tg.DTypeError, /^to: a float16 tensor cannot live on 'no-halves'/);
    const x = tg.tensor([1, 2], { device: 'no-halves' });
    throws(() => x.cast('float16'), tg.DTypeError, /^copy: a float16 tensor cannot live on 'no-halves'/);
    h.dispose();
    x.dispose();
  });
});
