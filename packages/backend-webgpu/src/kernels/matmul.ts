import { registerKernel } from '@tapegrad/tensor';
import type { Epilogue } from '../fuse.js';
import { broadcastStrides, coalesce, computeType, numelOf, preamble, store, walk, walkMeta, type GpuView, type Program, type WebGPUKernel } from '../program.js';

// Batched C = A·B over strided operands (transposed views and broadcast batches read in
// place). A workgroup of 16x16 threads computes a block of C, staging matching K-slices of A
// and B in workgroup memory so each loaded element feeds many multiply-adds. Small products
// use 16x16 blocks (one output per thread: more workgroups to spread over the GPU); large ones
// 64x64 blocks with a 4x4 register tile per thread (16 multiply-adds per pair of workgroup
// memory loads instead of 1). Linear adds its bias to the float32 sum before the one rounding to
// the output dtype, as PyTorch's addmm: a separate add would round a half result twice.

const THREADS = 16;
/** Outputs at least this large take the 64x64 blocks. */
const LARGE = 256 * 256;

/**
 * The product's shader, plus a bias row (linear) added before the store; with an epilogue (a
 * compiled function's fused group), each value then passes through it on its way to the output.
 * With `rowSums` (a compiled step's weight gradient Gᵀ·X and its bias gradient, 2-d, no bias or
 * epilogue), B has an extra column of ones, whose products are A's row sums, stored there.
 */
