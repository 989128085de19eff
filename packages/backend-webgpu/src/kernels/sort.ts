import { registerKernel, type SortAttrs } from '@tapegrad/tensor';
import { coalesce, DTYPE_CODE, numelOf, preamble, walk, walkMeta, WORKGROUP, type GpuView, type Program, type WebGPUKernel } from '../program.js';

// A bitonic sort of each line, on (key, index) pairs. The key is the value's bits mapped to a u32
// that orders as the values do (NaN above +inf, -0 equal to 0, complemented for descending);
// comparing the index on equal keys makes the order total, so the result is the stable sort's,
// the CPU kernel's to the index. Lines are padded to a power of two P with virtual elements
// above everything. Every comparator of the network (per merge, a "flip" then half-cleaners)
// puts the smaller element at the lower position, so a virtual element, always the larger, never
// moves: a comparison with one is skipped and nothing is padded in memory.
//
// Blocks of B elements sort in workgroup memory (8 KiB of pairs): a line of up to B elements is
// one dispatch. Longer lines merge in global memory, a dispatch per step with a stride of B or
// more, and each merge ends in workgroup memory again: m(m + 3)/2 + 1 dispatches for
// m = log2(P/B), 21 for 32,768 elements. Between dispatches the keys wait in the values output; the
// last one writes the values themselves. A line's length is limited only by the buffer size.

const B = 1024;

/** WGSL: the u32 key of a value's bits (`code`: its dtype code; float16 arrives as f32 bits). */
const KEY = `fn key_of(bits: u32, code: u32, descending: bool) -> u32 {
  var k = bits;
  if (code == 0u) {
    if ((k & 0x7fffffffu) > 0x7f800000u) { k = 0x7fc00000u; } // every NaN one value, above +inf
    if (k == 0x80000000u) { k = 0u; } // -0 equals 0
    k = select(k | 0x80000000u, ~k, (k & 0x80000000u) != 0u);
  } else if (code == 1u) {
    k = k ^ 0x80000000u;
  }
  return select(k, ~k, descending);
}`;

/** What every dispatch of one sort shares: the operands, the line length and the kept dims' walk. */
interface Plan {
  x: GpuView;
  values: GpuView;
  indices: GpuView;
  rows: number;
  n: number;
  /** Strides along the sorted dim (of x, and of both contiguous outputs). */
  sx: number;
  so: number;
  /** walk(x, out) over the kept dims, and walk(out) alone. */
  both: number[];
  out: number[];
}

/**
 * Sort blocks of `bp` elements in workgroup memory: merges of size k[0]..k[1], each from the stride
 * that fits the block down. `first` reads the input (else the pairs the last dispatch left),
 * `last` writes the values (else the keys).
 */
function localProgram(s: Plan, descending: boolean, bp: number, k: [number, number], first: boolean, last: boolean): Program {
  const blocks = Math.ceil(s.n / bp);
  // [work, slot, n, blocks per line, block size, first, last, k from, k to, dtype, descending, x stride, out stride, walk(x, out)]
  const meta = [s.rows * blocks, 0, s.n, blocks, bp, first ? 1 : 0, last ? 1 : 0, k[0], k[1], DTYPE_CODE[s.x.dtype]!, descending ? 1 : 0, s.sx, s.so, ...s.both];
  // float16 reads its values as f32 and takes float32's keys. Its values output cannot hold keys
  // between dispatches: only the indices wait there, and keys are read again through them.
  const half = s.x.dtype === 'float16';
  const wgsl = () => `${half ? preamble(['float16'], ['float16', 'u32']) : preamble(['u32'], ['u32', 'u32'])}
const B: u32 = ${B}u;
const VIRTUAL: u32 = 0xffffffffu;
var<workgroup> sk: array<u32, B>;
var<workgroup> si: array<u32, B>;
${KEY}
fn key(bits: u32) -> u32 { return key_of(bits, md[9], md[10] == 1u); }
fn before(a: u32, b: u32) -> bool { return sk[a] < sk[b] || (sk[a] == sk[b] && si[a] < si[b]); }
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let g = wid(w, nw);
  if (g >= md[0]) { return; }
  let row = g / md[3];
  let start = (g % md[3]) * md[4];
  ${walk(2, '13u', 'row')}
  let n = md[2]; let bp = md[4]; let sx = md[11]; let so = md[12];
  for (var t = l; t < bp; t += WG) {
    let p = start + t;
    if (p >= n) { sk[t] = VIRTUAL; si[t] = VIRTUAL; }
    else if (md[5] == 1u) { sk[t] = key(${half ? 'bitcast<u32>(in0[o0 + p * sx])' : 'in0[o0 + p * sx]'}); si[t] = p; }
    else { ${half ? 'let j = out1[o1 + p * so]; sk[t] = key(bitcast<u32>(in0[o0 + j * sx])); si[t] = j;' : 'sk[t] = out0[o1 + p * so]; si[t] = out1[o1 + p * so];'} }
  }
  workgroupBarrier();
  for (var k = md[7]; k <= md[8]; k = k << 1u) {
    for (var j = min(k, bp) >> 1u; j > 0u; j = j >> 1u) {
      let flip = j == (k >> 1u);
      for (var t = l; t < bp / 2u; t += WG) {
        let i = (t / j) * 2u * j + t % j;
        let q = select(i + j, i ^ (2u * j - 1u), flip);
        if (before(q, i)) { let a = sk[i]; sk[i] = sk[q]; sk[q] = a; let b = si[i]; si[i] = si[q]; si[q] = b; }
      }
      workgroupBarrier();
    }
  }
  for (var t = l; t < bp; t += WG) {
    let p = start + t;
    if (p < n) {
      let at = o1 + p * so;
      out1[at] = si[t];
      ${half ? 'if (md[6] == 1u) { out0[at] = in0[o0 + si[t] * sx]; }' : 'out0[at] = select(sk[t], in0[o0 + si[t] * sx], md[6] == 1u);'}
    }
  }
}`;
  return { key: 'sort:local', wgsl, inputs: [s.x.handle], outputs: [s.values.handle, s.indices.handle], meta, workgroups: s.rows * blocks };
}

