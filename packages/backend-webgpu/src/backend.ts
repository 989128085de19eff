import { allocArray, DeviceError, DTypeError, POISON_WORD, poisonMode, type Backend, type DType, type ReplayProgram, type Replayer, type TensorView, type TypedArray } from '@tapegrad/tensor';
import { withHalfAccess, type Program, type WebGPUKernel } from './program.js';
import { gpuReplayer } from './replay.js';
import { webgpuFusion } from './fuse.js';
import { isFailure, Taints, type Failure, type Taint } from './taint.js';

// The numeric flags of GPUBufferUsage / GPUMapMode, so Node needs no globals installed.
const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const STORAGE = 0x80;
const COMPUTE = 0x4;

/** A tensor's storage on the GPU: a pooled buffer (its size is the size class, not the tensor's). */
export class GpuHandle {
  /** Handed out by the pool without being zeroed yet: zeroed lazily if read before written. */
  dirty = false;
  /**
   * The checking dispatches (an index lookup...) this buffer's values were computed from: a new
   * handle per allocation, so a pooled buffer handed out again starts clean.
   */
  taint: Taint | undefined;
  constructor(
    readonly buffer: GPUBuffer,
    /** The buffer's number, never reused: what cached bind groups know it by. */
    readonly id: number,
  ) {}
}

/** After this many dispatches the batch is submitted even without a read; also the number of error records per batch. */
export const BATCH = 128;
/** Bytes of one checking dispatch's record in the error buffer: found, the bad value, where, padding. */
const RECORD = 16;
const META_BYTES = 1 << 17;
/** Bind groups kept for reuse by default; a training step's dispatches need a few hundred. */
const BIND_GROUPS = 4096;

/**
 * The 'webgpu' backend. Ops are encoded into one command encoder and submitted at reads (or
 * every BATCH dispatches); storage buffers come from a pool keyed by power-of-two size class.
 *
 * Ordering: `queue.writeBuffer` runs before any command buffer submitted after it, including
 * the batch being encoded now. So a freed buffer goes back to the pool only once the batch
 * that may still use it is submitted; the per-dispatch metadata shares one arena buffer,
 * written just before its batch is submitted.
 */
