// Shared helpers for benchmark suites. A suite is a module in src/suites/ whose default export is
// `defineSuite({ name, run })`; the runner (main.ts) loads every such module, so adding a suite
// means adding a file, never editing a list. `run` gets a Context and returns tables to print.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Cell = string | number | undefined;
export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  /** Lines printed under the table (what was measured, caveats). */
  notes?: string[];
}
export interface Suite {
  name: string;
  run(ctx: Context): Promise<Table[]>;
}
export const defineSuite = (s: Suite): Suite => s;

export interface Timing {
  /** Median milliseconds per call. */
  median: number;
  min: number;
  samples: number[];
}
export interface TimeOptions {
  /** Untimed calls first (JIT, caches, worker wake-up). Default 3. */
  warmup?: number;
  /** Timed calls at least. Default 11. */
  reps?: number;
  /** Keep timing until this much time has been spent (ms), up to 10·reps calls. Default 300. */
  minMs?: number;
}

/** Median of N calls of fn (awaited when it returns a promise), after a warm-up. */
export async function time(fn: () => unknown, opts: TimeOptions = {}): Promise<Timing> {
  const { warmup = 3, reps = 11, minMs = 300 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < reps || (performance.now() - start < minMs && samples.length < 10 * reps)) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return { median: median(samples), min: Math.min(...samples), samples };
}

/**
 * Time two functions in alternating calls, so that load from other processes on a shared machine
 * falls on both alike; `ratio` is the median over rounds of (b's time / a's time), the figure to
 * quote when the claim is "a is k times faster than b".
 */
export async function timePair(a: () => unknown, b: () => unknown, opts: TimeOptions = {}): Promise<{ a: Timing; b: Timing; ratio: number }> {
  const { warmup = 3, reps = 11, minMs = 300 } = opts;
  for (let i = 0; i < warmup; i++) { await a(); await b(); }
  const sa: number[] = [], sb: number[] = [], ratios: number[] = [];
  const start = performance.now();
  while (sa.length < reps || (performance.now() - start < minMs && sa.length < 10 * reps)) {
    let t0 = performance.now();
    await a();
    const ta = performance.now() - t0;
    t0 = performance.now();
    await b();
    const tb = performance.now() - t0;
    sa.push(ta); sb.push(tb); ratios.push(tb / ta);
  }
  const summary = (s: number[]): Timing => ({ median: median(s), min: Math.min(...s), samples: s });
  return { a: summary(sa), b: summary(sb), ratio: median(ratios) };
}

export interface EpochTiming {
  /** Wall time of all the calls, ms: what one epoch pays, warm-up (JIT, caches, pools) included. */
  totalMs: number;
  /** Median ms per call over the second half: the steady state. */
  median: number;
}

/**
 * Call fn `steps` times from a fresh start, as one epoch of training does, timing each call.
 * Per-call medians after a short warm-up miss what a JIT-compiled runtime pays until its
 * optimizing compiler has seen the whole step (hundreds of steps for tapegrad under V8), and
 * what PyTorch does not; an epoch's total counts it for every framework alike.
 */
export async function epoch(fn: () => unknown, steps: number): Promise<EpochTiming> {
  const samples: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return { totalMs: samples.reduce((a, b) => a + b, 0), median: median(samples.slice(steps >> 1)) };
}

export const median = (s: number[]): number => [...s].sort((x, y) => x - y)[s.length >> 1]!;

/** Ratios taken inside rounds: their median, and with several rounds their range ("0.85x (0.80–0.88)"), or '—' for none. */
export const roundRatios = (rs: number[]): string =>
  rs.length ? `${fmt(median(rs), 2)}x` + (rs.length > 1 ? ` (${fmt(Math.min(...rs), 2)}–${fmt(Math.max(...rs), 2)})` : '') : '—';

/**
 * This machine's memory bandwidth now, in GB/s counting bytes read plus bytes written: a 64 MB
 * Float32Array copied with TypedArray.set (what a bandwidth-bound kernel can hope for from one
 * thread). Measured in the same run because the machine is shared and the figure drifts.
 */
export async function copyBandwidth(): Promise<number> {
  const n = 16 << 20;
  const src = new Float32Array(n).fill(1), dst = new Float32Array(n);
  const t = await time(() => dst.set(src), { warmup: 2, reps: 9, minMs: 200 });
  return (2 * n * 4) / (t.median * 1e6);
}

