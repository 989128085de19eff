import { fitsInt32, getKernel, registerKernel, unravelIndex, ValueError, type ClampAttrs, type TriangleAttrs } from '@tapegrad/tensor';
import { broadcastStrides, dense, fills, lineBases, plan, type CpuKernel, type CpuView } from '../strided.js';
import { fastBinary, fastReluBackward, fastUnary, fastWhere, sigmoidF32, tanhF32 } from './fast-f32.js';
import { erf } from './erf.js';

// One loop per arity; each op supplies its scalar function. The loops walk coalesced rows, so
// contiguous operands run as one flat loop and broadcast/strided ones pay per row, not per element.

type Fn1 = (x: number) => number;
type Fn2 = (a: number, b: number) => number;

function outputCast(out: CpuView): ((v: number) => number) | undefined {
  return out.dtype === 'bool' ? (v) => (v !== 0 ? 1 : 0) : undefined; // NaN counts as true, as in torch
}

/** A CPU kernel applying `f` to every element (any strides). */
export function unaryKernel(f: Fn1): CpuKernel {
  return ([x], [out]) => {
    const p = plan(out!.shape, [broadcastStrides(x!, out!.shape), out!.strides], [x!.offset, out!.offset]);
    const a = x!.handle;
    const o = out!.handle;
    const [sa, so] = p.innerStrides as [number, number];
    const [ba, bo] = p.bases as [Int32Array, Int32Array];
    for (let r = 0; r < p.rows; r++) {
      let ia = ba[r]!;
      let io = bo[r]!;
      for (let j = 0; j < p.inner; j++, ia += sa, io += so) o[io] = f(a[ia]!);
    }
  };
}

/** A CPU kernel applying `f` to pairs of elements, broadcasting (any strides). */
export function binaryKernel(f: Fn2): CpuKernel {
  return ([x, y], [out]) => {
    const p = plan(out!.shape, [broadcastStrides(x!, out!.shape), broadcastStrides(y!, out!.shape), out!.strides], [x!.offset, y!.offset, out!.offset]);
    const a = x!.handle;
    const b = y!.handle;
    const o = out!.handle;
    const [sa, sb, so] = p.innerStrides as [number, number, number];
    const [ba, bb, bo] = p.bases as [Int32Array, Int32Array, Int32Array];
    for (let r = 0; r < p.rows; r++) {
      let ia = ba[r]!;
      let ib = bb[r]!;
      let io = bo[r]!;
      for (let j = 0; j < p.inner; j++, ia += sa, ib += sb, io += so) o[io] = f(a[ia]!, b[ib]!);
    }
  };
}

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
// halves to even, as torch.round (Math.round takes halves up); r − x is exact within 0.5 of x
const roundHalfEven = (x: number) => {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
// integer division truncates toward zero only for int outputs; div always returns float here
const UNARY: Record<string, Fn1> = {
  neg: (x) => -x,
  abs: Math.abs,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  tanh: Math.tanh,
  sigmoid,
  relu: (x) => (x > 0 ? x : x !== x ? x : 0),
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x),
  square: (x) => x * x,
  // issue 16: float32 results are the float64 values rounded (these functions are within an ulp in float64)
  sin: Math.sin,
  cos: Math.cos,
  erf,
  log1p: Math.log1p,
  expm1: Math.expm1,
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  isnan: (x) => +(x !== x),
  isfinite: (x) => +Number.isFinite(x),
};
const BINARY: Record<string, Fn2> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  // NaN propagates, as torch.maximum/minimum
  maximum: (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b),
  minimum: (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b),
  atan2: Math.atan2,
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
};
/**
 * The scalar function of each elementwise op whose float32 kernel computes it alike on every path
 * (fast loops, WebAssembly and the generic loop give the same bits), given its attrs: what a
 * fused kernel (../fuse.ts) calls per element, rounding each result to float32 as a store would.
 * silu is left out: its contiguous loop and its generic one round differently.
 */
export const FUSIBLE = new Map<string, (attrs: any) => (...x: number[]) => number>();
for (const [name, f] of Object.entries({ ...UNARY, ...BINARY })) FUSIBLE.set(name, () => f);
FUSIBLE.set('sigmoid', () => sigmoidF32).set('tanh', () => tanhF32);
for (const name of ['isnan', 'isfinite', 'eq', 'ne', 'lt', 'le', 'gt', 'ge']) FUSIBLE.delete(name); // bool results
FUSIBLE.set('clamp', ({ min, max }: ClampAttrs) => (x) => (x !== x ? x : x < min ? min : x > max ? max : x));
FUSIBLE.set('reluBackward', () => (g, y) => (y! > 0 ? g! : 0));
FUSIBLE.set('where', () => (c, x, y) => (c ? x! : y!));
FUSIBLE.set('copy', () => (x) => x);

// Every kernel in this file writes each element of its output once (a plan covers all of it).
for (const [name, f] of Object.entries(UNARY)) registerKernel(name, 'cpu', fills(fastUnary(name, unaryKernel(f))));
for (const [name, f] of Object.entries(BINARY)) registerKernel(name, 'cpu', fills(fastBinary(name, binaryKernel(f))));

// int32 arithmetic wraps modulo 2^32, as PyTorch's (and WGSL's) does. add and sub are exact in
// a double before the store wraps them; a product can pass 2^53 and lose its low bits first, so
// int32 mul, square and pow multiply with Math.imul, which wraps as int32 hardware does.
function ipow(a: number, e: number): number {
  let r = 1;
  for (; e > 0; e >>>= 1, a = Math.imul(a, a)) if (e & 1) r = Math.imul(r, a);
  return r;
}
const INT32: Record<string, Fn1 | Fn2> = { mul: Math.imul, square: (x: number) => Math.imul(x, x) };
for (const [name, f] of Object.entries(INT32)) {
  const float = getKernel(name, 'cpu') as CpuKernel;
  const int = (f.length === 1 ? unaryKernel(f as Fn1) : binaryKernel(f as Fn2)) as CpuKernel;
  registerKernel(name, 'cpu', fills(((inputs, outputs, attrs, op) => (outputs[0]!.dtype === 'int32' ? int : float)(inputs, outputs, attrs, op)) as CpuKernel));
}

