/**
 * A seeded generator (xoshiro128**), so runs are reproducible with manualSeed(). It is not
 * PyTorch's Mersenne Twister: same seed, different numbers than torch.
 */
export class Generator {
  private s = new Uint32Array(4);
  constructor(seed = Date.now()) {
    this.manualSeed(seed);
  }
  /** Restart this generator from `seed`. */
  manualSeed(seed: number): this {
    // splitmix32 spreads one seed over the four words of state
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    return this;
  }
  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }
  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    return (this.nextUint32() * 2 ** 21 + (this.nextUint32() >>> 11)) / 2 ** 53;
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** An integer in [low, high). */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low));
  }
  /**
   * A random order of 0 … n-1 (torch.randperm): Fisher-Yates from the end, each swap drawing
   * int(0, i + 1). The draws are written out here with the state in locals, the same numbers as
   * that loop gives but without two calls per element: a DataLoader shuffles 60,000 indices at the
   * start of every epoch, and calling int() took 6–9 ms of a cold first epoch.
   */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    const s = this.s;
    let s0 = s[0]!, s1 = s[1]!, s2 = s[2]!, s3 = s[3]!;
    for (let i = n - 1; i > 0; i--) {
      // next(): two nextUint32() draws, high then low
      let hi = 0, lo = 0;
      for (let d = 0; d < 2; d++) {
        lo = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
        if (d === 0) hi = lo;
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 11);
      }
      const j = Math.floor(((hi * 2 ** 21 + (lo >>> 11)) / 2 ** 53) * (i + 1));
      const v = out[i]!;
      out[i] = out[j]!;
      out[j] = v;
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
    return out;
  }
}
function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The generator creation functions use unless given one. */
export const defaultGenerator = new Generator();
/** Seed the default generator (torch.manual_seed). */
export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}
