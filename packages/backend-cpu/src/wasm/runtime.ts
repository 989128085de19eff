import { poisonBytes, poisonMode, ValueError, type AdamStepAttrs, type SgdStepAttrs, type TypedArray } from '@tapegrad/tensor';
import { elementwise as elementwiseModules, gemm as gemmModules, loss as lossModules } from './kernels.generated.js';
import { WEB_WORKER_SOURCE, WORKER_SOURCE } from './worker.js';

// The WebAssembly side of the CPU backend: which kernel variant runs (relaxed SIMD, plain SIMD128
// or none), one WebAssembly memory that operands are staged into, and a pool of worker threads
// that share that memory (Node's worker_threads, or Web Workers in a cross-origin isolated page). The main thread always computes its own share, and workers are woken
// through Atomics on a control block in the shared memory: a postMessage round trip (~30 µs)
// would eat the gain on MNIST-sized matmuls, a futex handshake costs about a microsecond.

/** Which CPU kernels run: relaxed-SIMD WebAssembly, plain SIMD128 WebAssembly, or TypeScript only. */
export type SimdLevel = 'relaxed' | 'simd' | 'off';
/** Options for setCpuKernelOptions(); unspecified fields keep their current values. */
export interface CpuKernelOptions {
  /** Which kernels run: 'auto' (the best this engine validates), 'relaxed', 'simd', or 'off' (TypeScript only). */
  simd?: SimdLevel | 'auto';
  /** Threads for large kernels, main thread included: 'auto' = os.availableParallelism() in Node, navigator.hardwareConcurrency in a browser (at most 16). */
  threads?: number | 'auto';
  /** Kernels below this many floating-point operations stay on the calling thread (default 2^23; cross-entropy counts 36 a logit per pass). */
  parallelMinFlops?: number;
  /** How long an idle worker spins before it sleeps (default 50; waking a sleeping one costs 30–80 µs). */
  spinMicros?: number;
  /**
   * Use a shared WebAssembly memory (needed for worker threads). Default: whether the page or
   * process has SharedArrayBuffer (a browser page needs cross-origin isolation); false forces the
   * single-threaded layout, as such a page would get.
   */
  sharedMemory?: boolean;
}
/** What cpuKernelInfo() reports: the kernels and threads in use and what the engine supports. */
export interface CpuKernelInfo {
  simd: SimdLevel;
  /** Threads a large kernel uses now (workers still starting are not counted). */
  threads: number;
  relaxedSimdAvailable: boolean;
  simdAvailable: boolean;
  /** Whether this environment has SharedArrayBuffer, which worker threads need (a browser page: when cross-origin isolated). */
  sharedMemoryAvailable: boolean;
  sharedMemory: boolean;
  /** Kernels of at least this many flops (products, cross-entropy's row passes) are split across the worker threads. */
  parallelMinFlops: number;
  /** Blocks of work worker threads have computed since they started (a diagnostic). */
  workerBlocks: number;
  /** Kernel calls of conv2d, max-pooling and cross-entropy that were handed their WebAssembly kernels (a diagnostic). */
  wasmKernelCalls: number;
}

const MAX_THREADS = 16;
const CTRL_BYTES = 65536;
// Control block, in Int32 words: [0] job sequence (workers sleep on it), [1] stop, [2] claim
// word (parts << 8 | next unclaimed block), [3] blocks finished, [4] a worker failed,
// [5] blocks computed by workers, [6] the job's module (its index in THREADED), [16+w] worker w
// ready, [48] a scalar operand of the elementwise kernels (float32), [64...] the job (see
// gemm_part in wasm/gemm.wat, ce_part in wasm/loss.wat).
const SEQ = 0, STOP = 1, CLAIM = 2, FIN = 3, ERR = 4, WORKED = 5, KIND = 6, READY = 16, JOB = 64;

/**
 * The modules whose jobs worker threads take, each with its entry that computes one block of a
 * job: (job address, block, thread); and what a job is, from its fields, for the errors. Workers
 * instantiate them all when they start.
 */
const THREADED = [
  { variants: gemmModules, entry: 'gemm_part', what: (j: readonly number[]) => ['matmul', `a ${j[8]}x${j[10]}x${j[9]} product`] },
  { variants: lossModules, entry: 'ce_part', what: (j: readonly number[]) => ['crossEntropy', `a pass over ${j[2]}x${j[3]} logits`] },
] as const;
type PartFn = (job: number, part: number, thread: number) => void;

type GemmFn = (a: number, ars: number, acs: number, b: number, brs: number, bcs: number, c: number, ldc: number, m: number, n: number, k: number, kc: number, scratch: number) => void;
interface Exports {
  gemm: GemmFn;
  gemm_part(job: number, part: number, thread: number): void;
  scratch_bytes(m: number, n: number, kc: number): number;
  dot_sum(slots: number, parts: number, m: number, n: number, c: number, ldc: number): void;
}
interface ElementwiseExports {
  zero(ptr: number, bytes: number): void;
  copy(dst: number, src: number, bytes: number): void;
  binary(op: number, a: number, b: number, o: number, n: number, bn: number): void;
  relu(a: number, o: number, n: number): void;
  relu_backward(g: number, y: number, o: number, n: number): void;
  sum_rows(a: number, o: number, rows: number, cols: number): void;
  gt_scalar(a: number, sp: number, o: number, n: number): void;
  where_scalar(c: number, x: number, sp: number, o: number, n: number, flip: number): void;
  sgd(p: number, g: number, b: number, n: number, lr: number, momentum: number, keep: number, wd: number, flags: number): void;
  adam(p: number, g: number, m: number, v: number, x: number, n: number, beta1: number, keep1: number, beta2: number, keep2: number,
    stepSize: number, c2: number, eps: number, wd: number, decay: number, flags: number): void;
}

