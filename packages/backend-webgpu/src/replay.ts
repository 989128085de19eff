import { poisonMode, type ReplayProgram, type ReplayStep, type Replayer, type TensorView, type TypedArray } from '@tapegrad/tensor';
import { BATCH, sizeClass, type GpuHandle, type WebGPUBackend } from './backend.js';
import type { Program, WebGPUKernel } from './program.js';

// The WebGPU replayer of a compiled function (`compile`; the seam is Backend.replayer). What eager
// does per dispatch is done here once per program: the kernels are asked for their dispatches
// (WGSL key, metadata, workgroups) when the replayer is made, every dispatch's metadata gets its
// own window of one buffer written once, and bind groups are kept per dispatch, made again only
// when a slot's buffer changes (arguments and results usually come back in the same pooled
// buffers). A call is then one command encoder and one submit: the eager batch is flushed first,
// so the queue's order (host writes land before the next submit) cannot reorder anything.
//
// Host writes keep their place among the kernels: a zero-fill is the lazy clear eager does (the
// buffer is marked dirty and cleared in the command stream if read before it is written); random
// draws go through an upload buffer and a copy encoded where the write was; in poison mode a
// block a new buffer takes over is poisoned by a copy, also in the stream. Constants were written
// once when the memory was planned. Attrs read again at each call (an optimizer's learning rate
// and step) rebuild only their kernel's metadata and rewrite its window.

const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const STORAGE = 0x80;

/** One dispatch of a kernel step: which of the step's views each binding is, and its metadata window. */
interface Dispatch {
  program: Program;
  /** Per binding (inputs, then outputs): the index into the step's views (inputs, then outputs). */
  views: number[];
  metaOffset: number;
  window: number;
  /** The error record of a checking dispatch (its index in its batch's records). */
  record: number;
  /** Its bind groups, most recently used first, with the buffers (by id) each was made for. */
  bindGroups: { ids: number[]; bindGroup: GPUBindGroup }[];
}
/**
 * Bind groups kept per dispatch: a call's new gradients are made while the last call's are still
 * set (zeroGrad's disposal is an effect applied after the replay), so the pool hands out two sets of
 * buffers in turn.
 */
const KEEP = 4;
type KernelStep = Extract<ReplayStep, { kind: 'kernel' }>;
interface Prepared {
  step: KernelStep;
  /** Handles of this call, by view (inputs, then outputs). */
  handles: (GpuHandle | undefined)[];
  dispatches: Dispatch[];
}

/**
 * Kernels are called with stand-in handles, one per view: they only pass handles through into
 * their programs, so a program's bindings say which views they are.
 */
function dispatchesOf(gpu: WebGPUBackend, s: KernelStep, attrs: unknown): { program: Program; views: number[] }[] {
  const marks = [...s.inputs, ...s.outputs].map((_, i) => ({ view: i }) as unknown as GpuHandle);
  const view = (v: KernelStep['inputs'][number], i: number): TensorView<GpuHandle> => ({ handle: marks[i]!, dtype: v.dtype, shape: v.shape, strides: v.strides, offset: v.offset });
  const ins = s.inputs.map((v, i) => view(v, i)), outs = s.outputs.map((v, i) => view(v, s.inputs.length + i));
  return gpu.programs(s.kernel as WebGPUKernel, ins, outs, attrs, s.op).map((program) => ({
    program,
    views: [...program.inputs, ...program.outputs].map((h) => (h as unknown as { view: number }).view),
  }));
}