/** Format a number for a table: 3 significant digits, no exponent for ordinary magnitudes. */
export function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || Number.isNaN(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 10 ** digits) return x.toFixed(0);
  return x.toPrecision(digits).replace(/\.?0+$/, (m) => (m.includes('.') ? '' : m));
}
/** "3.2x" — how many times faster `ours` is than `theirs`, given times (lower is better). */
export const speedup = (oursMs: number | undefined, theirsMs: number | undefined): string =>
  oursMs && theirsMs ? `${fmt(theirsMs / oursMs, 2)}x` : '—';

export function printTable(t: Table): void {
  const cells = t.rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c ?? '—')));
  const widths = t.columns.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  console.log(`\n### ${t.title}\n`);
  console.log(line(t.columns));
  console.log(`| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : '-'.repeat(w - 1) + ':')).join(' | ')} |`);
  for (const r of cells) console.log(line(r));
  for (const n of t.notes ?? []) console.log(`\n${n}`);
}

let torchOk: boolean | undefined;
/**
 * Run a Python script with Debian's PyTorch and parse the JSON it prints last, or undefined when
 * `/usr/bin/python3 -c 'import torch'` fails (the PyTorch rows are optional). The script gets a
 * helper `bench(fn, warmup=3, reps=11)` returning the median milliseconds of fn(), and
 * `epoch(fn, steps)` returning {"totalMs", "median"} as {@link epoch} does.
 */
export function torch<T = unknown>(script: string, env: Record<string, string> = {}): T | undefined {
  const python = '/usr/bin/python3';
  torchOk ??= spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  if (!torchOk) return undefined;
  const prelude = `import json, time, statistics, torch
def bench(fn, warmup=3, reps=11, min_s=0.3):
    for _ in range(warmup): fn()
    ts, start = [], time.perf_counter()
    while len(ts) < reps or (time.perf_counter() - start < min_s and len(ts) < 10 * reps):
        t0 = time.perf_counter(); fn(); ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)
def epoch(fn, steps):
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter(); fn(); ts.append((time.perf_counter() - t0) * 1e3)
    return {"totalMs": sum(ts), "median": statistics.median(ts[steps // 2:])}
`;
  const dir = mkdtempSync(join(tmpdir(), 'tapegrad-bench-'));
  const file = join(dir, 'bench.py');
  writeFileSync(file, prelude + script);
  const r = spawnSync(python, [file], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  if (r.status !== 0) {
    console.warn(`torch: script failed (${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    return undefined;
  }
  const last = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(last) as T;
}

export interface Context {
  /** The copy bandwidth measured at the start of this run, GB/s (read + write). */
  bandwidth: number;
  /** From `pnpm bench -- --quick`: fewer sizes and repetitions, for a smoke test. */
  quick: boolean;
  time: typeof time;
  epoch: typeof epoch;
  torch: typeof torch;
  /** TensorFlow.js with the given backend active (loaded once, shared by suites). */
  tfjs(backend: 'cpu' | 'wasm'): Promise<TfjsHandle>;
}
export interface TfjsHandle {
  tf: typeof import('@tensorflow/tfjs-core');
  /** How the backend runs here, e.g. 'wasm, SIMD, 1 thread'. */
  description: string;
}

/**
 * Dawn's GPU (the `webgpu` package, on Vulkan) installed as `navigator.gpu`, so that TF.js's and
 * jax-js's webgpu backends find the same GPU object tapegrad is given.
 */
export async function dawnAsNavigatorGpu(): Promise<GPU> {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create(['backend=vulkan']);
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true });
  return gpu;
}

/**
 * TF.js with its webgpu backend on the GPU `navigator.gpu` holds (the umbrella loaded, then the
 * webgpu backend on the same tfjs-core); `tfWhy` says why not when it did not start.
 */
export async function tfjsWebgpu(ctx: Context): Promise<{ tf: Awaited<ReturnType<Context['tfjs']>>['tf']; tfWhy?: string }> {
  const { tf } = await ctx.tfjs('cpu');
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") returned false');
    await tf.ready();
    return { tf };
  } catch (e) {
    return { tf, tfWhy: `TF.js webgpu did not start: ${(e as Error).message.split('\n')[0]}` };
  }
}
