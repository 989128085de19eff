import { DTypeError, ShapeError, ValueError, fmt, isFloating, type Tensor } from '@tapegrad/tensor';

/** An int or a pair of ints (PyTorch's `_pair`), checked to be integers >= min. */
export function pair(op: string, arg: string, v: number | readonly number[], min: number): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new ValueError(`${op}: ${arg} must be an integer >= ${min} or a pair of them; got ${JSON.stringify(v)}`);
  }
  return [p[0]!, p[1]!];
}

export function checkFloat(op: string, arg: string, t: Tensor): void {
  if (!isFloating(t.dtype)) throw new DTypeError(`${op}: ${arg} must be a floating-point tensor; got ${t.dtype}`);
}

export function checkRank(op: string, arg: string, t: Tensor, ranks: readonly number[], what: string): void {
  if (!ranks.includes(t.ndim)) throw new ShapeError(`${op}: ${arg} must be ${what}; got shape ${fmt(t.shape)}`);
}

/** A sliding window's output length, as PyTorch computes it (ceilMode: the last partial window counts if it starts inside the input or left padding). */
export function outSize(size: number, k: number, s: number, p: number, d: number, ceilMode = false): number {
  const span = size + 2 * p - d * (k - 1) - 1;
  if (!ceilMode) return Math.floor(span / s) + 1;
  let n = Math.ceil(span / s) + 1;
  if ((n - 1) * s >= size + p) n--;
  return n;
}