// The WebAssembly API, typed here: the project's lib settings (ES2022 + Node types) do not
// declare it, and a global declaration would clash with lib.dom in browser builds.
interface WasmMemory { readonly buffer: ArrayBuffer | SharedArrayBuffer; grow(pages: number): number }
interface WasmModule { readonly __module: unique symbol }
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

const env = (name: string): string | undefined => (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
const decode = (b64: string): Uint8Array => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

function detectShared(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    return new WA!.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}
const support = {
  relaxed: WA?.validate(decode(gemmModules.relaxed)) ?? false,
  simd: WA?.validate(decode(gemmModules.simd)) ?? false,
  shared: detectShared(),
};

function parseThreads(v: number | 'auto' | string | undefined): number {
  if (v === undefined || v === 'auto' || v === '') {
    const os = (globalThis as { process?: { getBuiltinModule?: (id: string) => { availableParallelism?: () => number } | undefined } }).process?.getBuiltinModule?.('node:os');
    const browser = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
    return Math.min(MAX_THREADS, os?.availableParallelism?.() ?? browser ?? 1);
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ValueError(`setCpuKernelOptions: threads must be a positive integer or 'auto'; got ${String(v)}`);
  return Math.min(MAX_THREADS, n);
}
function parseSimd(v: string | undefined): SimdLevel {
  if (v === undefined || v === 'auto' || v === '') return support.relaxed ? 'relaxed' : support.simd ? 'simd' : 'off';
  // re-validated on request: a V8 flag may have been set since this module loaded
  if (v === 'relaxed' && !(support.relaxed ||= WA?.validate(decode(gemmModules.relaxed)) ?? false)) {
    throw new ValueError("setCpuKernelOptions: simd 'relaxed' is not supported by this WebAssembly engine (Node 20 needs --experimental-wasm-relaxed-simd); use 'auto' or 'simd'");
  }
  if (v === 'simd' && !support.simd) throw new ValueError("setCpuKernelOptions: this WebAssembly engine has no SIMD128; use 'auto' or 'off'");
  if (v !== 'relaxed' && v !== 'simd' && v !== 'off') throw new ValueError(`setCpuKernelOptions: simd must be 'auto', 'relaxed', 'simd' or 'off'; got '${v}'`);
  return v;
}

const options = {
  simd: parseSimd(env('TAPEGRAD_CPU_SIMD')),
  threads: parseThreads(env('TAPEGRAD_CPU_THREADS')),
  // Measured on a shared 2-core machine (docs/performance.md): products of 2–8 MFLOP took
  // 0.97–1.58x their one-thread time on two threads, 1.3x in most runs (waking the worker, the
  // other core's load); the MLP step ran 8–17% faster with its 12.8-MFLOP products on two.
  parallelMinFlops: 1 << 23,
  // A training step's big products come 0.2–0.5 ms apart, so a worker that sleeps between them
  // is woken for each (30–80 µs), but a spinning worker holds a core that V8's compiler and GC
  // threads want, on a 2-core machine above all while a program warms up. Whole MNIST MLP
  // epochs, alternating fresh processes (docs/performance.md): a first epoch took 0.94–0.96 s
  // with a 50 µs spin against 0.99–1.08 s with 300 µs in five of five rounds, 1.09–1.54 s with
  // 1 ms; second epochs and the CNN's epoch were equal or slightly faster with 50 µs.
  spinMicros: 50,
  sharedMemory: support.shared,
};

interface WorkerLike { terminate(): unknown }
interface Engine {
  exports: Exports;
  elementwise: ElementwiseExports;
  memory: WasmMemory;
  module: WasmModule;
  shared: boolean;
  f32: Float32Array;
  ctrl: Int32Array;
  workers: WorkerLike[];
  broken: boolean;
  seq: number;
  /** Every buffer object the memory has had (a grow yields a new one): how a handle is known to live here. */
  buffers: Set<ArrayBufferLike>;
  /** The allocator: free blocks by size in bytes, and the first byte never handed out. */
  free: Map<number, number[]>;
  freeBytes: number;
  top: number;
}
let engine: Engine | undefined;

function createEngine(level: 'relaxed' | 'simd'): Engine {
  const shared = options.sharedMemory;
  const module = new WA!.Module(decode(shared ? gemmModules[`${level}Shared`] : gemmModules[level]));
  const memory = new WA!.Memory({ initial: 16, maximum: 65536, ...(shared ? { shared: true } : {}) });
  const instance = new WA!.Instance(module, { env: { memory } });
  const elementwise = new WA!.Instance(new WA!.Module(decode(shared ? elementwiseModules.simdShared : elementwiseModules.simd)), { env: { memory } });
  return {
    exports: instance.exports as unknown as Exports,
    elementwise: elementwise.exports as unknown as ElementwiseExports,
    memory,
    module,
    shared,
    f32: new Float32Array(memory.buffer),
    ctrl: new Int32Array(memory.buffer, 0, CTRL_BYTES / 4),
    workers: [],
    broken: false,
    seq: 0,
    buffers: new Set([memory.buffer]),
    free: new Map(),
    freeBytes: 0,
    top: CTRL_BYTES,
  };
}

function getEngine(): Engine | undefined {
  if (options.simd === 'off') return undefined;
  return (engine ??= createEngine(options.simd));
}

function shutdown(): void {
  if (!engine) return;
  if (!engine.shared) return void (engine = undefined);
  Atomics.store(engine.ctrl, STOP, 1);
  Atomics.add(engine.ctrl, SEQ, 1);
  Atomics.notify(engine.ctrl, SEQ);
  for (const w of engine.workers) void w.terminate();
  engine = undefined;
}

/** Choose kernels and threads; unspecified fields keep their current values. */
export function setCpuKernelOptions(opts: CpuKernelOptions): void {
  const simd = opts.simd === undefined ? options.simd : parseSimd(opts.simd);
  const threads = opts.threads === undefined ? options.threads : parseThreads(opts.threads);
  if (opts.parallelMinFlops !== undefined) {
    if (!(opts.parallelMinFlops >= 0)) throw new ValueError(`setCpuKernelOptions: parallelMinFlops must be >= 0; got ${opts.parallelMinFlops}`);
    options.parallelMinFlops = opts.parallelMinFlops;
  }
  if (opts.spinMicros !== undefined) {
    if (!(opts.spinMicros >= 0)) throw new ValueError(`setCpuKernelOptions: spinMicros must be >= 0; got ${opts.spinMicros}`);
    options.spinMicros = opts.spinMicros;
  }
  if (opts.sharedMemory === true && !support.shared) {
    throw new ValueError('setCpuKernelOptions: sharedMemory needs SharedArrayBuffer, which this environment lacks (a browser page needs cross-origin isolation)');
  }
  const sharedMemory = opts.sharedMemory ?? options.sharedMemory;
  if (simd !== options.simd || threads !== options.threads || sharedMemory !== options.sharedMemory || opts.spinMicros !== undefined) shutdown();
  options.sharedMemory = sharedMemory;
  options.simd = simd;
  options.threads = threads;
}

/** The CPU kernels in use now (SIMD level, threads) and what this engine supports. */
export function cpuKernelInfo(): CpuKernelInfo {
  const e = options.simd === 'off' ? undefined : engine;
  return {
    simd: options.simd,
    threads: 1 + (e ? readyWorkers(e) : 0),
    relaxedSimdAvailable: support.relaxed,
    simdAvailable: support.simd,
    sharedMemoryAvailable: support.shared,
    sharedMemory: e ? e.shared : options.sharedMemory,
    parallelMinFlops: options.parallelMinFlops,
    workerBlocks: e?.shared ? Atomics.load(e.ctrl, WORKED) : 0,
    wasmKernelCalls,
  };
}

/** Stop the worker threads (they are unref'd, so a program need not call this to exit). */
export function terminateCpuWorkers(): void {
  shutdown();
}

/**
 * Start the worker threads now and resolve with the thread count once they are ready. Kernels
 * never wait for workers to start: until then the calling thread does all the work.
 */
export async function cpuWorkersReady(timeoutMs = 10_000): Promise<number> {
  const e = getEngine();
  if (!e) return 1;
  startWorkers(e);
  const t0 = Date.now();
  while (readyWorkers(e) < e.workers.length && !e.broken && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 5));
  return 1 + readyWorkers(e);
}

function readyWorkers(e: Engine): number {
  let n = 0;
  while (n < e.workers.length && Atomics.load(e.ctrl, READY + 1 + n) === 1) n++;
  return e.broken ? 0 : n;
}

/** What a worker is given: the THREADED modules and their entries, the shared memory, its index and how long it spins. */
interface WorkerData { modules: WasmModule[]; entries: string[]; memory: WasmMemory; index: number; spinMs: number; job: number }
type Spawn = (data: WorkerData, onError: () => void) => WorkerLike;

function startWorkers(e: Engine): void {
  if (e.workers.length || e.broken || !e.shared || options.threads < 2) return;
  const spawn = nodeSpawner() ?? webSpawner();
  if (!spawn) return; // no worker API here: one thread
  const onError = () => (e.broken = true);
  try {
    const modules = THREADED.map((t) => (t.variants === gemmModules ? e.module : kernelModule(e, t.variants).module));
    const entries = THREADED.map((t) => t.entry);
    for (let w = 1; w < options.threads; w++) {
      e.workers.push(spawn({ modules, entries, memory: e.memory, index: w, spinMs: options.spinMicros / 1000, job: JOB * 4 }, onError));
    }
  } catch {
    onError(); // e.g. a Content-Security-Policy without worker-src blob: (the kernels never wait for workers)
  }
}

type NodeWorker = WorkerLike & { unref(): void; on(ev: string, fn: () => void): unknown };
/** Node: worker_threads, running WORKER_SOURCE with `eval`. */
function nodeSpawner(): Spawn | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const wt = proc?.getBuiltinModule?.('node:worker_threads') as { Worker: new (src: string, o: object) => NodeWorker } | undefined;
  if (!wt) return undefined;
  return (workerData, onError) => {
    const worker = new wt.Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [], // the parent's loaders and flags (--input-type, --import) are not for this script
      workerData,
    });
    worker.on('error', onError);
    worker.unref(); // an idle pool must never keep the process alive
    return worker;
  };
}