export function matmulProgram(a: GpuView, b: GpuView, out: GpuView, bias?: GpuView, epi?: Epilogue, rowSums?: GpuView): Program {
  const r = out.shape.length;
  const [m, n] = [out.shape[r - 2]!, out.shape[r - 1]!];
  const k = a.shape[a.shape.length - 1]!;
  const per = m * n >= LARGE ? 4 : 1; // outputs per thread along each axis
  const block = THREADS * per;
  const batchShape = out.shape.slice(0, -2);
  const batchOf = (v: GpuView) => broadcastStrides({ shape: v.shape.slice(0, -2), strides: v.strides.slice(0, -2) }, batchShape);
  const batch = coalesce(batchShape, [batchOf(a), batchOf(b)]);
  const blocksM = Math.ceil(m / block);
  const blocksN = Math.ceil((rowSums ? n + 1 : n) / block);
  const [ars, acs] = a.strides.slice(-2) as [number, number];
  const [brs, bcs] = b.strides.slice(-2) as [number, number];
  const groups = numelOf(batchShape) * blocksM * blocksN;
  const meta = [
    groups, 0, m, n, k, blocksM, blocksN, ars, acs, brs, bcs, bias?.offset ?? 0, bias?.strides[0] ?? 0,
    ...walkMeta(batch.shape, [{ offset: a.offset, strides: batch.strides[0]! }, { offset: b.offset, strides: batch.strides[1]! }]),
  ];
  const c = computeType(out.dtype);
  const epiBase = meta.length;
  if (epi) meta.push(...epi.meta(out));
  const sumBase = meta.length;
  if (rowSums) meta.push(rowSums.offset, rowSums.strides[0]!);
  const biased = bias ? 'v + C(in2[md[11] + col * md[12]])' : 'v';
  // the register tile is unrolled into scalars: arrays indexed in loops are slow to compile
  const range = Array.from({ length: per }, (_, i) => i);
  const grid = (f: (i: number, j: number) => string) => range.flatMap((i) => range.map((j) => f(i, j))).join(' ');
  // the K-slice staged per step: THREADS deep, `block` wide, loaded by the 256 threads in `per` rounds
  const wgsl = () => `${preamble([a.dtype, b.dtype, ...(bias ? [bias.dtype] : []), ...(epi?.inputs.map(() => 'u32' as const) ?? [])], [out.dtype, ...(rowSums ? [rowSums.dtype] : [])])}
alias C = ${c};
${epi?.wgsl(epiBase, bias ? 3 : 2) ?? ''}
const T: u32 = ${THREADS}u;
const P: u32 = ${per}u;
const B: u32 = ${block}u;
var<workgroup> ta: array<C, ${THREADS * block}>; // ta[kk * B + row]
var<workgroup> tb: array<C, ${THREADS * block}>; // tb[kk * B + col]
fn put(base: u32, row: u32, col: u32, v: C) {
  if (row < md[2] && col < md[3]) { out0[base + row * md[3] + col] = ${store(epi ? `epilogue(${biased}, base + row * md[3] + col)` : biased, c, out.dtype)}; }
  ${rowSums ? `else if (row < md[2] && col == md[3]) { out1[md[${sumBase}u] + row * md[${sumBase + 1}u]] = ${store('v', c, rowSums.dtype)}; }` : ''}
}
@compute @workgroup_size(${THREADS}, ${THREADS})
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid(w, nw);
  if (g >= md[0]) { return; }
  let M = md[2]; let N = md[3]; let K = md[4];
  let blocks = md[5] * md[6];
  let bi = g / blocks;
  let row0 = ((g % blocks) / md[6]) * B;
  let col0 = ((g % blocks) % md[6]) * B;
  ${walk(2, '13u', 'bi')}
  let tid = lid.y * T + lid.x;
  ${grid((i, j) => `var acc${i}_${j} = C(0);`)}
  for (var k0 = 0u; k0 < K; k0 += T) {
    for (var e = tid; e < T * B; e += T * T) {
      let ra = e / T; let ka = k0 + e % T;   // A: B rows x T ks
      var av = C(0);
      if (row0 + ra < M && ka < K) { av = C(in0[o0 + (row0 + ra) * md[7] + ka * md[8]]); }
      ta[(e % T) * B + ra] = av;
      let kb = k0 + e / B; let cb = e % B;   // B: T ks x B cols
      var bv = C(0);
      if (kb < K && col0 + cb < N) { bv = C(in1[o1 + kb * md[9] + (col0 + cb) * md[10]]); }${rowSums ? ' else if (kb < K && col0 + cb == N) { bv = C(1); }' : ''}
      tb[(e / B) * B + cb] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < T; kk++) {
      ${range.map((i) => `let a${i} = ta[kk * B + lid.y * P + ${i}u]; let b${i} = tb[kk * B + lid.x * P + ${i}u];`).join(' ')}
      ${grid((i, j) => `acc${i}_${j} += a${i} * b${j};`)}
    }
    workgroupBarrier();
  }
  ${grid((i, j) => `put(bi * M * N, row0 + lid.y * P + ${i}u, col0 + lid.x * P + ${j}u, acc${i}_${j});`)}
}`;
  // the epilogue's words start after the batch walk, whose length depends on the batch rank
  const key = `matmul:${a.dtype}:${b.dtype}:${out.dtype}:${per}:${bias ? 'bias' : ''}${epi ? `:${epiBase}:${epi.key}` : ''}${rowSums ? `:sums${sumBase}` : ''}`;
  return { key, wgsl, inputs: [a.handle, b.handle, ...(bias ? [bias.handle] : []), ...(epi?.inputs.map((v) => v.handle) ?? [])], outputs: [out.handle, ...(rowSums ? [rowSums.handle] : [])], meta, workgroups: m && n ? groups : 0 };
}

// (k = 0 needs no case of its own: the K loop runs no steps and writes zeros)
/** linear(x, w, b): x·wᵀ (w read transposed in place) with the bias added before the store. */
export function linearProgram(x: GpuView, w: GpuView, out: GpuView, bias?: GpuView, epi?: Epilogue): Program {
  return matmulProgram(x, { ...w, shape: [w.shape[1]!, w.shape[0]!], strides: [w.strides[1]!, w.strides[0]!] }, out, bias, epi);
}

registerKernel('matmul', 'webgpu', (([a, b], [out]) => [matmulProgram(a!, b!, out!)]) as WebGPUKernel);
registerKernel('linear', 'webgpu', (([x, w, b], [out]) => [linearProgram(x!, w!, out!, b)]) as WebGPUKernel);