// float32 sigmoid and tanh through fastExp (fast-f32.ts), strided or not, so every path gives the same bits
for (const [name, f] of Object.entries({ sigmoid: sigmoidF32, tanh: tanhF32 })) {
  const wide = getKernel(name, 'cpu') as CpuKernel;
  const narrow = fastUnary(name, unaryKernel(f));
  registerKernel(name, 'cpu', fills(((inputs, outputs, attrs, op) => (outputs[0]!.dtype === 'float32' ? narrow : wide)(inputs, outputs, attrs, op)) as CpuKernel));
}

// pow on ints stays an int, but a negative int exponent would give a fraction: torch errors.
registerKernel('pow', 'cpu', fills((inputs, outputs, attrs, op) => {
  if (outputs[0]!.dtype === 'int32') {
    for (const v of dense(inputs[1]!)) if (v < 0) throw new ValueError(`pow: integers to negative integer powers are not allowed (exponent ${v})`);
    return binaryKernel(ipow)(inputs, outputs, attrs, op);
  }
  binaryKernel(BINARY.pow!)(inputs, outputs, attrs, op);
}) as CpuKernel);

const clampKernel: CpuKernel<ClampAttrs> = (inputs, outputs, attrs, op) => unaryKernel(FUSIBLE.get('clamp')!(attrs))(inputs, outputs, {}, op);
registerKernel('clamp', 'cpu', fills(clampKernel));
// relu's gradient: g where y = relu(x) > 0, else 0 (a NaN y gives 0, as where(y > 0, g, 0) did)
registerKernel('reluBackward', 'cpu', fills(fastReluBackward(binaryKernel(FUSIBLE.get('reluBackward')!({}) as Fn2))));

// tril/triu: each matrix in the last two dims keeps the elements with column − row ≤ diagonal
// (tril) or ≥ diagonal (triu): in row r, the columns below r + diagonal + 1 (tril) or from
// r + diagonal on (triu). Rows are walked one by one, so no element needs its row worked out.
function triangleKernel(upper: boolean): CpuKernel<TriangleAttrs> {
  return ([x], [out], { diagonal }) => {
    const o = out!, a = x!.handle, h = o.handle;
    const cols = o.shape[o.shape.length - 1]!, rows = o.shape[o.shape.length - 2]!;
    const strides = broadcastStrides(x!, o.shape);
    const sc = strides[strides.length - 1]!;
    const starts = lineBases(o.shape.slice(0, -1), strides.slice(0, -1), x!.offset);
    for (let line = 0; line < starts.length; line++) {
      const edge = Math.max(0, Math.min(cols, (line % rows) + diagonal + (upper ? 0 : 1)));
      const [from, to] = upper ? [edge, cols] : [0, edge];
      const base = o.offset + line * cols;
      h.fill(0, base, base + from);
      for (let c = from, p = starts[line]! + from * sc; c < to; c++, p += sc) h[base + c] = a[p]!;
      h.fill(0, base + to, base + cols);
    }
  };
}
registerKernel('tril', 'cpu', fills(triangleKernel(false)));
registerKernel('triu', 'cpu', fills(triangleKernel(true)));

registerKernel('where', 'cpu', fills(fastWhere((([c, x, y], [out]) => {
  const o = out!;
  const strides = [c!, x!, y!].map((v) => broadcastStrides(v, o.shape));
  const p = plan(o.shape, [...strides, o.strides], [c!.offset, x!.offset, y!.offset, o.offset]);
  const [sc, sa, sb, so] = p.innerStrides as [number, number, number, number];
  for (let r = 0; r < p.rows; r++) {
    let ic = p.bases[0]![r]!;
    let ia = p.bases[1]![r]!;
    let ib = p.bases[2]![r]!;
    let io = p.bases[3]![r]!;
    for (let j = 0; j < p.inner; j++, ic += sc, ia += sa, ib += sb, io += so) o.handle[io] = c!.handle[ic] ? x!.handle[ia]! : y!.handle[ib]!;
  }
}) as CpuKernel)));

// 'copy' reads a strided (possibly broadcast) view and writes another view, converting dtype.
// A float out of int32's range (NaN, infinities) has no int32 value: PyTorch leaves the cast
// undefined (x86 gives INT_MIN), a typed array would wrap it; here it is an error, as PyTorch's
// creation functions make it. The index counts the output's elements in row-major order, the
// order the plan visits them.
registerKernel('copy', 'cpu', fills(fastUnary('copy', ((inputs, outputs, attrs, op) => {
  const out = outputs[0]!, x = inputs[0]!;
  if (out.dtype === 'int32' && (x.dtype === 'float32' || x.dtype === 'float64')) {
    let i = 0;
    return unaryKernel((v) => {
      if (!fitsInt32(v)) {
        const at = out.shape.length ? ` at index [${unravelIndex(i, out.shape).join(', ')}]` : '';
        throw new ValueError(`${op === 'copy' ? 'cast' : op}: value ${v}${at} cannot be converted to int32 without overflow (int32 holds -2147483648 to 2147483647; clamp it first)`);
      }
      i++;
      return v;
    })(inputs, outputs, attrs, op);
  }
  unaryKernel(outputCast(out) ?? ((v) => v))(inputs, outputs, attrs, op);
}) as CpuKernel)));
