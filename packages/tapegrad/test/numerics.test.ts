import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { throws } from './helpers.js';

// Values a JavaScript array or an int32 tensor cannot hold are errors, never NaN, 0 or a
// wrapped number (issue 15, bug 7). Each case names what PyTorch (1.13, /usr/bin/python3) does
// with the same input: where it raises, so does tapegrad; where it widens to int64, which
// tapegrad lacks, tapegrad raises rather than wrap.

const i32 = (data: number[], shape?: number[]) => tg.tensor(data, { dtype: 'int32', shape });
const INT32_HINT = ' cannot be converted to int32 without overflow (int32 holds -2147483648 to 2147483647; tapegrad has no int64: float64 holds integers exactly up to 2^53)';

describe('tensor() from nested arrays checks every element', () => {
  it('rejects what is not a number or a boolean, naming its index (torch: "Could not infer dtype of NoneType", "invalid data type \'str\'")', () => {
    const bad: [unknown, string][] = [
      [[1, undefined], 'tensor: element at index [1] is undefined; expected a number or a boolean'],
      [[1, null], 'tensor: element at index [1] is null; expected a number or a boolean'],
      [[[1, 2], [3, 'a']], 'tensor: element at index [1, 1] is the string "a"; expected a number or a boolean'],
      [[1, {}], 'tensor: element at index [1] is an object; expected a number or a boolean'],
      [[2n], 'tensor: element at index [0] is the bigint 2n (pass int64 data as a BigInt64Array); expected a number or a boolean'],
      [[tg.ones([2])], 'tensor: element at index [0] is a Tensor (combine tensors with stack or cat); expected a number or a boolean'],
      // a hole reads as undefined; flattening used to skip it and report a count instead
      // eslint-disable-next-line no-sparse-arrays
      [[1, , 3], 'tensor: element at index [1] is undefined; expected a number or a boolean'],
      [undefined, 'tensor: element is undefined; expected a number or a boolean'],
    ];
    for (const [data, message] of bad) throws(() => tg.tensor(data as number[]), tg.DTypeError, message);
  });
  it('rejects ragged nesting wherever it is (torch: "expected sequence of length 2 at dim 1 (got 1)")', () => {
    throws(() => tg.tensor([[1, 2], [3]]), tg.ShapeError, 'tensor: ragged nested array: expected a sequence of length 2 at index [1] (the first elements give shape [2, 2]), got length 1');
    throws(() => tg.tensor([[1, 2], 3] as number[][]), tg.ShapeError, 'tensor: ragged nested array: expected a sequence of length 2 at index [1] (the first elements give shape [2, 2]), got a number');
    // a deeper sequence after a number: this one used to pass as shape [2, 1]
    throws(() => tg.tensor([1, [2]] as number[]), tg.ShapeError, 'tensor: ragged nested array: expected a number at index [1] (the first elements give shape [2]), got a sequence of length 1');
  });
  it('reads typed arrays nested in arrays, and keeps NaN and infinities of floats', () => {
    expect(tg.tensor([new Float32Array([1, 2]), new Float32Array([3, 4])] as unknown as number[][]).arraySync()).toEqual([[1, 2], [3, 4]]);
    expect(Array.from(tg.tensor([NaN, Infinity, true]).dataSync())).toEqual([NaN, Infinity, 1]);
    expect(tg.tensor([[], []]).shape).toEqual([2, 0]);
  });
});