type WebWorker = WorkerLike & { postMessage(data: unknown): void; addEventListener(ev: string, fn: () => void): void };
let webWorkerUrl: string | undefined;
/**
 * Browsers: Web Workers from a Blob URL of WEB_WORKER_SOURCE (no file to serve, and a bundler has
 * nothing to resolve), handed the module and the shared memory in their first message: a page
 * can post a shared WebAssembly memory only when cross-origin isolated, which is also what gave
 * it SharedArrayBuffer and so a shared memory here.
 */
function webSpawner(): Spawn | undefined {
  // typed here, as WebAssembly is above: the project's lib settings do not declare the DOM
  const g = globalThis as { Worker?: new (url: string) => WebWorker; Blob?: new (parts: string[], o: { type: string }) => object; URL?: { createObjectURL?(b: object): string } };
  if (typeof g.Worker !== 'function' || typeof g.Blob !== 'function' || typeof g.URL?.createObjectURL !== 'function') return undefined;
  const Worker = g.Worker;
  webWorkerUrl ??= g.URL.createObjectURL(new g.Blob([WEB_WORKER_SOURCE], { type: 'text/javascript' }));
  return (data, onError) => {
    const worker = new Worker(webWorkerUrl!);
    worker.addEventListener('error', onError);
    worker.postMessage(data);
    return worker;
  };
}

