// withHalfAccess, the rewrite that lets kernels written for f32 serve float16 bindings: which
// accesses become loads, which become stores, and what it leaves alone. Pure string work: no device.
import { expect, it } from 'vitest';
import { preamble, withHalfAccess } from '../src/program.js';

const body = (code: string) => code.slice(code.indexOf('// body') + 8);

it('turns reads of f16 bindings into ld_ calls and assignments into st_ calls, nested indices included', () => {
  const code = `${preamble(['float16', 'int32'], ['float16', 'float32'])}// body
let a = in0[i] + in0[in1[j] * 2u];
out0[o + 1u] = a * in0[select(0u, 1u, in0[k] == 0.0)];
out0[i] += f(in0[i], 2.0);
out1[i] = in0[i];
if (in0[i] == out0[i]) { out0[i] = 0.0; }`;
  expect(body(withHalfAccess(code))).toBe(`let a = ld_in0(i) + ld_in0(in1[j] * 2u);
st_out0(o + 1u, a * ld_in0(select(0u, 1u, ld_in0(k) == 0.0)));
st_out0(i, ld_out0(i) + (f(ld_in0(i), 2.0)));
out1[i] = ld_in0(i);
if (ld_in0(i) == ld_out0(i)) { st_out0(i, 0.0); }`);
});

it('adds the enable directive and the conversions first, and leaves shaders without f16 bindings alone', () => {
  const code = `alias C = f32;\n${preamble(['float16'], ['float32'])}// body\nout0[i] = in0[i];`;
  const out = withHalfAccess(code);
  expect(out.startsWith('enable f16;\n')).toBe(true);
  expect(out).toContain('fn half_to_f32(h: u32) -> f32');
  expect(out).toContain('fn ld_in0(i: u32) -> f32');
  expect(out).not.toContain('fn st_in0');
  const plain = `${preamble(['float32', 'u32'], ['int32'])}// body\nout0[i] = i32(in0[i]);`;
  expect(withHalfAccess(plain)).toBe(plain);
  // a shader that declares its own f16 bindings (a user's kernelOp) computes in f16 as written
  const own = 'enable f16;\n@group(0) @binding(0) var<storage, read> in0: array<f16>;\n@group(0) @binding(1) var<storage, read_write> out0: array<f16>;\nout0[i] = in0[i] * 2.0h;';
  expect(withHalfAccess(own)).toBe(own);
});