describe('int32 values out of range are errors, not wrapped (torch: "value cannot be converted to type int32 without overflow")', () => {
  it('tensor() with dtype int32, from arrays and typed arrays; fractions truncate toward zero, as in torch', () => {
    throws(() => i32([1, 2 ** 31]), tg.ValueError, `tensor: value 2147483648 at index [1]${INT32_HINT}`);
    throws(() => i32([-2147483648.5]), tg.ValueError, `tensor: value -2147483648.5 at index [0]${INT32_HINT}`);
    throws(() => tg.tensor(new Float64Array([1, NaN]), { dtype: 'int32' }), tg.ValueError, `tensor: value NaN at index [1]${INT32_HINT}`);
    throws(() => tg.tensor([[0, 0], [0, Infinity]], { dtype: 'int32' }), tg.ValueError, `tensor: value Infinity at index [1, 1]${INT32_HINT}`);
    throws(() => tg.tensor(BigInt64Array.of(0n, -(2n ** 31n) - 1n)), tg.ValueError, `tensor: value -2147483649 at index [1]${INT32_HINT}`);
    throws(() => tg.tensor(Uint32Array.of(2 ** 32 - 1)), tg.ValueError, `tensor: value 4294967295 at index [0]${INT32_HINT}`);
    expect(Array.from(i32([1.7, -1.7, 2147483647, -2147483648]).dataSync())).toEqual([1, -1, 2147483647, -2147483648]);
  });
  it('typed arrays: integer arrays give int32, Uint8Array gives bool and holds only 0 and 1', () => {
    expect(tg.tensor(Int16Array.of(-3, 7)).dtype).toBe('int32');
    expect(tg.tensor(Uint8ClampedArray.of(0, 255)).dtype).toBe('int32');
    expect(Array.from(tg.tensor(BigInt64Array.of(256n, 0n), { dtype: 'bool' }).dataSync())).toEqual([1, 0]); // 256 was stored as byte 0
    throws(() => tg.tensor(Uint8Array.of(0, 1, 128)), tg.ValueError, "tensor: a Uint8Array is read as bool (0 or 1), but element at index [2] is 128; pass dtype: 'int32' or 'float32' for byte data");
    expect(Array.from(tg.tensor(Uint8Array.of(0, 128), { dtype: 'int32' }).dataSync())).toEqual([0, 128]);
  });
  it('full, arange, randint, fill_ and clamp bounds', () => {
    throws(() => tg.full([2], 2 ** 31, { dtype: 'int32' }), tg.ValueError, `full: value 2147483648${INT32_HINT}`);
    throws(() => tg.full([2], NaN, { dtype: 'int32' }), tg.ValueError, `full: value NaN${INT32_HINT}`);
    throws(() => tg.full([2], undefined as unknown as number), tg.DTypeError, 'full: value must be a number or a boolean; got undefined');
    // torch.arange(2**31 - 2, 2**31 + 1) is int64; tapegrad's integer arange is int32
    throws(() => tg.arange(2 ** 31 - 2, 2 ** 31 + 1), tg.ValueError, `arange: value 2147483648${INT32_HINT}`);
    expect(Array.from(tg.arange(2 ** 31 - 2, 2 ** 31 + 1, 1, { dtype: 'float64' }).dataSync())).toEqual([2147483646, 2147483647, 2147483648]);
    throws(() => tg.randint(0, 2 ** 32, [2]), tg.ValueError, `randint: value 4294967295${INT32_HINT}`);
    throws(() => tg.zeros([2], { dtype: 'int32' }).fill_(NaN), tg.ValueError, /^fill_: value NaN at index \[0\] cannot be converted to int32 without overflow/);
    expect(Array.from(tg.zeros([2], { dtype: 'int32' }).fill_(-(2 ** 31)).dataSync())).toEqual([-2147483648, -2147483648]);
    expect(Array.from(tg.zeros([2], { dtype: 'int32' }).fill_(1.5).dataSync())).toEqual([1, 1]);
    throws(() => i32([1]).clamp(-(2 ** 40), -(2 ** 35)), tg.ValueError, `clamp: value -1099511627776 (a bound of the int32 input)${INT32_HINT}`);
  });
  it('a number beside an int32 tensor must fit int32 (torch wraps it: int32 + 2**32 + 1 adds 1); true division needs no int32', () => {
    const x = i32([1, 2147483647]);
    const message = (op: string, v: number) => `${op}: the scalar ${v} cannot be converted to int32 (an integer's dtype next to an int32 or bool tensor) without overflow; cast the tensor to float32 or float64 first`;
    throws(() => x.add(2 ** 32 + 1), tg.ValueError, message('add', 2 ** 32 + 1));
    throws(() => x.lt(2 ** 31), tg.ValueError, message('lt', 2 ** 31)); // torch: [False, False]
    throws(() => tg.where(x.gt(1), x, 2 ** 31), tg.ValueError, message('where', 2 ** 31));
    throws(() => x.fill_(2 ** 31), tg.ValueError, message('fill_', 2 ** 31));
    throws(() => tg.tensor([true]).mul(-(2 ** 31) - 1), tg.ValueError, /^mul: the scalar -2147483649 cannot be converted to int32/);
    // torch: [4.6566e-10, 1.0000e+00]
    expect(Array.from(x.div(2 ** 31).dataSync())).toEqual([Math.fround(1 / 2 ** 31), Math.fround(2147483647 / 2 ** 31)]);
  });
  it('casts and copies of floats out of range (undefined behaviour in torch; x86 gives INT_MIN)', () => {
    throws(() => tg.tensor([1, 3e9]).cast('int32'), tg.ValueError, /^cast: value 3000000000 at index \[1\] cannot be converted to int32 without overflow \(int32 holds -2147483648 to 2147483647; clamp it first\)$/);
    throws(() => tg.tensor([[1, NaN], [0, 0]], { dtype: 'float64' }).T.cast('int32'), tg.ValueError, /^cast: value NaN at index \[1, 0\]/);
    throws(() => tg.zeros([2], { dtype: 'int32' }).copy_(tg.tensor([-Infinity])), tg.ValueError, /^copy_: value -Infinity at index \[0\]/);
    // as torch's creation checks it, before truncation: 2147483647.5 is out of range, 1.9 is 1
    throws(() => tg.tensor([2147483647.5], { dtype: 'float64' }).cast('int32'), tg.ValueError, /^cast: value 2147483647.5 at index \[0\]/);
    expect(Array.from(tg.tensor([2147483647, -2147483648, -0.5, 1.9], { dtype: 'float64' }).cast('int32').dataSync())).toEqual([2147483647, -2147483648, 0, 1]);
  });
});