export class WebGPUBackend implements Backend<GpuHandle, WebGPUKernel> {
  readonly name = 'webgpu';
  readonly fusion = webgpuFusion;
  readonly unsupportedDTypes = {
    float64: 'float64 is not supported on WebGPU (WGSL has no 64-bit floats); keep float64 tensors on the CPU or cast to float32',
    // float16 is supported where the device has shader-f16 (alloc refuses it otherwise, naming the feature)
    bfloat16: 'bfloat16 is not supported on WebGPU (WGSL has no bfloat16 type); keep bfloat16 tensors on the CPU, or use float16 (cast with .to(\'float16\')) or float32 on WebGPU',
  } as const;
  /**
   * Whether the device has the `shader-f16` feature, which float16 tensors need: their storage is
   * WGSL's f16 (computed in f32, see program.ts).
   */
  readonly shaderF16: boolean;
  readonly limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxStorageBuffersPerShaderStage: number };
  private readonly pool = new Map<number, FreeList>();
  private pendingFree: GpuHandle[] = [];
  /** The poison pattern, as long as the largest buffer poisoned so far. */
  private poisonHost = new Uint32Array(0);
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: Layout }>();
  /** Bind group layouts by (inputs, outputs, checks): pipelines of the same shape share bind groups. */
  private readonly layouts = new Map<string, Layout>();
  /**
   * Bind groups by layout, metadata window and buffers, least recently used first. The metadata
   * binding has a dynamic offset, so one bind group serves every dispatch over the same buffers.
   */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private buffersMade = 0;
  /** How many bind groups are kept for reuse; 0 creates one per dispatch (to measure what the cache saves). */
  bindGroupCapacity = BIND_GROUPS;
  /** Dispatches encoded so far, how many of them found their bind group cached, and command buffers submitted (diagnostics). */
  readonly counters = { dispatches: 0, bindGroupHits: 0, submits: 0 };
  private encoder: GPUCommandEncoder | undefined;
  /** @internal the compute pass being encoded, if any (replay.ts encodes into it too) */
  pass: GPUComputePassEncoder | undefined;
  private dispatches = 0;
  private readonly meta: GPUBuffer;
  private readonly metaHost = new Uint32Array(META_BYTES / 4);
  private metaUsed = 0;
  /** @internal */
  readonly metaAlign: number;
  /** @internal a record per checking dispatch of the batch being encoded; copied out and cleared as the batch ends */
  readonly err: GPUBuffer;
  /** @internal this batch's checking dispatches, in record order */
  unchecked: { seq: number; errors: NonNullable<Program['errors']> }[] = [];
  /** @internal */
  readonly taints = new Taints();
  /** Settles once every check submitted so far has come back (never rejects). */
  private checked: Promise<void> = Promise.resolve();
  private lostInfo: { reason: string; message: string } | undefined;
  private readonly lostPromise: Promise<never>;
  private gpuError: string | undefined;
  /** @internal objects that must live as long as the device (Dawn's GPU instance) */
  keepAlive: unknown;

  constructor(
    readonly device: GPUDevice,
    /** The adapter, in words (e.g. "mesa software llvmpipe ..."). */
    readonly adapterName: string,
  ) {
    this.shaderF16 = device.features.has('shader-f16');
    const l = device.limits;
    this.limits = { maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize, maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage };
    this.metaAlign = device.limits.minStorageBufferOffsetAlignment;
    this.meta = device.createBuffer({ size: META_BYTES, usage: STORAGE | COPY_DST });
    this.err = device.createBuffer({ size: BATCH * RECORD, usage: STORAGE | COPY_SRC | COPY_DST });
    this.lostPromise = device.lost.then((info) => {
      this.lostInfo = { reason: info.reason, message: info.message };
      throw this.lostError();
    });
    this.lostPromise.catch(() => {});
    // A failed GPU call (out of memory, or a validation error: a kernel bug) surfaces at the
    // next read as a DeviceError, rather than as a warning on stderr.
    device.addEventListener('uncapturederror', (e) => {
      const error = (e as GPUUncapturedErrorEvent).error;
      const kind = error.constructor?.name === 'GPUOutOfMemoryError' ? 'out of GPU memory' : 'a GPU command failed';
      this.gpuError ??= `${kind}: ${error.message}`;
    });
  }

  get lost(): boolean {
    return this.lostInfo !== undefined;
  }
  private lostError(): DeviceError {
    const { reason, message } = this.lostInfo!;
    return new DeviceError(`webgpu: the device was lost (${reason}: ${message}); tensors on it are gone. Call initWebGPU() again for a new device`);
  }
  /** @internal */
  check(): void {
    if (this.lostInfo) throw this.lostError();
  }

  // ---- memory ------------------------------------------------------------------------------
  alloc(dtype: DType, length: number): GpuHandle {
    this.check();
    const why = this.unsupportedDTypes[dtype as keyof typeof this.unsupportedDTypes];
    if (why) throw new DTypeError(`webgpu: ${why}`); // Storage.alloc refuses these first, naming the op
    if (dtype === 'float16' && !this.shaderF16) {
      throw new DeviceError(
        `webgpu: float16 tensors need the WebGPU feature 'shader-f16' (WGSL's f16), which this device (${this.adapterName}) does not have; ` +
          `keep float16 tensors on the CPU, or cast them to float32 before moving them`,
      );
    }
    // float16 packs two elements a word; buffers stay whole words (writeBuffer and copies move 4-byte units)
    const bytes = gpuBytes(dtype, Math.max(length, 1));
    const limit = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (bytes > limit) {
      const which = this.limits.maxStorageBufferBindingSize <= this.limits.maxBufferSize ? 'maxStorageBufferBindingSize' : 'maxBufferSize';
      throw new DeviceError(`webgpu: a ${dtype} tensor of ${length} elements needs ${bytes} bytes, more than this device's ${which} of ${limit} bytes`);
    }
    const size = Math.min(sizeClass(bytes), limit - (limit % 4));
    const reuse = this.pool.get(size)?.pop();
    const h = reuse ? new GpuHandle(reuse.buffer, reuse.id) : new GpuHandle(this.device.createBuffer({ size, usage: STORAGE | COPY_SRC | COPY_DST }), this.buffersMade++);
    // new buffers are zero-initialised by WebGPU; in poison mode every buffer holds poison, so a
    // kernel that leaves part of its output unwritten shows it (pooled ones were poisoned when freed)
    if (!reuse && poisonMode()) this.poison(h.buffer);
    h.dirty = reuse !== undefined || poisonMode();
    return h;
  }
  free(handle: GpuHandle): void {
    if (this.lostInfo) return;
    if (this.encoder) this.pendingFree.push(handle);
    else this.toPool(handle);
  }
  /** Fill a buffer with the poison pattern: queued after the work submitted so far, before what is encoded next. */
  private poison(b: GPUBuffer): void {
    this.device.queue.writeBuffer(b, 0, this.poisonWords(b.size).buffer, 0, b.size);
  }
  /** @internal the poison pattern, at least `bytes` long */
  poisonWords(bytes: number): Uint32Array {
    if (this.poisonHost.byteLength < bytes) this.poisonHost = new Uint32Array(bytes / 4).fill(POISON_WORD);
    return this.poisonHost;
  }
  private toPool(h: GpuHandle): void {
    // only submitted work may still use the buffer: a stale read of it now sees poison
    if (poisonMode()) this.poison(h.buffer);
    let list = this.pool.get(h.buffer.size);
    if (!list) this.pool.set(h.buffer.size, (list = new FreeList()));
    list.push(h);
  }
  /** Bytes held in reserve by the buffer pool. */
  pooledBytes(): number {
    let n = 0;
    for (const [size, list] of this.pool) n += size * list.length;
    for (const h of this.pendingFree) n += h.buffer.size;
    return n;
  }
  /** Destroy the pooled buffers (live tensors keep theirs). */
  emptyPool(): void {
    this.flush();
    for (const list of this.pool.values()) for (const h of list.handles()) h.buffer.destroy();
    this.pool.clear();
    // a bind group holds its buffers: drop them all, rather than keep destroyed buffers reachable
    this.bindGroups.clear();
  }
  /** Bind groups held for reuse now. */
  get bindGroupsCached(): number {
    return this.bindGroups.size;
  }

  write(handle: GpuHandle, data: TypedArray): void {
    this.check();
    // bools are stored as words; float16 bit patterns as they are, padded to a whole word
    const words = data instanceof Uint8Array ? Uint32Array.from(data) : data.byteLength % 4 ? padWords(data as Uint16Array) : data;
    if (handle.dirty && words.byteLength < handle.buffer.size) this.device.queue.writeBuffer(handle.buffer, 0, new Uint8Array(handle.buffer.size));
    handle.dirty = false;
    if (words.byteLength > 0) this.device.queue.writeBuffer(handle.buffer, 0, words.buffer, words.byteOffset, words.byteLength);
  }

  async read(handle: GpuHandle, dtype: DType, length: number): Promise<TypedArray> {
    this.check();
    const taint = handle.taint;
    this.throwFailure(taint);
    if (length === 0 || handle.dirty) {
      await this.sync();
      this.throwFailure(taint, true);
      return allocArray(dtype, length);
    }
    const bytes = gpuBytes(dtype, length);
    const staging = this.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    this.endPass();
    this.encoderNow().copyBufferToBuffer(handle.buffer, 0, staging, 0, bytes);
    this.flush();
    const checked = this.checked;
    try {
      await this.alive(staging.mapAsync(MAP_READ));
      const raw = staging.getMappedRange().slice(0);
      staging.unmap();
      // every check submitted with this read: a step() after it knows what they found
      await this.alive(checked);
      this.throwGpuError();
      this.throwFailure(taint, true);
      if (dtype === 'bool') return Uint8Array.from(new Uint32Array(raw));
      if (dtype === 'float16') return new Uint16Array(raw, 0, length);
      return dtype === 'int32' ? new Int32Array(raw) : new Float32Array(raw);
    } finally {
      staging.destroy();
    }
  }

  /** Wait for the queue and for the checks of every dispatch so far (and report a failed GPU command). */
  async sync(): Promise<void> {
    this.check();
    this.flush();
    const checked = this.checked;
    await this.alive(this.device.queue.onSubmittedWorkDone());
    await this.alive(checked);
    this.throwGpuError();
  }
  private throwGpuError(): void {
    if (this.gpuError) {
      const m = this.gpuError;
      this.gpuError = undefined;
      throw new DeviceError(`webgpu: ${m}`);
    }
  }
  /**
   * Throw the error of the checking dispatch these values were computed from, if it found bad
   * input. `settled`: every check they depend on has come back, so none may still be open.
   * @internal
   */
  throwFailure(taint: Taint | undefined, settled = false): void {
    const state = this.taints.state(taint);
    if (state === undefined) return;
    if (isFailure(state)) throw state.error();
    if (settled) throw new DeviceError('webgpu: internal error: values were read before the checks of their kernels came back; please report this');
  }

  /**
   * Throw the error a checking dispatch found if any of these buffers was computed from its
   * output, and submit the batch so that the checks not yet made start now: an optimizer calls it
   * before each step, so bad gradients found by then never reach the parameters, and a step
   * after the next read (or once the device has caught up) throws for one that was.
   */
  checkErrors(handles: readonly GpuHandle[]): void {
    this.check();
    if (this.unchecked.length) this.flush();
    for (const h of handles) {
      h.taint = this.taints.state(h.taint);
      this.throwFailure(h.taint);
    }
  }

  /**
   * Copy this batch's error records out and clear them, at the end of the batch; the returned
   * function, called once the batch is submitted, reads them back and settles their dispatches.
   */
  private encodeCheck(enc: GPUCommandEncoder): () => void {
    const sites = this.unchecked;
    this.unchecked = [];
    const bytes = sites.length * RECORD;
    const staging = this.device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    enc.copyBufferToBuffer(this.err, 0, staging, 0, bytes);
    enc.clearBuffer(this.err, 0, bytes);
    return () => {
      const read = Promise.race([staging.mapAsync(MAP_READ), this.lostPromise]).then(() => new Uint32Array(staging.getMappedRange().slice(0)));
      read.catch(() => {}); // handled below, once the checks before it have settled
      this.checked = this.checked
        .then(async () => {
          let failed: Failure[];
          try {
            const words = await read;
            failed = sites.flatMap(({ seq, errors }, i) => (words[4 * i] ? [{ seq, error: () => errors(words[4 * i + 1]! | 0, words[4 * i + 2]!) }] : []));
          } catch (e) {
            // unread, the records vouch for nothing: what these dispatches computed fails with why
            const error = e instanceof DeviceError ? e : new DeviceError(`webgpu: the kernels' input checks could not be read back (${String(e)})`);
            failed = sites.map(({ seq }) => ({ seq, error: () => error }));
          }
          this.taints.settle(sites[sites.length - 1]!.seq + 1, failed);
        })
        .finally(() => staging.destroy());
    };
  }
  /**
   * Wait for a GPU promise, failing if the device is lost meanwhile. In Node, Dawn's pending
   * promises do not keep the event loop alive, so a timer does until they settle.
   */
  private async alive<T>(p: Promise<T>): Promise<T> {
    const keepAlive = setInterval(() => {}, 1000);
    try {
      return await Promise.race([p, this.lostPromise]);
    } finally {
      clearInterval(keepAlive);
    }
  }

  // ---- running kernels ----------------------------------------------------------------------
  run(kernel: WebGPUKernel, inputs: readonly TensorView<GpuHandle>[], outputs: readonly TensorView<GpuHandle>[], attrs: unknown, op: string): void {
    this.check();
    for (const p of this.programs(kernel, inputs, outputs, attrs, op)) this.encode(p);
  }

  /**
   * A kernel's programs for these operands, keyed for the pipeline cache. A kernel's key need not
   * name its operands' dtypes when its WGSL is the same for all 32-bit ones; float16 bindings
   * change the WGSL, so the op's go into the key (a kernel whose programs bind different ones, as
   * cat's copies, names them in its own keys). Eager runs and the replayer both come here, so a
   * float16 program can never take a float32 one's pipeline.
   * @internal
   */
  programs(kernel: WebGPUKernel, inputs: readonly TensorView<GpuHandle>[], outputs: readonly TensorView<GpuHandle>[], attrs: unknown, op: string): Program[] {
    const programs = kernel(inputs, outputs, attrs, op);
    const half = inputs.some(isF16) || outputs.some(isF16);
    if (!half) return programs;
    const suffix = `|f16:${[...inputs, ...outputs].map((v) => (isF16(v) ? 'h' : '-')).join('')}`;
    return programs.map((p) => ({ ...p, key: p.key + suffix }));
  }

  /**
   * Replay a compiled function's program (`compile`) as one command buffer per call, with its
   * bind groups and metadata built once (replay.ts).
   */
  replayer(program: ReplayProgram): Replayer {
    return gpuReplayer(this, program);
  }

  /** @internal */
  encoderNow(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder());
  }
  /** @internal */
  endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  private encode(p: Program): void {
    const metaBytes = Math.max(p.meta.length, 2) * 4;
    // what the metadata binding spans: few sizes, so that few bind groups serve every dispatch
    const window = Math.max(256, sizeClass(metaBytes));
    if (this.metaUsed + window > META_BYTES || this.dispatches >= BATCH) this.flush();
    // Outputs carry the taint of everything they are computed from: the inputs, what an output
    // written in place held before, and this dispatch's own check.
    const seq = p.errors && p.workgroups > 0 ? this.taints.issue() : undefined;
    const taint = this.taints.merge([...p.inputs.map((h) => h.taint), ...p.outputs.map((h) => h.taint), seq === undefined ? undefined : [seq, seq]]);
    for (const h of p.outputs) h.taint = taint;
    if (p.workgroups === 0) return;
    const enc = this.encoderNow();
    // A buffer bound both as input and as output would be a validation error (and a race): read a copy.
    let temps: GpuHandle[] | undefined;
    const inputs = p.inputs.map((h) => {
      if (h.dirty) {
        this.endPass();
        enc.clearBuffer(h.buffer);
        h.dirty = false;
      }
      if (!p.outputs.includes(h)) return h;
      const t = this.alloc('float32', h.buffer.size / 4);
      t.dirty = false;
      this.endPass();
      enc.copyBufferToBuffer(h.buffer, 0, t.buffer, 0, h.buffer.size);
      (temps ??= []).push(t);
      return t;
    });
    for (const h of p.outputs) h.dirty = false;

    let record = 0;
    if (seq !== undefined) {
      record = this.unchecked.length;
      this.unchecked.push({ seq, errors: p.errors! });
    }
    const metaOffset = this.metaUsed;
    this.metaHost.set(p.meta, metaOffset / 4); // (a Uint32Array stores v >>> 0)
    this.metaHost[metaOffset / 4 + 1] = record;
    this.metaUsed += Math.ceil(metaBytes / this.metaAlign) * this.metaAlign;

    const { pipeline, layout } = this.pipeline(p);
    const bindGroup = this.bindGroup(layout, window, inputs, p.outputs);
    this.pass ??= enc.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup, [metaOffset]);
    const x = Math.min(p.workgroups, 65535);
    this.pass.dispatchWorkgroups(x, Math.ceil(p.workgroups / x));
    this.dispatches++;
    this.counters.dispatches++;
    if (temps) for (const t of temps) this.free(t);
  }

  /** @internal */
  pipeline(p: Program): { pipeline: GPUComputePipeline; layout: Layout } {
    let pl = this.pipelines.get(p.key);
    if (!pl) {
      const layout = this.layout(p.inputs.length, p.outputs.length, !!p.errors);
      const module = this.device.createShaderModule({ code: withHalfAccess(p.wgsl()) });
      const pipeline = this.device.createComputePipeline({
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout.layout] }),
        compute: { module, entryPoint: 'main' },
      });
      this.pipelines.set(p.key, (pl = { pipeline, layout }));
    }
    return pl;
  }

  /** The bindings `preamble()` declares: inputs, outputs, the metadata (at a dynamic offset), the error records. */
  private layout(inputs: number, outputs: number, errors: boolean): Layout {
    const key = `${inputs} ${outputs} ${errors ? 'e' : ''}`;
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      const add = (type: GPUBufferBindingType, hasDynamicOffset = false) => entries.push({ binding: entries.length, visibility: COMPUTE, buffer: { type, hasDynamicOffset } });
      for (let i = 0; i < inputs; i++) add('read-only-storage');
      for (let i = 0; i < outputs; i++) add('storage');
      add('read-only-storage', true);
      if (errors) add('storage');
      this.layouts.set(key, (l = { key, layout: this.device.createBindGroupLayout({ entries }), errors }));
    }
    return l;
  }

  /**
   * The bind group of these buffers, from the cache when it holds one. A cached bind group stays
   * valid while its buffers live, and pooled buffers are destroyed only by `emptyPool`, which
   * empties the cache; keys name buffers by an id never reused, whichever tensor holds them now.
   */
  private bindGroup(layout: Layout, window: number, inputs: readonly GpuHandle[], outputs: readonly GpuHandle[]): GPUBindGroup {
    let key = `${layout.key}|${window}`;
    for (const h of inputs) key += ` ${h.id}`;
    for (const h of outputs) key += ` ${h.id}`;
    const cached = this.bindGroupCapacity > 0 ? this.bindGroups.get(key) : undefined;
    if (cached) {
      this.counters.bindGroupHits++;
      this.bindGroups.delete(key); // to the most recently used end
      this.bindGroups.set(key, cached);
      return cached;
    }
    const entries: GPUBindGroupEntry[] = [...inputs, ...outputs].map((h, i) => ({ binding: i, resource: { buffer: h.buffer } }));
    entries.push({ binding: entries.length, resource: { buffer: this.meta, offset: 0, size: window } });
    if (layout.errors) entries.push({ binding: entries.length, resource: { buffer: this.err } });
    const bindGroup = this.device.createBindGroup({ layout: layout.layout, entries });
    if (this.bindGroupCapacity > 0) {
      this.bindGroups.set(key, bindGroup);
      while (this.bindGroups.size > this.bindGroupCapacity) this.bindGroups.delete(this.bindGroups.keys().next().value!);
    }
    return bindGroup;
  }

  /** Submit what is encoded. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const readCheck = this.unchecked.length ? this.encodeCheck(this.encoder) : undefined;
    if (this.metaUsed) this.device.queue.writeBuffer(this.meta, 0, this.metaHost.buffer, 0, this.metaUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.counters.submits++;
    readCheck?.();
    this.encoder = undefined;
    this.metaUsed = 0;
    this.dispatches = 0;
    for (const h of this.pendingFree) this.toPool(h);
    this.pendingFree = [];
  }

  /** Destroy the device: later ops fail with a device-lost error (for shutdown and tests). */
  destroy(): void {
    this.device.destroy();
  }
}