/** Grow the memory to hold `bytes`, refreshing the views a grow invalidates. */
function reserve(e: Engine, bytes: number): void {
  const have = e.memory.buffer.byteLength;
  // grow by at least a quarter, so a growing working set does not grow the memory per op
  if (bytes > have) e.memory.grow(Math.ceil(Math.max(bytes - have, Math.min(have / 4, MAX_BYTES - have)) / 65536));
  if (e.f32.buffer !== e.memory.buffer) {
    e.buffers.add(e.memory.buffer);
    // a shared memory's old views stay valid but short; an unshared one's are detached
    e.f32 = new Float32Array(e.memory.buffer);
    e.ctrl = new Int32Array(e.memory.buffer, 0, CTRL_BYTES / 4);
  }
}

// The memory's allocator. Tensor storage lives here when the memory is shared (a shared memory
// grows in place, so views of it stay valid; an unshared one's grow detaches them), and so do the
// staging and packing buffers of each call: the kernels then read operands and write results where
// they are, with no copy in or out. Blocks are 64-byte aligned and kept by size when freed (a
// training step frees and allocates the same sizes every step); memory is never returned.
const MAX_BYTES = 2 ** 31 - 65536; // pointers stay positive int32
// Tensor storage stops at 512 MB: past it, storage goes to the JavaScript heap, whose growth makes
// the garbage collector run (the memory's does not), and so run the finalizers that free the
// storage of tensors a program dropped without dispose().
let storageLimit = 2 ** 29;
/** @internal for tests: where tensor storage in the memory stops (bytes from address 0). */
export function setWasmStorageLimit(bytes: number): void {
  storageLimit = bytes;
}

function allocBlock(e: Engine, bytes: number, limit = MAX_BYTES): number {
  if (bytes > limit) return -1;
  const size = align(bytes);
  const ptr = e.free.get(size)?.pop();
  if (ptr !== undefined) {
    e.freeBytes -= size;
    return ptr;
  }
  if (e.top + size <= limit) {
    reserve(e, e.top + size);
    e.top += size;
    return e.top - size;
  }
  // At the limit: cut the smallest larger free block (blocks of sizes no longer asked for would
  // otherwise sit unused while the memory stays full); the rest of it stays free.
  let best = -1;
  for (const [s, list] of e.free) if (s > size && list.length && (best < 0 || s < best)) best = s;
  if (best < 0) return -1;
  const cut = e.free.get(best)!.pop()!;
  e.freeBytes -= best;
  freeBlock(e, cut + size, best - size);
  return cut;
}
function freeBlock(e: Engine, ptr: number, bytes: number): void {
  const size = align(bytes);
  let list = e.free.get(size);
  if (!list) e.free.set(size, (list = []));
  list.push(ptr);
  e.freeBytes += size;
}

/**
 * float32 or bool storage inside the kernels' shared memory, zero-filled unless `zero` is false
 * (then, in poison mode, filled with the poison pattern), or undefined where there is none
 * (WebAssembly off, no shared memory, or the memory is full).
 */
export function wasmAlloc(dtype: 'float32' | 'bool', length: number, zero = true): Float32Array | Uint8Array | undefined {
  const e = getEngine();
  if (!e?.shared) return undefined;
  const bytes = dtype === 'float32' ? length * 4 : length;
  let ptr: number;
  const top = e.top; // memory above it has never been written: still zero
  try {
    ptr = allocBlock(e, bytes, storageLimit);
  } catch {
    return undefined; // the engine could not grow the memory: the JavaScript heap takes it
  }
  if (ptr < 0) return undefined;
  if (zero) {
    if (ptr < top) e.elementwise.zero(ptr, bytes); // a reused block (a typed array's fill is slow on shared memory)
  } else if (poisonMode()) poisonBytes(e.memory.buffer, ptr, bytes);
  return dtype === 'float32' ? new Float32Array(e.memory.buffer, ptr, length) : new Uint8Array(e.memory.buffer, ptr, length);
}

/**
 * Take back storage that wasmAlloc returned; false for any other array. Storage of an engine
 * since shut down (setCpuKernelOptions) is dropped: its memory goes when the last view does.
 */
