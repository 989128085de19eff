import { registerKernel, type DType } from '@tapegrad/tensor';
import type { Epilogue } from '../fuse.js';
import { broadcastStrides, coalesce, computeType, numelOf, preamble, store, walk, walkMeta, type GpuView, type Program, type WebGPUKernel } from '../program.js';

// Batched C = A·B over strided operands (transposed views and broadcast batches read in
// place). Each thread of an 8x8 workgroup accumulates a TM x TN tile of C in registers, reading
// A and B straight from their buffers: per step along K it loads TM + TN elements for TM·TN
// multiply-adds. Its rows are SIDE apart and so are its columns, so neighbouring threads read
// neighbouring columns of B (coalesced) and the same element of A.
//
// There is no staging in workgroup memory: on llvmpipe (lavapipe), the software adapter this
// backend is tested on, every load whose address differs between invocations costs about a
// scalar load per invocation, workgroup memory included, and barriers switch coroutines, so a
// tile staged there cost the loads of a direct read twice over (once to stage, once to read back)
// plus two barriers per K slice. The tiles are picked from the output's shape: as large as 8x8
// (the fewest loads per multiply-add) where the output has room, smaller where one side is short
// (a 10-wide output fills a 16-wide block, not a 64-wide one), and smaller again until there are
// MIN_GROUPS workgroups to share out. Linear adds its bias to the float32 sum before the one
// rounding to the output dtype, as PyTorch's addmm: a separate add would round a half result twice.

/** Threads per workgroup along each axis of the output block. */
const SIDE = 8;
/** The largest register tile per thread, along each axis. */
const MAX_TILE = 8;
/** Workgroups a product is split into at least, while its tiles can shrink. */
const MIN_GROUPS = 4;

/** The register tile [TM, TN] of each thread for an m x n output (per batch element). */
export function matmulTiles(m: number, n: number, batch: number): [number, number] {
  const fit = (d: number) => {
    let t = 1;
    while (t < MAX_TILE && SIDE * t < d) t *= 2;
    return t;
  };
  let [tm, tn] = [fit(m), fit(n)];
  const groups = () => batch * Math.ceil(m / (SIDE * tm)) * Math.ceil(n / (SIDE * tn));
  while (tm * tn > 1 && groups() < MIN_GROUPS) {
    if (tm >= tn) tm /= 2;
    else tn /= 2;
  }
  return [tm, tn];
}

/**
 * One product of a shader (`matmulProgram`: the only one; `matmulPrograms`: several side by
 * side): its metadata, bindings and WGSL computing workgroup g of its grid. Its words start at md[base], its bindings at in{inAt} and out{outAt}.
 */
export interface MatmulPart {
  readonly meta: number[];
  readonly groups: number;
  readonly key: string;
  readonly compute: 'f32' | 'i32';
  readonly inputs: readonly GpuView[];
  /** The bindings' types: an epilogue's operands are read as words (its `ld`). */
  readonly inTypes: readonly (DType | 'u32')[];
  readonly outputs: readonly GpuView[];
  /** Its declarations, and its statements for workgroup `g` of its grid (inlined in main: a function this size compiled slowly on llvmpipe and ran at half the speed). */
  wgsl(name: string, base: number, inAt: number, outAt: number, extraAt: Parameters<Stored>[3]): [string, string];
}

/**
 * The product's shader, plus a bias row (linear) added before the store; with an epilogue (a
 * compiled function's fused group), each value then passes through it on its way to the output.
 * With `rowSums` (a compiled step's weight gradient Gᵀ·X and its bias gradient, 2-d, no bias or
 * epilogue), B has an extra column of ones, whose products are A's row sums, stored there.
 * `stored` (a compiled step's optimizer, optim.ts) is WGSL run by the thread that stored element
 * `i` of output q (0: the product, 1: the row sums), after its stores, with the value `v` it stored.
 */