/** A bind group layout and what its key says: the bindings of `preamble(inputs, outputs, errors)`. */
export interface Layout {
  key: string;
  layout: GPUBindGroupLayout;
  errors: boolean;
}

/**
 * The pooled buffers of one size class, handed out lowest id first (a binary heap). The pool's
 * state is then the set of its buffers rather than an order: a step that allocates and frees as
 * the one before did gets the same buffers, whichever order its frees came in, and so finds the
 * bind groups that step made.
 */
class FreeList {
  private readonly heap: GpuHandle[] = [];
  get length(): number {
    return this.heap.length;
  }
  handles(): readonly GpuHandle[] {
    return this.heap;
  }
  push(h: GpuHandle): void {
    const a = this.heap;
    let i = a.length;
    a.push(h);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.id <= h.id) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = h;
  }
  pop(): GpuHandle | undefined {
    const a = this.heap;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || !last) return top;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= a.length) break;
      if (c + 1 < a.length && a[c + 1]!.id < a[c]!.id) c++;
      if (a[c]!.id >= last.id) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/** Bytes of `length` elements in a GPU buffer: 4 each (bools too), 2 for float16, in whole words. */
const gpuBytes = (dtype: DType, length: number) => (dtype === 'float16' ? Math.ceil(length / 2) : length) * 4;
const isF16 = (v: TensorView<GpuHandle>) => v.dtype === 'float16';

/** float16 bit patterns padded to a whole number of 32-bit words (what writeBuffer moves). */
function padWords(bits: Uint16Array): Uint16Array {
  const padded = new Uint16Array(bits.length + 1);
  padded.set(bits);
  return padded;
}

export function sizeClass(bytes: number): number {
  return Math.max(16, 2 ** Math.ceil(Math.log2(bytes)));
}