export function wasmFree(a: TypedArray): boolean {
  // a page without cross-origin isolation has no SharedArrayBuffer at all, and no such storage
  if (!support.shared || !(a.buffer instanceof SharedArrayBuffer)) return false;
  if (engine?.buffers.has(a.buffer)) freeBlock(engine, a.byteOffset, a.byteLength);
  return true;
}

/** Bytes of freed storage the memory holds for reuse. */
export function wasmPooledBytes(): number {
  return engine?.freeBytes ?? 0;
}

// A float32 slot in the control block for a scalar operand, which may then be any 0-d tensor
// wherever it lives (another dtype, another engine's memory): word 48, unused by the job layout.
const SCALAR = 48;
/** The operand addresses the elementwise WebAssembly kernels need, or undefined when some array is not in the memory. */
function addresses(e: Engine | undefined, views: readonly { handle: unknown; offset: number }[]): number[] | undefined {
  if (!e?.shared) return undefined;
  const out: number[] = [];
  for (const v of views) {
    const p = wasmAddress(v.handle as TypedArray, v.offset);
    if (p < 0) return undefined;
    out.push(p);
  }
  return out;
}

/**
 * o = a op b on float32 storage in the memory (op 0 add, 1 sub, 2 mul, 3 div), for n elements of
 * a and o and a block of bn elements of b repeated (bn = n, a row length, or 1: a scalar, which
 * may live anywhere). Returns false, doing nothing, when some operand is not in the memory.
 */
export function wasmBinary(op: number, a: StridedView, b: StridedView, o: StridedView, n: number, bn: number): boolean {
  const e = engine;
  const scalar = bn === 1 && n > 1;
  const ptrs = addresses(e, scalar ? [a, o] : [a, b, o]);
  if (!ptrs) return false;
  let pb: number;
  if (scalar) {
    e!.f32[SCALAR] = (b.handle as Float32Array)[b.offset]!;
    pb = SCALAR * 4;
  } else pb = ptrs[1]!;
  e!.elementwise.binary(op, ptrs[0]!, pb, ptrs[ptrs.length - 1]!, n, bn);
  return true;
}

/**
 * Gather rows of n elements: dst[dstOff + i·n ...] = src[base + rows[i]·n ...], one dtype, both
 * in the memory (a typed array's set between views of a shared buffer goes element by element);
 * false when either is not there.
 */
export function wasmCopyRows(dst: TypedArray, dstOff: number, src: TypedArray, base: number, rows: ArrayLike<number>, n: number): boolean {
  const d = wasmAddress(dst, dstOff), s = wasmAddress(src, base);
  if (d < 0 || s < 0 || dst.BYTES_PER_ELEMENT !== src.BYTES_PER_ELEMENT) return false;
  const bytes = n * dst.BYTES_PER_ELEMENT;
  const copy = engine!.elementwise.copy;
  for (let i = 0; i < rows.length; i++) copy(d + i * bytes, s + rows[i]! * bytes, bytes);
  return true;
}
/** o = relu(a) over n contiguous float32 elements in the memory; false when either is not there. */
export function wasmRelu(a: StridedView, o: StridedView, n: number): boolean {
  const ptrs = addresses(engine, [a, o]);
  if (!ptrs) return false;
  engine!.elementwise.relu(ptrs[0]!, ptrs[1]!, n);
  return true;
}
/** o = g where y > 0 else 0 over n contiguous float32 elements in the memory; false when one is not there. */
export function wasmReluBackward(g: StridedView, y: StridedView, o: StridedView, n: number): boolean {
  const ptrs = addresses(engine, [g, y, o]);
  if (!ptrs) return false;
  engine!.elementwise.relu_backward(ptrs[0]!, ptrs[1]!, ptrs[2]!, n);
  return true;
}
/** o[j] = Σ_r a[r·cols + j] for contiguous float32 a (rows × cols) and o in the memory; false when either is not there. */
export function wasmSumRows(a: StridedView, o: StridedView, rows: number, cols: number): boolean {
  const ptrs = addresses(engine, [a, o]);
  if (!ptrs) return false;
  engine!.elementwise.sum_rows(ptrs[0]!, ptrs[1]!, rows, cols);
  return true;
}
/** o = a > s (bool) over n contiguous float32 elements of a, s the first element of `s`; false when a or o is not in the memory. */
export function wasmGtScalar(a: StridedView, s: StridedView, o: StridedView, n: number): boolean {
  const ptrs = addresses(engine, [a, o]);
  if (!ptrs) return false;
  engine!.f32[SCALAR] = (s.handle as Float32Array)[s.offset]!;
  engine!.elementwise.gt_scalar(ptrs[0]!, SCALAR * 4, ptrs[1]!, n);
  return true;
}

/**
 * o = c ? x : s (or, `flip`ped, c ? s : x) over n contiguous elements (c bool, x and o float32, s a
 * scalar); false when c, x or o is not in the memory.
 */
export function wasmWhereScalar(c: StridedView, x: StridedView, s: StridedView, o: StridedView, n: number, flip = false): boolean {
  const ptrs = addresses(engine, [c, x, o]);
  if (!ptrs) return false;
  engine!.f32[SCALAR] = (s.handle as TypedArray)[s.offset]!;
  engine!.elementwise.where_scalar(ptrs[0]!, ptrs[1]!, SCALAR * 4, ptrs[2]!, n, +flip);
  return true;
}

/**
 * One SGD step in place over n contiguous float32 elements of param p, gradient g and (when
 * given) momentum buffer b, with the same results as the sgdStep kernel's JavaScript loop;
 * false, doing nothing, when some array is not in the memory.
 */
