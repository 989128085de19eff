import { registerKernel } from '@tapegrad/tensor';
import { broadcastStrides, coalesce, computeType, numelOf, preamble, store, walk, walkMeta, type GpuView, type Program, type WebGPUKernel } from '../program.js';

// Batched C = A·B over strided operands (transposed views and broadcast batches read in
// place). Each workgroup computes a TILE x TILE block of C: the threads stage matching tiles of
// A and B in workgroup memory, so each loaded element feeds TILE multiply-adds.

const TILE = 16;

function matmulProgram(a: GpuView, b: GpuView, out: GpuView): Program {
  const r = out.shape.length;
  const [m, n] = [out.shape[r - 2]!, out.shape[r - 1]!];
  const k = a.shape[a.shape.length - 1]!;
  const batchShape = out.shape.slice(0, -2);
  const batchOf = (v: GpuView) => broadcastStrides({ shape: v.shape.slice(0, -2), strides: v.strides.slice(0, -2) }, batchShape);
  const batch = coalesce(batchShape, [batchOf(a), batchOf(b)]);
  const tilesM = Math.ceil(m / TILE);
  const tilesN = Math.ceil(n / TILE);
  const [ars, acs] = a.strides.slice(-2) as [number, number];
  const [brs, bcs] = b.strides.slice(-2) as [number, number];
  const groups = numelOf(batchShape) * tilesM * tilesN;
  const meta = [
    groups, 0, m, n, k, tilesM, tilesN, ars, acs, brs, bcs,
    ...walkMeta(batch.shape, [{ offset: a.offset, strides: batch.strides[0]! }, { offset: b.offset, strides: batch.strides[1]! }]),
  ];
  const c = computeType(out.dtype);
  const wgsl = () => `${preamble([a.dtype, b.dtype], [out.dtype])}
alias C = ${c};
const T: u32 = ${TILE}u;
var<workgroup> ta: array<C, ${TILE * TILE}>;
var<workgroup> tb: array<C, ${TILE * TILE}>;
@compute @workgroup_size(${TILE}, ${TILE})
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid(w, nw);
  if (g >= md[0]) { return; }
  let M = md[2]; let N = md[3]; let K = md[4];
  let per = md[5] * md[6];
  let bi = g / per;
  let row = ((g % per) / md[6]) * T + lid.y;
  let col = ((g % per) % md[6]) * T + lid.x;
  ${walk(2, '11u', 'bi')}
  var acc = C(0);
  for (var k0 = 0u; k0 < K; k0 += T) {
    let ka = k0 + lid.x;
    let kb = k0 + lid.y;
    var av = C(0);
    if (row < M && ka < K) { av = C(in0[o0 + row * md[7] + ka * md[8]]); }
    var bv = C(0);
    if (kb < K && col < N) { bv = C(in1[o1 + kb * md[9] + col * md[10]]); }
    ta[lid.y * T + lid.x] = av;
    tb[lid.y * T + lid.x] = bv;
    workgroupBarrier();
    for (var kk = 0u; kk < T; kk++) { acc += ta[lid.y * T + kk] * tb[kk * T + lid.x]; }
    workgroupBarrier();
  }
  if (row < M && col < N) { out0[bi * M * N + row * N + col] = ${store('acc', c, out.dtype)}; }
}`;
  return { key: `matmul:${a.dtype}:${b.dtype}:${out.dtype}`, wgsl, inputs: [a.handle, b.handle], outputs: [out.handle], meta, workgroups: m && n ? groups : 0 };
}

// (k = 0 needs no case of its own: the tile loop runs no steps and writes zeros)
registerKernel('matmul', 'webgpu', (([a, b], [out]) => [matmulProgram(a!, b!, out!)]) as WebGPUKernel);