/** One step of a merge of size 2j·…, stride j >= B, in global memory: a thread per pair. */
function globalProgram(s: Plan, descending: boolean, half: number, j: number, flip: boolean): Program {
  // float16: compare the keys of the values the indices point at (the values output holds no keys)
  const f16 = s.x.dtype === 'float16';
  // [pairs, slot, n, pairs per line, stride j, flip, out stride, descending, x stride, walk(out) or walk(x, out)]
  const meta = [s.rows * half, 0, s.n, half, j, flip ? 1 : 0, s.so, descending ? 1 : 0, s.sx, ...(f16 ? s.both : s.out)];
  const wgsl = () => `${f16 ? preamble(['float16'], ['float16', 'u32']) : preamble([], ['u32', 'u32'])}
${f16 ? KEY : ''}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_index) l: u32) {
  let g = wid(w, nw) * WG + l;
  if (g >= md[0]) { return; }
  let row = g / md[3];
  let t = g % md[3];
  ${f16 ? walk(2, '9u', 'row') : walk(1, '9u', 'row')}
  let j = md[4];
  let i = (t / j) * 2u * j + t % j;
  let q = select(i + j, i ^ (2u * j - 1u), md[5] == 1u);
  if (q >= md[2]) { return; }
  ${f16
    ? `let a = o1 + i * md[6]; let b = o1 + q * md[6];
  let ia = out1[a]; let ib = out1[b];
  let ka = key_of(bitcast<u32>(in0[o0 + ia * md[8]]), 0u, md[7] == 1u); let kb = key_of(bitcast<u32>(in0[o0 + ib * md[8]]), 0u, md[7] == 1u);
  if (kb < ka || (kb == ka && ib < ia)) { out1[a] = ib; out1[b] = ia; }`
    : `let a = o0 + i * md[6]; let b = o0 + q * md[6];
  let ka = out0[a]; let kb = out0[b]; let ia = out1[a]; let ib = out1[b];
  if (kb < ka || (kb == ka && ib < ia)) { out0[a] = kb; out0[b] = ka; out1[a] = ib; out1[b] = ia; }`}
}`;
  return {
    key: 'sort:global', wgsl, inputs: f16 ? [s.x.handle] : [], outputs: [s.values.handle, s.indices.handle], meta,
    workgroups: Math.ceil((s.rows * half) / WORKGROUP),
  };
}

registerKernel('sort', 'webgpu', (([x], [values, indices], { dim, descending }) => {
  const rank = x!.shape.length;
  const n = rank ? x!.shape[dim]! : 1;
  const rows = n === 0 ? 0 : numelOf(x!.shape) / n;
  const keptDims = x!.shape.map((_, i) => i).filter((i) => i !== dim);
  const kept = coalesce(keptDims.map((d) => x!.shape[d]!), [keptDims.map((d) => x!.strides[d]!), keptDims.map((d) => values!.strides[d]!)]);
  const s: Plan = {
    x: x!, values: values!, indices: indices!, rows, n,
    sx: rank ? x!.strides[dim]! : 0, so: rank ? values!.strides[dim]! : 0,
    both: walkMeta(kept.shape, [{ offset: x!.offset, strides: kept.strides[0]! }, { offset: 0, strides: kept.strides[1]! }]),
    out: walkMeta(kept.shape, [{ offset: 0, strides: kept.strides[1]! }]),
  };
  const P = 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
  const bp = Math.min(B, P);
  const programs = [localProgram(s, descending, bp, [2, bp], true, P <= B)];
  for (let k = 2 * B; k <= P; k *= 2) {
    for (let j = k / 2; j >= B; j /= 2) programs.push(globalProgram(s, descending, P / 2, j, j === k / 2));
    programs.push(localProgram(s, descending, bp, [k, k], false, k === P));
  }
  return programs;
}) as WebGPUKernel<SortAttrs>);