export function wasmSgd(p: StridedView, g: StridedView, b: StridedView | undefined, n: number, h: SgdStepAttrs): boolean {
  const ptrs = addresses(engine, b ? [p, g, b] : [p, g]);
  if (!ptrs) return false;
  const flags = (h.maximize ? 1 : 0) | (b ? 2 : 0) | (h.init ? 4 : 0) | (h.nesterov ? 8 : 0);
  engine!.elementwise.sgd(ptrs[0]!, ptrs[1]!, ptrs[2] ?? 0, n, h.lr, h.momentum, 1 - h.dampening, h.weightDecay, flags);
  return true;
}

/**
 * One Adam (or AdamW) step in place over n contiguous float32 elements of param p, gradient g,
 * moments m and v and (amsgrad) their running maximum x, with the same results as the adamStep
 * kernel's JavaScript loop; false, doing nothing, when some array is not in the memory.
 */
export function wasmAdam(p: StridedView, g: StridedView, m: StridedView, v: StridedView, x: StridedView | undefined, n: number, h: AdamStepAttrs): boolean {
  const ptrs = addresses(engine, x ? [p, g, m, v, x] : [p, g, m, v]);
  if (!ptrs) return false;
  const flags = (h.maximize ? 1 : 0) | (h.decoupled ? 2 : 0) | (x ? 4 : 0);
  // the same expressions as the JavaScript kernel, so each constant rounds the same way
  const stepSize = h.lr / (1 - h.beta1 ** h.step);
  const c2 = Math.sqrt(1 - h.beta2 ** h.step);
  const decay = h.decoupled ? 1 - h.lr * h.weightDecay : 1;
  const [pp, pg, pm, pv, px] = ptrs as [number, number, number, number, number | undefined];
  engine!.elementwise.adam(pp, pg, pm, pv, px ?? 0, n, h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, stepSize, c2, h.eps, h.weightDecay, decay, flags);
  return true;
}

/** What the elementwise entry points need of a tensor view: its array and first element. */
export interface StridedView {
  handle: unknown;
  offset: number;
}

/** A strided float32 matrix: element (i, j) is data[offset + i*rs + j*cs]. */
export interface StridedF32 {
  data: Float32Array;
  offset: number;
  rs: number;
  cs: number;
}

/** Copy a rows×cols operand into the memory at byte `ptr`; returns its strides there. */
function stageOperand(e: Engine, v: StridedF32, rows: number, cols: number, ptr: number): { rs: number; cs: number } {
  const span = (rows - 1) * v.rs + (cols - 1) * v.cs + 1;
  if (span <= 2 * rows * cols + 64) {
    // a contiguous span (any transpose of a contiguous matrix): one fast copy, strides kept
    e.f32.set(v.data.subarray(v.offset, v.offset + span), ptr >> 2);
    return { rs: v.rs, cs: v.cs };
  }
  const f = e.f32;
  let o = ptr >> 2;
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) f[o++] = v.data[v.offset + i * v.rs + j * v.cs]!;
  return { rs: cols, cs: 1 };
}
const spanOf = (v: StridedF32, rows: number, cols: number) => Math.min((rows - 1) * v.rs + (cols - 1) * v.cs + 1, 2 * rows * cols + 64);

export function wasmGemmAvailable(): boolean {
  return options.simd !== 'off';
}

const KC = 512;
// Dot-product jobs (see gemm.wat): for C of at most maxMN entries and k of at least minK, cut
// into chunks of at least kd elements of k (at most 255 chunks: the claim word's limit).
const dotTuning = { maxMN: 4096, minK: 1024, kd: 1024 };
/** @internal for tests and benchmarks: when the dot-product kernel takes a product (maxMN 0: never); returns the old tuning. */
export function setDotTuning(t: Partial<typeof dotTuning>): typeof dotTuning {
  const old = { ...dotTuning };
  Object.assign(dotTuning, t);
  return old;
}
/** @internal for tests: products the dot-product kernel has computed. */
export let dotProducts = 0;
const align = (n: number) => (n + 63) & ~63;

/**
 * C = A·B for float32 strided operands, written (not accumulated) to c[cOff ...] row-major.
 * Operands that live in the memory (wasmAlloc) are read in place and C is written in place when
 * it lives there; others are staged, once per batch when the same operand repeats.
 * Returns false when no WebAssembly kernel is enabled (the caller runs the TypeScript path).
 */
