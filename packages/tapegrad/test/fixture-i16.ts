import { expect } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tg from '../src/index.js';
import { decode, expectClose, type Encoded } from './helpers.js';

// The fixture of fixtures/gen_i16-elementwise.py (torch 1.13): issue 16's elementwise, masking
// and any/all ops. Non-finite floats are stored as strings.
interface Raw extends Omit<Encoded, 'data'> {
  data: (number | string)[];
}
interface Case {
  inputs: Raw[];
  output: Raw;
  seed?: Raw;
  grads: (Raw | null)[] | null;
}
const cases: Record<string, Case> = JSON.parse(readFileSync(new URL('./fixtures/i16-elementwise.json', import.meta.url), 'utf8'));
const parse = (e: Raw): Encoded => ({ ...e, data: e.data.map(Number) });

/** Names of the fixture's cases that start with one of `prefixes` (each test file takes its own). */
export function caseNames(prefixes: readonly string[]): string[] {
  return Object.keys(cases).filter((k) => prefixes.some((p) => k === p || k.startsWith(`${p}_`)));
}

/**
 * Check `call` on case `name` against torch: shape, dtype, values (float64 within `rtol64`,
 * float32 within 3e-7 relative: torch's float32 functions are within an ulp, tapegrad's are the
 * float64 value rounded) and the gradients of sum(output * seed).
 */
export function checkCase(name: string, call: (...xs: tg.Tensor[]) => tg.Tensor, rtol64 = 1e-13): void {
  const c = cases[name]!;
  tg.tidy(() => {
    const inputs = c.inputs.map((e) => decode(parse(e), c.grads !== null));
    const out = call(...inputs);
    expect(out.shape, name).toEqual(c.output.shape);
    expect(out.dtype, name).toBe(c.output.dtype);
    const expected = parse(c.output).data;
    if (out.dtype === 'float64') expectClose(out.dataSync(), expected, 0, rtol64, `${name} value`);
    else if (out.dtype === 'float32') expectClose(out.dataSync(), expected, 1e-37, 3e-7, `${name} value`);
    else expect(Array.from(out.dataSync()), name).toEqual(expected);
    if (c.grads && c.seed) {
      out.mul(decode(parse(c.seed))).sum().backward();
      c.grads.forEach((g, i) => {
        if (!g) return expect(inputs[i]!.grad, `${name} grad ${i}`).toBeNull();
        const [atol, rtol] = g.dtype === 'float64' ? [1e-12, 1e-12] : [1e-37, 3e-7];
        expectClose(inputs[i]!.grad!.dataSync(), parse(g).data, atol, rtol, `${name} grad ${i}`);
      });
    }
  });
}
