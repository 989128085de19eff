import type { TypedArray } from './dtype.js';
import { ValueError } from './errors.js';

// Poison mode makes a whole class of bug visible: storage read before it is written (a kernel
// that declares it fills its outputs but leaves elements out, or reads them first) and storage
// read after it was freed (a view that outlived its storage, while the block waits in a pool).
// Without it such reads see whatever the block last held, often plausible numbers; with it they
// see NaN, or an int32 or bool value no kernel writes.

/**
 * The 32-bit word poison mode fills storage with, repeated: NaN read as float32, and NaN read as
 * float64 (0x7fffdead7fffdead); 2147475117 (0x7fffdead) read as int32; bytes 0xad 0xde 0xff 0x7f,
 * none of them 0 or 1, read as bool.
 */
export const POISON_WORD = 0x7fffdead;
const POISON_BYTES = [0xad, 0xde, 0xff, 0x7f] as const;

let poisoning = fromEnv((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.TAPEGRAD_POISON);
function fromEnv(v: string | undefined): boolean {
  if (v === undefined || v === '' || v === '0') return false;
  if (v === '1') return true;
  throw new ValueError(`TAPEGRAD_POISON must be '1' (poison mode on) or '0' (off); got '${v}'`);
}

/**
 * Whether poison mode is on: backends then fill storage they hand out without zero-filling with
 * the poison pattern ({@link POISON_WORD}), and fill storage with it again when it is freed. Set
 * at startup by the environment variable `TAPEGRAD_POISON=1`, or by {@link setPoisonMode}.
 */
export function poisonMode(): boolean {
  return poisoning;
}

/**
 * Turn poison mode on or off (for a test or a debugging session; `TAPEGRAD_POISON=1` turns it on
 * for a whole process). Storage freed while it is off keeps its values. Returns the old setting.
 */
export function setPoisonMode(on: boolean): boolean {
  const old = poisoning;
  poisoning = on;
  return old;
}

/**
 * Fill `bytes` bytes from `byteOffset` (a multiple of 4) of `buffer` with the poison pattern,
 * whatever dtype they hold.
 */
export function poisonBytes(buffer: ArrayBufferLike, byteOffset: number, bytes: number): void {
  const words = bytes >>> 2;
  new Uint32Array(buffer, byteOffset, words).fill(POISON_WORD);
  if (words * 4 < bytes) {
    const tail = new Uint8Array(buffer, byteOffset + words * 4, bytes - words * 4);
    for (let i = 0; i < tail.length; i++) tail[i] = POISON_BYTES[i]!;
  }
}

/** Fill a typed array (whose byteOffset is a multiple of 4, as every storage array's is) with the poison pattern. */
export function poisonArray(a: TypedArray): void {
  poisonBytes(a.buffer, a.byteOffset, a.byteLength);
}