export function wasmGemm(batch: readonly { a: StridedF32; b: StridedF32; cOff: number }[], c: Float32Array, m: number, n: number, k: number): boolean {
  const e = getEngine();
  if (!e) return false;
  if (m === 0 || n === 0) return true;
  if (k === 0) {
    for (const { cOff } of batch) c.fill(0, cOff, cOff + m * n);
    return true;
  }
  const flops = 2 * m * n * k;
  const threads = threadsFor(e, flops);
  const kc = Math.min(k, KC);
  const scratch = align(e.exports.scratch_bytes(m, n, kc));
  const cHere = wasmAddress(c, 0) >= 0;
  // scratch, and staging blocks only for what does not live in the memory
  const blocks: number[] = [];
  let aOut = false, bOut = false;
  for (const { a, b } of batch) {
    aOut ||= wasmAddress(a.data, a.offset) < 0;
    bOut ||= wasmAddress(b.data, b.offset) < 0;
  }
  try {
    // a small C over a long k, with A's rows and B's columns contiguous in k: dot products
    const dot = m * n <= dotTuning.maxMN && k >= dotTuning.minK && batch[0]!.a.cs === 1 && batch[0]!.b.rs === 1;
    const kd = dot ? Math.max(dotTuning.kd, (Math.ceil(k / 255) + 3) & ~3) : 0;
    let aStage = -1, bStage = -1, cStage = -1, sPtr: number, slots = 0;
    try {
      sPtr = block(e, blocks, threads * scratch);
      if (dot) slots = block(e, blocks, 4 * m * n * Math.ceil(k / kd));
      if (aOut) aStage = block(e, blocks, 4 * spanOf(batch[0]!.a, m, k));
      if (bOut) bStage = block(e, blocks, 4 * spanOf(batch[0]!.b, k, n));
      if (!cHere) cStage = block(e, blocks, 4 * m * n);
    } catch {
      return false; // beyond what one WebAssembly memory can hold (2 GB here): the TypeScript path takes it
    }
    let lastA: StridedF32 | undefined, lastB: StridedF32 | undefined;
    let as = { ptr: 0, rs: 0, cs: 0 }, bs = { ptr: 0, rs: 0, cs: 0 };
    for (const { a, b, cOff } of batch) {
      if (!lastA || a.data !== lastA.data || a.offset !== lastA.offset) as = place(e, (lastA = a), m, k, aStage);
      if (!lastB || b.data !== lastB.data || b.offset !== lastB.offset) bs = place(e, (lastB = b), k, n, bStage);
      const cPtr = cHere ? wasmAddress(c, cOff) : cStage;
      if (dot && as.cs === 1 && bs.rs === 1) {
        const parts = Math.ceil(k / kd);
        runJob(e, threads, 0, [as.ptr, as.rs, 1, bs.ptr, 1, bs.cs, cPtr, n, m, n, k, kd, slots, 0, 0, parts, 1], parts);
        e.exports.dot_sum(slots, parts, m, n, cPtr, n);
        dotProducts++;
      } else run(e, threads, as.ptr, as.rs, as.cs, bs.ptr, bs.rs, bs.cs, cPtr, m, n, k, kc, sPtr, scratch);
      if (!cHere) c.set(e.f32.subarray(cStage >> 2, (cStage >> 2) + m * n), cOff);
    }
    return true;
  } finally {
    for (let i = 0; i < blocks.length; i += 2) freeBlock(e, blocks[i]!, blocks[i + 1]!);
  }
}

/** A block of `bytes` in the memory, noted in `blocks` (address, size) for the caller to free. */
function block(e: Engine, blocks: number[], bytes: number): number {
  const ptr = allocBlock(e, bytes);
  if (ptr < 0) throw new RangeError('wasm memory full');
  blocks.push(ptr, bytes);
  if (poisonMode()) poisonBytes(e.memory.buffer, ptr, bytes); // what the kernel reads before writing it shows
  return ptr;
}

/** Where the kernel reads an operand: in place when it lives in the memory, else staged at `stage`. */
function place(e: Engine, v: StridedF32, rows: number, cols: number, stage: number): { ptr: number; rs: number; cs: number } {
  const ptr = wasmAddress(v.data, v.offset);
  return ptr >= 0 ? { ptr, rs: v.rs, cs: v.cs } : { ptr: stage, ...stageOperand(e, v, rows, cols, stage) };
}

/** Claim unclaimed blocks of the current job and compute them with `part`, as thread `me`, until none are left. */
function claimAndRun(e: Engine, part: PartFn, me: number): void {
  const ctrl = e.ctrl;
  for (;;) {
    const cur = Atomics.load(ctrl, CLAIM);
    const idx = cur & 255;
    if (idx >= ((cur >> 8) & 255)) return;
    if (Atomics.compareExchange(ctrl, CLAIM, cur, cur + 1) !== cur) continue;
    try {
      part(JOB * 4, idx, me);
    } finally {
      Atomics.add(ctrl, FIN, 1);
    }
  }
}

/**
 * Cut C into blocks (one per thread, more for big products) and let every thread, the caller included, claim blocks until
 * none are left. The caller never waits for a block nobody has started, so a worker that is
 * asleep, still starting, or descheduled on a busy machine costs nothing but its share.
 */
function run(e: Engine, threads: number, a: number, ars: number, acs: number, b: number, brs: number, bcs: number, c: number, m: number, n: number, k: number, kc: number, s: number, scratch: number): void {
  const rowPanels = Math.ceil(m / 4), colPanels = Math.ceil(n / 8);
  // each block repacks one operand
  const want = blocksFor(threads, 2 * m * n * k);
  // by rows, every block packs all of B (k×n); by columns, all of A (m×k): duplicate the smaller
  let byRows = n <= m;
  if ((byRows ? rowPanels : colPanels) < want && (byRows ? colPanels : rowPanels) > (byRows ? rowPanels : colPanels)) byRows = !byRows;
  const parts = Math.min(want, byRows ? rowPanels : colPanels);
  runJob(e, threads, 0, [a, ars, acs, b, brs, bcs, c, n, m, n, k, kc, s, scratch, byRows ? 1 : 0, parts, 0], parts);
}

/**
 * Post a job of THREADED[kind] (the fields its entry reads) and compute its `parts` blocks: on
 * this thread when `threads` is 1, else with the workers, each block claimed by whoever comes
 * first.
 */