export function matmulPart(a: GpuView, b: GpuView, out: GpuView, bias?: GpuView, epi?: Epilogue, rowSums?: GpuView, stored?: Stored): MatmulPart {
  const r = out.shape.length;
  const [m, n] = [out.shape[r - 2]!, out.shape[r - 1]!];
  const k = a.shape[a.shape.length - 1]!;
  const batchShape = out.shape.slice(0, -2);
  const cols = rowSums ? n + 1 : n;
  const [tm, tn] = matmulTiles(m, cols, numelOf(batchShape));
  const batchOf = (v: GpuView) => broadcastStrides({ shape: v.shape.slice(0, -2), strides: v.strides.slice(0, -2) }, batchShape);
  const batch = coalesce(batchShape, [batchOf(a), batchOf(b)]);
  const blocksM = Math.ceil(m / (SIDE * tm));
  const blocksN = Math.ceil(cols / (SIDE * tn));
  const [ars, acs] = a.strides.slice(-2) as [number, number];
  const [brs, bcs] = b.strides.slice(-2) as [number, number];
  const groups = m && n ? numelOf(batchShape) * blocksM * blocksN : 0;
  const meta = [
    groups, 0, m, n, k, blocksM, blocksN, ars, acs, brs, bcs, bias?.offset ?? 0, bias?.strides[0] ?? 0,
    ...walkMeta(batch.shape, [{ offset: a.offset, strides: batch.strides[0]! }, { offset: b.offset, strides: batch.strides[1]! }]),
  ];
  const c = computeType(out.dtype);
  const epiBase = meta.length;
  if (epi) meta.push(...epi.meta(out));
  const sumBase = meta.length;
  if (rowSums) meta.push(rowSums.offset, rowSums.strides[0]!);
  // the register tile is unrolled into scalars: arrays indexed in loops are slow to compile
  const rows = Array.from({ length: tm }, (_, i) => i);
  const tile = Array.from({ length: tn }, (_, j) => j);
  const grid = (f: (i: number, j: number) => string) => rows.flatMap((i) => tile.map((j) => f(i, j))).join(' ');
  // the column of ones past B's last (rowSums): a select per step, not a branch around the load
  const wgsl = (name: string, base: number, inAt: number, outAt: number, extraAt: Parameters<Stored>[3]): [string, string] => {
    const md = (q: number) => `md[${base + q}u]`;
    const [A, B, BIAS, OUT, SUMS] = [`in${inAt}`, `in${inAt + 1}`, `in${inAt + 2}`, `out${outAt}`, `out${outAt + 1}`];
    const biased = bias ? `v + C(${BIAS}[${md(11)} + col * ${md(12)}])` : 'v';
    const bLoad = (j: number) => (rowSums ? `select(C(${B}[pb${j} + kk * sb]), C(1), one${j})` : `C(${B}[pb${j} + kk * sb])`);
    const at = `base + row * ${md(3)} + col`;
    return [`${epi?.wgsl(base + epiBase, inAt + (bias ? 3 : 2)) ?? ''}
fn put_${name}(base: u32, row: u32, col: u32, v: C) {
  if (row < ${md(2)} && col < ${md(3)}) { ${OUT}[${at}] = ${store(epi ? `epilogue(${biased}, ${at})` : biased, c, out.dtype)}; }
  ${rowSums ? `else if (row < ${md(2)} && col == ${md(3)}) { ${SUMS}[${md(sumBase)} + row * ${md(sumBase + 1)}] = ${store('v', c, rowSums.dtype)}; }` : ''}
}
`, `let M = ${md(2)}; let N = ${md(3)}; let K = ${md(4)};
  let blocks = ${md(5)} * ${md(6)};
  let bi = g_${name} / blocks;
  let row0 = ((g_${name} % blocks) / ${md(6)}) * ${SIDE * tm}u + lid.y;
  let col0 = ((g_${name} % blocks) % ${md(6)}) * ${SIDE * tn}u + lid.x;
  ${walk(2, `${base + 13}u`, 'bi')}
  // rows and columns past the output's edge read its last one (in bounds, never stored): no
  // branch around the loads, so the loop body is straight-line
  ${rows.map((i) => `let pa${i} = o0 + min(row0 + ${i}u * S, M - 1u) * ${md(7)};`).join(' ')}
  ${tile.map((j) => `let pb${j} = o1 + min(col0 + ${j}u * S, N - 1u) * ${md(10)};`).join(' ')}
  ${rowSums ? tile.map((j) => `let one${j} = col0 + ${j}u * S == N;`).join(' ') : ''}
  // the K strides in locals: a buffer read inside the loop is a load per step
  let sa = ${md(8)}; let sb = ${md(9)};
  ${grid((i, j) => `var acc${i}_${j} = C(0);`)}
  for (var kk = 0u; kk < K; kk++) {
    ${rows.map((i) => `let a${i} = C(${A}[pa${i} + kk * sa]);`).join(' ')}
    ${tile.map((j) => `let b${j} = ${bLoad(j)};`).join(' ')}
    ${grid((i, j) => `acc${i}_${j} += a${i} * b${j};`)}
  }
  ${grid((i, j) => `put_${name}(bi * M * N, row0 + ${i}u * S, col0 + ${j}u * S, acc${i}_${j});`)}
  ${
    // each element read back by the thread that stored it (its own write: the stored bits), in a
    // loop: the code once, not once per element of the tile
    stored
      ? `for (var ti = 0u; ti < ${tm}u; ti++) { for (var tj = 0u; tj < ${tn}u; tj++) {
    let row = row0 + ti * S; let col = col0 + tj * S;
    if (row < M && col < N) { let i = bi * M * N + row * N + col; let o = ${OUT}[i]; ${stored(0, 'i', 'o', extraAt)} }
    ${rowSums ? `else if (row < M && col == N) { let o = ${SUMS}[${md(sumBase)} + row * ${md(sumBase + 1)}]; ${stored(1, 'row', 'o', extraAt)} }` : ''}
  } }`
      : ''
  }`];
  };
  // the epilogue's words start after the batch walk, whose length depends on the batch rank
  const key = `matmul:${a.dtype}:${b.dtype}:${out.dtype}:${tm}x${tn}:${bias ? 'bias' : ''}${epi ? `:${epiBase}:${epi.key}` : ''}${rowSums ? `:sums${sumBase}` : ''}`;
  const inputs = [a, b, ...(bias ? [bias] : [])];
  return { meta, groups, key, compute: c, wgsl, inputs: [...inputs, ...(epi?.inputs ?? [])], inTypes: [...inputs.map((v) => v.dtype), ...(epi?.inputs.map(() => 'u32' as const) ?? [])], outputs: [out, ...(rowSums ? [rowSums] : [])] };
}
/** WGSL run where a product stores element `i` of its output q (0: the product, 1: its row sums) with value `v`; `at`: where the program's Extra's words and bindings start. */
export type Stored = (q: number, i: string, v: string, at: { base: number; inAt: number; outAt: number }) => string;