export function gpuReplayer(gpu: WebGPUBackend, program: ReplayProgram): Replayer {
  const device = gpu.device;
  const align = gpu.metaAlign;
  // lay out every dispatch's metadata window; the windows come in few sizes so that layouts match eager's
  let metaBytes = 0, checks = 0;
  const steps = program.steps.map((s) => {
    if (s.kind !== 'kernel') return s;
    const dispatches = dispatchesOf(gpu, s, s.attrs).map(({ program: p, views }): Dispatch => {
      const bytes = Math.max(p.meta.length, 2) * 4;
      const d = { program: p, views, metaOffset: metaBytes, window: Math.max(256, sizeClass(bytes)), record: 0, bindGroups: [] };
      if (p.errors && p.workgroups > 0) d.record = checks++ % BATCH;
      metaBytes += Math.ceil(bytes / align) * align;
      gpu.pipeline(p);
      return d;
    });
    return { step: s, handles: [...s.inputs, ...s.outputs].map(() => undefined), dispatches } as Prepared;
  });
  const maxWindow = Math.max(256, ...steps.flatMap((s) => ('dispatches' in s ? s.dispatches.map((d) => d.window) : [])));
  const metaHost = new Uint32Array((metaBytes + maxWindow) / 4);
  const meta = device.createBuffer({ size: metaHost.byteLength, usage: STORAGE | COPY_DST });
  const setMeta = (d: Dispatch, p: Program) => {
    metaHost.set(p.meta, d.metaOffset / 4);
    metaHost[d.metaOffset / 4 + 1] = d.record;
  };
  for (const s of steps) if ('dispatches' in s) for (const d of s.dispatches) setMeta(d, d.program);
  device.queue.writeBuffer(meta, 0, metaHost.buffer, 0, metaHost.byteLength);
  // host data drawn per call (random numbers) goes through an upload buffer per write step
  const uploads = new Map<ReplayStep, GPUBuffer>();
  let poison: GPUBuffer | undefined;

  const bindGroup = (d: Dispatch, buffers: readonly GpuHandle[]): GPUBindGroup => {
    const i = d.bindGroups.findIndex(({ ids }) => buffers.every((h, k) => h.id === ids[k]));
    if (i >= 0) {
      gpu.counters.bindGroupHits++;
      const hit = d.bindGroups[i]!;
      if (i > 0) d.bindGroups.splice(i, 1), d.bindGroups.unshift(hit);
      return hit.bindGroup;
    }
    const { layout } = gpu.pipeline(d.program);
    const entries: GPUBindGroupEntry[] = buffers.map((h, k) => ({ binding: k, resource: { buffer: h.buffer } }));
    entries.push({ binding: entries.length, resource: { buffer: meta, offset: 0, size: d.window } });
    if (layout.errors) entries.push({ binding: entries.length, resource: { buffer: gpu.err } });
    const bindGroup = device.createBindGroup({ layout: layout.layout, entries });
    d.bindGroups.unshift({ ids: buffers.map((h) => h.id), bindGroup });
    if (d.bindGroups.length > KEEP) d.bindGroups.pop();
    return bindGroup;
  };

  const encodeKernel = (s: Prepared, handles: readonly unknown[]) => {
    const { step } = s;
    step.inputs.forEach((v, i) => (s.handles[i] = handles[v.slot] as GpuHandle));
    step.outputs.forEach((v, i) => (s.handles[step.inputs.length + i] = handles[v.slot] as GpuHandle));
    if (step.live) {
      // attrs of the moment (a scheduler's learning rate, Adam's step): new metadata for this kernel's windows
      const now = dispatchesOf(gpu, step, step.live());
      if (now.length !== s.dispatches.length) throw new Error(`webgpu: internal error: ${step.op} made ${now.length} dispatches in a replay, ${s.dispatches.length} when compiled`);
      now.forEach(({ program: p }, i) => {
        const d = s.dispatches[i]!;
        if (Math.max(p.meta.length, 2) * 4 > d.window || p.key !== d.program.key) throw new Error(`webgpu: internal error: ${step.op} changed its dispatch in a replay`);
        d.program = p;
        setMeta(d, p);
        device.queue.writeBuffer(meta, d.metaOffset, metaHost.buffer, d.metaOffset, Math.max(p.meta.length, 2) * 4);
      });
    }
    for (const d of s.dispatches) {
      const p = d.program;
      const ins = d.views.slice(0, p.inputs.length).map((v) => s.handles[v]!);
      const outs = d.views.slice(p.inputs.length).map((v) => s.handles[v]!);
      // as eager's encode: outputs carry the taint of what they are computed from and of this dispatch's check
      const seq = p.errors && p.workgroups > 0 ? gpu.taints.issue() : undefined;
      const taint = gpu.taints.merge([...ins.map((h) => h.taint), ...outs.map((h) => h.taint), seq === undefined ? undefined : [seq, seq]]);
      for (const h of outs) h.taint = taint;
      if (p.workgroups === 0) continue;
      if (seq !== undefined) {
        if (d.record === 0 && gpu.unchecked.length) gpu.flush(); // more checking dispatches than records: a batch each BATCH
        gpu.unchecked.push({ seq, errors: p.errors! });
      }
      const enc = gpu.encoderNow();
      let temps: GpuHandle[] | undefined;
      const bound = ins.map((h) => {
        if (h.dirty) {
          gpu.endPass();
          enc.clearBuffer(h.buffer);
          h.dirty = false;
        }
        if (!outs.includes(h)) return h;
        // a buffer bound as input and output would be a validation error: read a copy, as eager does
        const t = gpu.alloc('float32', h.buffer.size / 4);
        t.dirty = false;
        gpu.endPass();
        enc.copyBufferToBuffer(h.buffer, 0, t.buffer, 0, h.buffer.size);
        (temps ??= []).push(t);
        return t;
      });
      for (const h of outs) h.dirty = false;
      const { pipeline } = gpu.pipeline(p);
      const bg = bindGroup(d, [...bound, ...outs]);
      const pass = (gpu.pass ??= enc.beginComputePass());
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bg, [d.metaOffset]);
      const x = Math.min(p.workgroups, 65535);
      pass.dispatchWorkgroups(x, Math.ceil(p.workgroups / x));
      gpu.counters.dispatches++;
      if (temps) for (const t of temps) gpu.free(t);
    }
  };

  const write = (s: Extract<ReplayStep, { kind: 'write' }>, h: GpuHandle) => {
    const data: TypedArray = typeof s.data === 'function' ? s.data() : s.data;
    const words = data instanceof Uint8Array ? Uint32Array.from(data) : data;
    const enc = gpu.encoderNow();
    gpu.endPass();
    if (h.dirty) enc.clearBuffer(h.buffer);
    h.dirty = false;
    if (words.byteLength === 0) return;
    let up = uploads.get(s);
    if (!up || up.size < words.byteLength) uploads.set(s, (up = device.createBuffer({ size: words.byteLength, usage: COPY_SRC | COPY_DST })));
    device.queue.writeBuffer(up, 0, words.buffer, words.byteOffset, words.byteLength);
    enc.copyBufferToBuffer(up, 0, h.buffer, 0, words.byteLength);
  };

  const fill = (s: Extract<ReplayStep, { kind: 'fill' }>, h: GpuHandle) => {
    // as a fresh eager buffer: cleared if read before it is written, and in poison mode holding poison
    if (!s.zero && poisonMode()) {
      if (!poison || poison.size < h.buffer.size) {
        poison = device.createBuffer({ size: h.buffer.size, usage: COPY_SRC | COPY_DST });
        device.queue.writeBuffer(poison, 0, gpu.poisonWords(h.buffer.size).buffer, 0, h.buffer.size);
      }
      gpu.endPass();
      gpu.encoderNow().copyBufferToBuffer(poison, 0, h.buffer, 0, h.buffer.size);
    }
    h.dirty = true;
  };

  return (ctx) => {
    gpu.check();
    // work encoded eagerly before this call goes first: writes below must not overtake it
    gpu.flush();
    const h = ctx.handles;
    try {
      gpu.encoderNow(); // from here, storage freed goes back to the pool after the submit
      for (const s of steps) {
        if ('dispatches' in s) {
          encodeKernel(s, h);
          continue;
        }
        switch (s.kind) {
          case 'write':
            write(s, h[s.slot] as GpuHandle);
            break;
          case 'fill':
            fill(s, h[s.slot] as GpuHandle);
            break;
          case 'alloc':
            ctx.alloc(s.slot);
            break;
          case 'free':
            ctx.free(s.slot);
            break;
          case 'check':
            // what eager's checkErrors knows at this point: failures already come back (this call's checks go with its submit)
            for (const i of s.slots) {
              const g = h[i] as GpuHandle;
              g.taint = gpu.taints.state(g.taint);
              gpu.throwFailure(g.taint);
            }
            break;
        }
      }
    } finally {
      gpu.flush();
    }
  };
}