function runJob(e: Engine, threads: number, kind: number, job: readonly number[], parts: number): void {
  const ctrl = e.ctrl;
  const part = kind === 0 ? e.exports.gemm_part : kernelModule(e, THREADED[kind]!.variants).exports[THREADED[kind]!.entry] as PartFn;
  for (let i = 0; i < job.length; i++) ctrl[JOB + i] = job[i]!;
  if (threads === 1 || parts === 1) {
    for (let p = 0; p < parts; p++) part(JOB * 4, p, 0);
    return;
  }
  Atomics.store(ctrl, KIND, kind);
  Atomics.store(ctrl, FIN, 0);
  Atomics.store(ctrl, CLAIM, parts << 8);
  Atomics.store(ctrl, SEQ, ++e.seq);
  Atomics.notify(ctrl, SEQ);
  const t0 = performance.now();
  claimAndRun(e, part, 0);
  const mineMs = performance.now() - t0;
  let spins = 0;
  while (Atomics.load(ctrl, FIN) !== parts) {
    // a worker that died inside a block would leave this loop spinning forever: give up after a long while
    if ((++spins & 0xffff) === 0 && performance.now() - t0 > Math.max(10_000, 100 * mineMs)) {
      e.broken = true;
      const [op, operands] = THREADED[kind]!.what(job);
      throw new Error(`${op}: a CPU worker thread did not finish its block of ${operands}; worker threads are now disabled`);
    }
  }
  if (Atomics.load(ctrl, ERR)) {
    e.broken = true;
    const [op, operands] = THREADED[kind]!.what(job);
    throw new Error(`${op}: a CPU worker thread failed on its block of ${operands}; worker threads are now disabled`);
  }
}

/** Blocks to cut a job into: one per thread, four per thread for big jobs (so that on a busy machine a descheduled worker holds back only a small block). */
const blocksFor = (threads: number, flops: number): number => (threads > 1 && flops >= 1 << 25 ? 4 * threads : threads);

/** Threads for a job of `flops` floating-point operations (an estimate): the workers too when it reaches parallelMinFlops. */
function threadsFor(e: Engine, flops: number): number {
  if (flops < options.parallelMinFlops) return 1;
  startWorkers(e);
  return e.broken ? 1 : 1 + e.workers.length;
}

/**
 * A job of a THREADED module other than gemm (`variants`, whose module wasmKernelModule gave the
 * caller), its fields `job` followed by its block count, over `units` independent units (rows):
 * cut into blocks of whole units and spread over the worker threads when its `flops` (an
 * estimate) reach parallelMinFlops. Each block computes its units as a one-block job would, so
 * the results do not depend on the thread count.
 */
export function wasmRunParts(variants: (typeof THREADED)[number]['variants'], job: readonly number[], units: number, flops: number): void {
  const e = engine!;
  const kind = THREADED.findIndex((t) => t.variants === variants);
  const threads = threadsFor(e, flops);
  const parts = Math.max(1, Math.min(units, 255, blocksFor(threads, flops)));
  runJob(e, threads, kind, [...job, parts], parts);
}

// Kernel modules beyond gemm and elementwise (wasm/conv.wat, wasm/pool.wat, wasm/loss.wat), compiled
// and instantiated on the engine's memory when first asked for, once per engine (workers get the
// compiled THREADED ones). They may import Math.exp as env.exp.
const extraModules = new WeakMap<Engine, Map<object, { module: WasmModule; exports: Record<string, unknown> }>>();
function kernelModule(e: Engine, variants: { relaxedShared: string; simdShared: string }): { module: WasmModule; exports: Record<string, unknown> } {
  let mods = extraModules.get(e);
  if (!mods) extraModules.set(e, (mods = new Map()));
  let x = mods.get(variants);
  if (!x) {
    const module = new WA!.Module(decode(options.simd === 'relaxed' ? variants.relaxedShared : variants.simdShared));
    mods.set(variants, (x = { module, exports: new WA!.Instance(module, { env: { memory: e.memory, exp: Math.exp } }).exports as Record<string, unknown> }));
  }
  return x;
}
/**
 * The exports of a module from kernels.generated.ts, instantiated on the shared memory that
 * tensor storage lives in; undefined where storage is not there (WebAssembly off, or no shared
 * memory), so the caller runs its TypeScript path.
 */
export function wasmKernelModule<T>(variants: { relaxedShared: string; simdShared: string }): T | undefined {
  const e = getEngine();
  return e?.shared ? (kernelModule(e, variants).exports as T) : undefined;
}
let wasmKernelCalls = 0;
/**
 * A module's exports (wasmKernelModule) for a kernel call whose arrays are all float32 storage in
 * the memory, else undefined (the caller runs its TypeScript path); counted in cpuKernelInfo().
 */
export function wasmKernelsFor<T>(variants: { relaxedShared: string; simdShared: string }, arrays: readonly TypedArray[]): T | undefined {
  if (!arrays.every((a) => a instanceof Float32Array)) return undefined;
  const k = wasmKernelModule<T>(variants);
  if (!k || !arrays.every((a) => wasmAddress(a) >= 0)) return undefined;
  wasmKernelCalls++;
  return k;
}
/** The byte address of element `offset` of `a` when it lives in the engine's memory, else -1. */
export function wasmAddress(a: TypedArray, offset = 0): number {
  const b = a.buffer;
  // most storage lives on the memory's current buffer; older buffer objects (from before a grow) are in the set
  return engine && (b === engine.f32.buffer || engine.buffers.has(b)) ? a.byteOffset + a.BYTES_PER_ELEMENT * offset : -1;
}
