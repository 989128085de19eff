// matmul, bmm, linear and conv2d in float16 on WebGPU against PyTorch's values. The reference
// values are in fixtures/half-matmul.json, written by fixtures/gen_half-matmul.py: PyTorch 1.13's
// CPU has no float16 matmul or conv, so each is the exact result (torch in float64 on the float16
// inputs) rounded once to float16, which PyTorch's CUDA half kernels (float32 accumulation, one
// rounding) match to within a half ulp. Tolerance: 1 half ulp, or 2^-10 absolute where a sum
// cancels to far below its terms (the float32 accumulation error then shows in the last bits).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import '@tapegrad/autograd';
import * as nn from '@tapegrad/nn';
import * as tg from '@tapegrad/tensor';
import { openDevice } from './helpers.js';

const { gpuDescribe } = await openDevice();

interface Case {
  name: string;
  op: 'matmul' | 'bmm' | 'linear' | 'conv2d';
  attrs: { stride?: number; padding?: number; groups?: number };
  inputs: { shape: number[]; bits: number[] }[];
  out: { shape: number[]; bits: number[] };
}
const ref = JSON.parse(readFileSync(new URL('./fixtures/half-matmul.json', import.meta.url), 'utf8')) as { cases: Case[] };

const ord = (h: number) => (h & 0x8000 ? -(h & 0x7fff) : h);

gpuDescribe('float16 against PyTorch', () => {
  it.each(ref.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const [a, b, bias] = c.inputs.map((t) => tg.fromArray(Uint16Array.from(t.bits), t.shape, 'float16').to('webgpu'));
    const out =
      c.op === 'linear' ? nn.linear(a!, b!, bias)
      : c.op === 'conv2d' ? nn.conv2d(a!, b!, bias, c.attrs)
      : a!.matmul(b!);
    expect(out.dtype).toBe('float16');
    expect(out.shape).toEqual(c.out.shape);
    const got = (await out.rawData()) as Uint16Array;
    const values = await out.data();
    let exact = 0;
    for (let i = 0; i < got.length; i++) {
      const want = c.out.bits[i]!;
      const d = Math.abs(ord(got[i]!) - ord(want));
      if (d === 0) exact++;
      const wantValue = tg.fromFloat16Bits(want);
      if (d > 1 && !(Math.abs(values[i]! - wantValue) <= 2 ** -10)) expect.fail(`${c.name}[${i}]: got 0x${got[i]!.toString(16)} (${values[i]}), torch 0x${want.toString(16)} (${wantValue})`);
    }
    // most elements are the same bits: a result off by one ulp everywhere would be a rounding bug.
    // Not so for linear with a bias: tapegrad's is a matmul then an add, rounded after each (as
    // on the CPU), where PyTorch's addmm rounds once; a quarter of its elements are one ulp off.
    expect(exact / got.length, 'share of elements with the same bits as torch').toBeGreaterThan(c.op === 'linear' ? 0.6 : 0.97);
  });
});
