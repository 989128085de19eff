import { afterEach, describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';

// The poison pattern itself: what a backend in poison mode fills storage with must read, in
// every dtype, as a value no correct computation leaves behind by accident.

const initial = tg.poisonMode();
afterEach(() => void tg.setPoisonMode(initial));

describe('the poison pattern', () => {
  it('reads as NaN in float32 and float64', () => {
    const f32 = new Float32Array(5).fill(1.5);
    const f64 = new Float64Array(5).fill(1.5);
    tg.poisonArray(f32);
    tg.poisonArray(f64);
    expect(Array.from(f32).every(Number.isNaN)).toBe(true);
    expect(Array.from(f64).every(Number.isNaN)).toBe(true);
  });

  it('reads as 2147475117 (0x7fffdead) in int32', () => {
    const i32 = new Int32Array(3);
    tg.poisonArray(i32);
    expect(Array.from(i32)).toEqual([2147475117, 2147475117, 2147475117]);
  });

  it('reads as bytes that are neither 0 nor 1 in bool storage, a length that is no multiple of 4 included', () => {
    const b = new Uint8Array(7);
    tg.poisonArray(b);
    expect(Array.from(b)).toEqual([0xad, 0xde, 0xff, 0x7f, 0xad, 0xde, 0xff]);
  });

  it('fills exactly the bytes asked for, at an offset into a larger buffer', () => {
    const whole = new Float32Array(8).fill(2);
    tg.poisonBytes(whole.buffer, 8, 12);
    expect(Array.from(whole, (v) => (Number.isNaN(v) ? 'poison' : v))).toEqual([2, 2, 'poison', 'poison', 'poison', 2, 2, 2]);
  });

  it('is switched by setPoisonMode, which returns the old setting', () => {
    expect(tg.setPoisonMode(true)).toBe(initial);
    expect(tg.poisonMode()).toBe(true);
    expect(tg.setPoisonMode(false)).toBe(true);
    expect(tg.poisonMode()).toBe(false);
  });
});
