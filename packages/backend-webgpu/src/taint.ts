import type { TapegradError } from '@tapegrad/tensor';

/** A dispatch that found bad input: its number and the error it reports (a fresh one each time). */
export interface Failure {
  readonly seq: number;
  readonly error: () => TapegradError;
}

/**
 * What a buffer's values were computed from, among the dispatches that check their input on the
 * GPU (numbered in encoding order): sorted, disjoint spans of their numbers, flattened as
 * [lo0, hi0, lo1, hi1, ...], or, once one of them is known to have failed, that failure.
 */
export type Taint = readonly number[] | Failure;

/**
 * More spans than this merge the two nearest (the gap joins them): a buffer then depends, as far
 * as its taint says, on a few dispatches it does not, and it could fail for one of them. Only a
 * buffer computed from many dispatches none of whose checks came back gets there (a loop that
 * never waits for its device), and the bound keeps each dispatch's bookkeeping small.
 */
const MAX_SPANS = 8;

/** Whether a taint is a known failure (rather than spans of dispatches not yet checked). */
export const isFailure = (t: Taint): t is Failure => !Array.isArray(t);

/**
 * The outcomes of a device's checking dispatches, and the taint of what is computed from them.
 * Checks come back in encoding order, so "every dispatch numbered below `settled` is known" and
 * the list of failures (in order) say everything.
 */
export class Taints {
  private next = 0;
  private settled = 0;
  private readonly failures: Failure[] = [];

  /** Number a dispatch that checks its input. */
  issue(): number {
    return this.next++;
  }

  /** The checks of every dispatch numbered below `upTo` came back; `failed` lists those that found bad input. */
  settle(upTo: number, failed: readonly Failure[]): void {
    this.failures.push(...failed);
    this.settled = upTo;
  }

  /** The taint of values computed from buffers of these taints (undefined: clean). */
  merge(parts: readonly (Taint | undefined)[]): Taint | undefined {
    let one: Taint | undefined;
    for (const t of parts) {
      if (t === undefined || t === one) continue;
      if (one !== undefined) return this.normalize(parts);
      one = t;
    }
    return one;
  }

  /** What is known now: the failure, the spans not yet checked, or undefined once all came back clean. */
  state(t: Taint | undefined): Taint | undefined {
    return t === undefined || isFailure(t) ? t : this.normalize([t]);
  }

  private normalize(parts: readonly (Taint | undefined)[]): Taint | undefined {
    let failure: Failure | undefined;
    const spans: [number, number][] = [];
    for (const t of parts) {
      if (t === undefined) continue;
      if (isFailure(t)) failure = earlier(failure, t);
      else for (let i = 0; i < t.length; i += 2) spans.push([t[i]!, t[i + 1]!]);
    }
    spans.sort((a, b) => a[0] - b[0]);
    const open: [number, number][] = [];
    for (const [lo, hi] of spans) {
      const last = open[open.length - 1];
      if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
      else open.push([lo, hi]);
    }
    const out: number[] = [];
    for (const [lo, hi] of open) {
      failure = earlier(failure, this.firstFailure(lo, hi));
      if (hi >= this.settled) out.push(Math.max(lo, this.settled), hi);
    }
    if (failure) return failure;
    while (out.length > 2 * MAX_SPANS) {
      let k = 2;
      for (let j = 4; j < out.length; j += 2) if (out[j]! - out[j - 1]! < out[k]! - out[k - 1]!) k = j;
      out.splice(k - 1, 2);
    }
    return out.length ? out : undefined;
  }

  /** The first failure numbered in [lo, hi]. */
  private firstFailure(lo: number, hi: number): Failure | undefined {
    const f = this.failures;
    let a = 0;
    let b = f.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (f[m]!.seq < lo) a = m + 1;
      else b = m;
    }
    return a < f.length && f[a]!.seq <= hi ? f[a] : undefined;
  }
}

/** The failure found first in encoding order: the op the bad values came from. */
function earlier(a: Failure | undefined, b: Failure | undefined): Failure | undefined {
  return !a || (b && b.seq < a.seq) ? b : a;
}
