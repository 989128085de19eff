import type { Backend } from '../backend.js';
import { bytesPerElement, type DType } from '../dtype.js';
import { Storage } from '../tensor.js';
import type { ReplayProgram, ReplayStep, SlotView } from './replay.js';
import type { Arg, Buf, Trace } from './trace.js';

/** Storage a replay makes per call (results, and buffers of backends whose memory is not planned). */
export interface PerCall {
  readonly backend: Backend;
  readonly dtype: DType;
  readonly length: number;
  readonly zero: boolean;
}
/** A trace turned into a program: the buffers' slots, the storage it owns, and what it costs. */
export interface Plan {
  readonly program: ReplayProgram;
  /** The handles of the slots that never change (planned blocks, constants); the rest are undefined. */
  readonly fixed: readonly unknown[];
  /** Storage the plan owns until the compiled function drops it: planned blocks and constants. */
  readonly owned: readonly Storage[];
  readonly perCall: readonly (PerCall | undefined)[];
  /** Each buffer's slot. */
  readonly slotOf: Int32Array;
  readonly plannedBytes: number;
  readonly peakBytes: number;
  readonly constantBytes: number;
}

const bytes = (b: { dtype: DType; length: number }) => b.length * bytesPerElement(b.dtype);

/**
 * Plan a trace's memory: outside buffers are found per call; buffers the result or a `.grad`
 * keeps are made per call; a buffer only ever holding one host constant is written once; every
 * other buffer takes a block, reused by a later buffer of the same dtype and length once its
 * last kernel ran (greedy, in trace order).
 *
 * A block is reused as soon as its last reader was called. That holds on a backend that runs each
 * kernel when called (the CPU, which can read synchronously), and on one whose own replayer
 * (`replayer`, the backend the whole trace runs on) keeps host writes in order with its queued
 * kernels (WebGPU's). Through the generic replayer a queueing backend's host writes would
 * overtake queued kernels, so there storage is made and released per call, as eager does.
 */
export function plan(trace: Trace, replayer?: Backend): Plan {
  const planned = (b: Backend) => b.readSync !== undefined || b === replayer;
  const { bufs, steps } = trace;
  const kept = new Set(trace.made.map((m) => m.buf));
  const lastUse = new Int32Array(bufs.length).fill(-1);
  const written = new Set<number>();
  const hostWrites = new Int32Array(bufs.length);
  const use = (b: number, i: number) => (lastUse[b] = i);
  steps.forEach((s, i) => {
    if (s.kind === 'kernel') {
      for (const a of s.inputs) use(a.buf, i);
      for (const a of s.outputs) use(a.buf, i);
      for (const b of s.writes) written.add(b);
    } else if (s.kind === 'check') {
      for (const b of s.bufs) use(b, i);
    } else {
      use(s.buf, i);
      if (s.kind === 'write') hostWrites[s.buf]!++;
    }
  });
  // a constant: made by fromArray (a write right after its allocation) and never written again
  const constants = new Map<number, Parameters<Backend['write']>[1]>();
  steps.forEach((s, i) => {
    const next = steps[i + 1];
    if (s.kind === 'alloc' && next?.kind === 'write' && next.buf === s.buf && typeof next.data !== 'function' && !kept.has(s.buf) && !written.has(s.buf) && hostWrites[s.buf] === 1) {
      constants.set(s.buf, next.data);
    }
  });
  const constant = (b: Buf) => constants.has(b.id);
  const endsAt: number[][] = steps.map(() => []);
  bufs.forEach((b) => b.born && lastUse[b.id]! >= 0 && endsAt[lastUse[b.id]!]!.push(b.id));

  const slotOf = new Int32Array(bufs.length).fill(-1);
  const fixed: unknown[] = [];
  const perCall: (PerCall | undefined)[] = [];
  const owned: Storage[] = [];
  const newSlot = (handle?: unknown, per?: PerCall) => {
    fixed.push(handle);
    perCall.push(per);
    return fixed.length - 1;
  };
  let constantBytes = 0;
  for (const b of bufs) {
    if (!b.born) slotOf[b.id] = newSlot();
    else if (constant(b)) {
      const s = Storage.alloc(b.backend.name, b.dtype, b.length, false);
      b.backend.write(s.handle, constants.get(b.id)!);
      owned.push(s);
      constantBytes += bytes(b);
      slotOf[b.id] = newSlot(s.handle);
    }
  }

  // blocks free for reuse, by backend, dtype and length
  const free = new Map<Backend, Map<string, number[]>>();
  const freeList = (b: Buf) => {
    let byKey = free.get(b.backend);
    if (!byKey) free.set(b.backend, (byKey = new Map()));
    let list = byKey.get(`${b.dtype}:${b.length}`);
    if (!list) byKey.set(`${b.dtype}:${b.length}`, (list = []));
    return list;
  };
  const isBlock = (b: Buf) => b.born && !kept.has(b.id) && !constant(b) && planned(b.backend);
  let plannedBytes = 0, live = 0, peakBytes = 0;
  const out: ReplayStep[] = [];
  const view = (a: Arg): SlotView => ({ slot: slotOf[a.buf]!, dtype: a.dtype, shape: a.shape, strides: a.strides, offset: a.offset });
  steps.forEach((s, i) => {
    if (s.kind === 'alloc') {
      const b = bufs[s.buf]!;
      if (constant(b)) {
        // written once, above
      } else if (isBlock(b)) {
        let slot = freeList(b).pop();
        if (slot === undefined) {
          const st = Storage.alloc(b.backend.name, b.dtype, b.length, false);
          owned.push(st);
          plannedBytes += bytes(b);
          slot = newSlot(st.handle);
        }
        slotOf[b.id] = slot;
        live += bytes(b);
        peakBytes = Math.max(peakBytes, live);
        const next = steps[i + 1];
        // a host write right after fills the whole buffer (fromArray): no need to zero it first
        if (!(next?.kind === 'write' && next.buf === b.id)) out.push({ kind: 'fill', backend: b.backend, slot, dtype: b.dtype, length: b.length, zero: b.born!.zero });
      } else {
        slotOf[b.id] = newSlot(undefined, { backend: b.backend, dtype: b.dtype, length: b.length, zero: b.born!.zero });
        out.push({ kind: 'alloc', slot: slotOf[b.id]! });
      }
    } else if (s.kind === 'write') {
      if (!constant(bufs[s.buf]!)) out.push({ kind: 'write', backend: bufs[s.buf]!.backend, slot: slotOf[s.buf]!, data: s.data });
    } else if (s.kind === 'check') {
      out.push({ kind: 'check', backend: s.backend, slots: s.bufs.map((b) => slotOf[b]!) });
    } else {
      out.push({ kind: 'kernel', backend: s.backend, op: s.op, kernel: s.kernel, inputs: s.inputs.map(view), outputs: s.outputs.map(view), attrs: s.attrs, live: s.live });
    }
    for (const id of endsAt[i]!) {
      const b = bufs[id]!;
      if (isBlock(b)) {
        freeList(b).push(slotOf[id]!);
        live -= bytes(b);
      } else if (!kept.has(id) && !constant(b)) out.push({ kind: 'free', slot: slotOf[id]! });
    }
  });
  return { program: { slots: fixed.length, steps: out }, fixed, owned, perCall, slotOf, plannedBytes, peakBytes, constantBytes };
}