/**
 * Products side by side in one dispatch (a compiled step's combined groups, fuse.ts): workgroup
 * g computes workgroup g of the first product's grid, the next ones the second's, and so on;
 * each product is computed by the very code `matmulProgram` makes for it alone, so its values
 * are the same bits. One compute type; at most one part with an epilogue (its helpers' names).
 * `extra`: more WGSL (declarations) and a statement run by workgroup g past the products' grids
 * (`g` counted from the first after them), with its workgroups, bindings and words (from md[base]).
 */
export function matmulPrograms(parts: readonly MatmulPart[], extra?: Extra): Program {
  const meta = [0, 0];
  const bases = parts.map((p) => meta.push(...p.meta) - p.meta.length);
  const ins = parts.map((_, i) => parts.slice(0, i).reduce((t, p) => t + p.inputs.length, 0));
  const outs = parts.map((_, i) => parts.slice(0, i).reduce((t, p) => t + p.outputs.length, 0));
  const starts = parts.map((_, i) => parts.slice(0, i).reduce((t, p) => t + p.groups, 0));
  const productGroups = parts.reduce((t, p) => t + p.groups, 0);
  const extraBase = meta.length;
  const inAt = ins.at(-1)! + parts.at(-1)!.inputs.length, outAt = outs.at(-1)! + parts.at(-1)!.outputs.length;
  if (extra) meta.push(...extra.meta);
  const code = parts.map((p, i) => p.wgsl(`${i}`, bases[i]!, ins[i]!, outs[i]!, { base: extraBase, inAt, outAt }));
  meta[0] = productGroups + (extra?.groups ?? 0);
  const wgsl = () => `${preamble([...parts.flatMap((p) => p.inTypes), ...(extra?.inputs.map((v) => v.dtype) ?? [])], [...parts.flatMap((p) => p.outputs.map((v) => v.dtype)), ...(extra?.outputs.map((v) => v.dtype) ?? [])])}
alias C = ${parts[0]!.compute};
const S: u32 = ${SIDE}u;
${code.map(([decls]) => decls).join('\n')}
${extra?.wgsl(extraBase, inAt, outAt) ?? ''}
@compute @workgroup_size(${SIDE}, ${SIDE})
fn main(@builtin(workgroup_id) w: vec3u, @builtin(num_workgroups) nw: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) l: u32) {
  let g = wid(w, nw);
  if (g >= md[0]) { return; }
  ${code.length === 1 && !extra ? `let g_0 = g; ${code[0]![1]}` : code.map(([, body], i) => `if (g < ${starts[i]! + parts[i]!.groups}u) { let g_${i} = g - ${starts[i]}u; ${body} return; }`).join('\n  ')}
  ${extra ? `extra(g - ${productGroups}u, l);` : ''}
}`;
  return {
    key: `${parts.map((p) => `${p.key}@${p.groups}`).join('|')}${extra ? `|${extra.key}` : ''}`,
    wgsl,
    inputs: [...parts.flatMap((p) => p.inputs), ...(extra?.inputs ?? [])].map((v) => v.handle),
    outputs: [...parts.flatMap((p) => p.outputs), ...(extra?.outputs ?? [])].map((v) => v.handle),
    meta,
    workgroups: meta[0]!,
  };
}
export interface Extra {
  readonly meta: readonly number[];
  readonly groups: number;
  readonly key: string;
  readonly inputs: readonly GpuView[];
  readonly outputs: readonly GpuView[];
  /** Declarations and `fn extra(g: u32, l: u32)`, its words from md[base], its bindings from in{inAt} and out{outAt}. */
  wgsl(base: number, inAt: number, outAt: number): string;
}

export function matmulProgram(a: GpuView, b: GpuView, out: GpuView, bias?: GpuView, epi?: Epilogue, rowSums?: GpuView): Program {
  return matmulPrograms([matmulPart(a, b, out, bias, epi, rowSums)]);
}

// (k = 0 needs no case of its own: the K loop runs no steps and writes zeros)
/** linear(x, w, b): x·wᵀ (w read transposed in place) with the bias added before the store. */
export function linearProgram(x: GpuView, w: GpuView, out: GpuView, bias?: GpuView, epi?: Epilogue): Program {
  return matmulProgram(x, { ...w, shape: [w.shape[1]!, w.shape[0]!], strides: [w.strides[1]!, w.strides[0]!] }, out, bias, epi);
}

registerKernel('matmul', 'webgpu', (([a, b], [out]) => [matmulProgram(a!, b!, out!)]) as WebGPUKernel);
registerKernel('linear', 'webgpu', (([x, w, b], [out]) => [linearProgram(x!, w!, out!, b)]) as WebGPUKernel);
