import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tg from '../src/index.js';
import { decode, expectClose, type Encoded } from './helpers.js';

// Forward values and gradients of every core op against PyTorch (fixtures/gen_ops.py wrote
// fixtures/ops.json with Debian's torch 1.13). Each row maps a case name to the tapegrad call.
interface Case {
  inputs: Encoded[];
  output: Encoded;
  seed?: Encoded;
  grads: (Encoded | null)[] | null;
}
const cases: Record<string, Case> = JSON.parse(readFileSync(new URL('./fixtures/ops.json', import.meta.url), 'utf8'));
type T = tg.Tensor;
const I = (t: T) => t;

const calls: Record<string, (...xs: T[]) => T> = {
  neg: tg.neg, abs: tg.abs, exp: tg.exp, tanh: tg.tanh, sigmoid: tg.sigmoid, relu: tg.relu, sign: tg.sign, square: tg.square,
  log: tg.log, sqrt: tg.sqrt, exp_0d: tg.exp, neg_int: tg.neg, abs_int: tg.abs, exp_int: tg.exp,
  clamp: (x) => tg.clamp(x, -0.5, 0.7),
  clamp_min: (x) => x.clamp(0.1),
  pow: tg.pow, pow_bcast: tg.pow, add_0d: tg.add, add_int: tg.add, div_int: tg.div, add_int_float: tg.add,
  mul_scalar: (x) => x.mul(2.5),
  add_int_scalar: (x) => x.add(2.5),
  where: (c, a, b) => tg.where(c!, a!, b!),
  where_bcast: (c, a, b) => tg.where(c!, a!, b!),
  sum: (x) => x.sum(),
  sum_dim: (x) => x.sum(1),
  sum_dims_keep: (x) => x.sum([0, 2], true),
  sum_neg_dim: (x) => x.sum(-1),
  sum_int: (x) => x.sum(0),
  sum_bool: (x) => x.sum(),
  mean: (x) => x.mean(),
  mean_dims: (x) => x.mean([0, 1]),
  max: (x) => x.max(),
  max_dim: (x) => x.max(1),
  max_dims_keep: (x) => x.max([1, 2], true),
  min_dim: (x) => x.min(0),
  argmax: (x) => x.argmax(),
  argmax_dim: (x) => x.argmax(2),
  argmax_keep: (x) => x.argmax(1, true),
  argmin_dim: (x) => x.argmin(0),
  logsumexp: (x) => x.logsumexp(1),
  logsumexp_keep: (x) => x.logsumexp([0, 2], true),
  logsumexp_large: (x) => x.mul(1000).logsumexp(1),
  matmul_2d: tg.matmul, matmul_vv: tg.matmul, matmul_mv: tg.matmul, matmul_vm: tg.matmul, matmul_batched: tg.matmul,
  matmul_bcast: tg.matmul, matmul_bm: tg.matmul, matmul_vb: tg.matmul, matmul_int: tg.matmul,
  matmul_t: (a, b) => a!.T.matmul(b!),
  mul_int_wrap: tg.mul, square_int_wrap: tg.square, pow_int_wrap: tg.pow, matmul_int_wrap: tg.matmul,
  sum_int_back_in_range: (x) => x.sum(),
  gather: (x, i) => x!.gather(1, i!),
  gather_dim0: (x, i) => x!.gather(0, i!),
  scatter_add: (x, i, s) => x!.scatterAdd(1, i!, s!),
  scatter_add_dim0: (x, i, s) => x!.scatterAdd(0, i!, s!),
  index_select: (x, i) => x!.indexSelect(0, i!),
  index_select_dim1: (x, i) => x!.indexSelect(1, i!),
  one_hot: (i) => tg.oneHot(i!, 4),
  cat: (a, b) => tg.cat([a!, b!], 0),
  cat_dim1: (a, b, c) => tg.cat([a!, b!, c!], 1),
  stack: (a, b) => tg.stack([a!, b!], 1),
  softmax: (x) => x.softmax(1),
  softmax_dim0: (x) => x.softmax(0),
  softmax_large: (x) => x.mul(1e4).softmax(-1),
  log_softmax: (x) => x.logSoftmax(-1),
  log_softmax_dim1: (x) => x.logSoftmax(1),
  log_softmax_large: (x) => x.mul(1e4).logSoftmax(1),
  reshape: (x) => x.reshape(4, -1),
  reshape_t: (x) => x.transpose(0, 2).reshape(-1),
  transpose: (x) => x.transpose(0, 2),
  permute: (x) => x.permute(2, 0, 1),
  expand: (x) => x.expand(2, 3, 4),
  narrow: (x) => x.narrow(2, 1, 2),
  slice_step: (x) => x.slice(1, 1, undefined, 2),
  squeeze: (x) => x.squeeze(),
  squeeze_dim: (x) => x.squeeze(2),
  unsqueeze: (x) => x.unsqueeze(1),
  flatten: (x) => x.flatten(1),
  contiguous_t: (x) => x.T.contiguous().mul(1),
  chain: (a, b) => a!.matmul(b!).add(0.1).relu().logSoftmax(1).sum(1),
};
for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const) calls[op] = calls[`${op}_bcast`] = tg[op] as (...xs: T[]) => T;
for (const op of ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) calls[op] = tg[op] as (...xs: T[]) => T;
void I;

describe('core ops against PyTorch', () => {
  it('covers every case in the fixture', () => {
    expect(Object.keys(cases).filter((k) => !calls[k])).toEqual([]);
  });
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      tg.tidy(() => {
        const inputs = c.inputs.map((e) => decode(e, c.grads !== null));
        const out = calls[name]!(...inputs);
        expect(out.shape).toEqual(c.output.shape);
        // torch computes in float64 here; tapegrad keeps a float64 input's dtype, and dtypes of
        // int results must match exactly
        expect(out.dtype).toBe(c.output.dtype);
        expectClose(out.dataSync(), c.output.data, 1e-9, 1e-9, `${name} value`);
        if (c.grads && c.seed) {
          out.mul(decode(c.seed)).sum().backward();
          c.grads.forEach((g, i) => {
            if (!g) return expect(inputs[i]!.grad).toBeNull();
            expectClose(inputs[i]!.grad!.dataSync(), g.data, 1e-9, 1e-9, `${name} grad ${i}`);
          });
        }
      });
    });
  }
});