describe('integer sums (torch sums ints and bools into int64; tapegrad into int32)', () => {
  it('a sum int32 cannot hold is an error naming the exact sum', () => {
    // torch: tensor(6442450941)
    throws(() => i32([2147483647, 2147483647, 2147483647]).sum(), tg.ValueError,
      'sum: the sum 6442450941 does not fit in int32, the dtype tapegrad sums integers and bools into (PyTorch uses int64, which tapegrad lacks); cast the input to float64 (exact to 2^53) or float32 first');
    throws(() => i32([1, 2 ** 30, 2, 2 ** 30], [2, 2]).sum(0), tg.ValueError, /^sum: the sum 2147483648 at output index \[1\] does not fit in int32/);
    throws(() => i32([-(2 ** 31), -1], [2, 1]).sum(0, true), tg.ValueError, /^sum: the sum -2147483649 at output index \[0, 0\]/);
    // the leading-dims path (a bias gradient's) checks too
    throws(() => i32([2 ** 30, 2 ** 30, 2 ** 30, 2 ** 30], [2, 2]).sum(0), tg.ValueError, /^sum: the sum 2147483648 at output index \[0\]/);
  });
  it('sums that fit are exact, however their partial sums wander', () => {
    expect(i32([2147483647, 1, -5]).sum().itemSync()).toBe(2147483643);
    expect(i32([2147483647, 2147483647, -2147483648, -2147483648]).sum().itemSync()).toBe(-2);
    expect(tg.ones([1000], { dtype: 'bool' }).sum().itemSync()).toBe(1000);
    expect(i32([1, 2]).cast('float64').mul(2147483647).sum().itemSync()).toBe(6442450941);
  });
  it('argmax of more elements than int32 indexes is an error; PyTorch indexes in int64', () => {
    throws(() => tg.ones([1]).expand([2 ** 31 + 1]).argmax(), tg.ValueError, 'argmax: an index into 2147483649 elements does not fit in int32, the dtype of its result (PyTorch\'s is int64, which tapegrad lacks)');
  });
});
