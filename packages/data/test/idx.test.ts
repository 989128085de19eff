import { describe, expect, it } from 'vitest';
import '@tapegrad/backend-cpu';
import { FormatError, idxToTensor, readIdx, writeIdx, type IdxDType } from '../src/index.js';

// An IDX file built byte by byte, independently of writeIdx: magic, dims, big-endian values.
function handMade(code: number, shape: number[], bytesPer: number, put: (v: DataView, at: number, x: number) => void, values: number[]): Uint8Array {
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + values.length * bytesPer);
  const v = new DataView(out.buffer);
  out.set([0, 0, code, shape.length]);
  shape.forEach((n, d) => v.setUint32(4 + 4 * d, n, false));
  values.forEach((x, i) => put(v, header + i * bytesPer, x));
  return out;
}

const CASES: [IdxDType, number, number, (v: DataView, at: number, x: number) => void, number[]][] = [
  ['ubyte', 0x08, 1, (v, at, x) => v.setUint8(at, x), [0, 1, 127, 128, 200, 255]],
  ['sbyte', 0x09, 1, (v, at, x) => v.setInt8(at, x), [-128, -1, 0, 1, 100, 127]],
  ['short', 0x0b, 2, (v, at, x) => v.setInt16(at, x, false), [-32768, -300, 0, 1, 258, 32767]],
  ['int', 0x0c, 4, (v, at, x) => v.setInt32(at, x, false), [-2147483648, -70000, 0, 1, 65536, 2147483647]],
  ['float', 0x0d, 4, (v, at, x) => v.setFloat32(at, x, false), [-1.5, 0, 0.25, 3, 1e-3, -7e5]],
  ['double', 0x0e, 8, (v, at, x) => v.setFloat64(at, x, false), [-1.5, 0, 0.1, 3, 1e-300, -7e5]],
];

describe('readIdx', () => {
  for (const [dtype, code, bytes, put, values] of CASES) {
    it(`reads ${dtype} (type code 0x${code.toString(16)}) big-endian data and dims`, () => {
      const file = handMade(code, [2, 3], bytes, put, values);
      const idx = readIdx(file);
      expect(idx.dtype).toBe(dtype);
      expect(idx.shape).toEqual([2, 3]);
      const expected = dtype === 'float' ? values.map(Math.fround) : values;
      expect(Array.from(idx.data)).toEqual(expected);
    });
    it(`round trips ${dtype} through writeIdx, byte for byte`, () => {
      const file = handMade(code, [3, 1, 2], bytes, put, values);
      const idx = readIdx(file);
      expect(writeIdx(idx.dtype, idx.shape, idx.data)).toEqual(file);
    });
  }

  it('reads a 0-dim (scalar) file and a file with an empty dim', () => {
    expect(readIdx(writeIdx('int', [], [42]))).toEqual({ dtype: 'int', shape: [], data: new Int32Array([42]) });
    const empty = readIdx(writeIdx('float', [0, 5], []));
    expect(empty.shape).toEqual([0, 5]);
    expect(empty.data.length).toBe(0);
  });

  it('reads from a Uint8Array that is a view at an odd offset', () => {
    const file = writeIdx('short', [2], [-2, 513]);
    const padded = new Uint8Array(file.length + 3);
    padded.set(file, 3);
    expect(Array.from(readIdx(padded.subarray(3)).data)).toEqual([-2, 513]);
  });
});

describe('readIdx errors', () => {
  const good = writeIdx('ubyte', [2, 3], [1, 2, 3, 4, 5, 6]);
  it('rejects a file too short for the magic number', () => {
    expect(() => readIdx(good.subarray(0, 3))).toThrow(FormatError);
    expect(() => readIdx(good.subarray(0, 3))).toThrow('3 bytes, too short for the 4-byte IDX magic number');
  });
  it('rejects a bad magic number', () => {
    const bad = good.slice();
    bad[0] = 0x1f;
    expect(() => readIdx(bad, 'x.idx')).toThrow('readIdx: x.idx has a bad magic number 0x1F 0x00 0x08 0x02');
    // a gzip file, the usual mistake with MNIST downloads
    expect(() => readIdx(new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0]))).toThrow(/bad magic number 0x1F 0x8B/);
  });
  it('rejects an unknown type code', () => {
    const bad = good.slice();
    bad[2] = 0x0a;
    expect(() => readIdx(bad)).toThrow(FormatError);
    expect(() => readIdx(bad)).toThrow('unknown type code 0x0A; expected one of 0x08 (ubyte), 0x09 (sbyte), 0x0B (short), 0x0C (int), 0x0D (float), 0x0E (double)');
  });
  it('rejects a header truncated inside its dims', () => {
    expect(() => readIdx(good.subarray(0, 9))).toThrow('is truncated: its header declares 2 dims, which needs 12 bytes; got 9');
  });
  it('rejects truncated data, naming expected and actual bytes', () => {
    expect(() => readIdx(good.subarray(0, 16))).toThrow('a ubyte array of shape [2,3] needs 18 bytes (12 header + 6 data); got 16 (truncated)');
    const ints = writeIdx('int', [4], [1, 2, 3, 4]);
    expect(() => readIdx(ints.subarray(0, ints.length - 1))).toThrow('needs 24 bytes (8 header + 16 data); got 23 (truncated)');
  });
  it('rejects trailing bytes', () => {
    const long = new Uint8Array(good.length + 2);
    long.set(good);
    expect(() => readIdx(long)).toThrow('needs 18 bytes (12 header + 6 data); got 20 (trailing bytes)');
  });
  it('writeIdx checks its arguments', () => {
    expect(() => writeIdx('int', [2, 2], [1, 2, 3])).toThrow('writeIdx: shape [2,2] needs 4 values; got 3');
    expect(() => writeIdx('long' as IdxDType, [1], [1])).toThrow("unknown IDX dtype 'long'");
  });
});

describe('idxToTensor', () => {
  it('makes int32 from integer types, float32 from float, float64 from double', () => {
    const u = idxToTensor(readIdx(writeIdx('ubyte', [2, 2], [0, 9, 200, 255])));
    expect(u.dtype).toBe('int32');
    expect(u.shape).toEqual([2, 2]);
    expect(u.arraySync()).toEqual([[0, 9], [200, 255]]);
    expect(idxToTensor(readIdx(writeIdx('sbyte', [2], [-5, 5]))).arraySync()).toEqual([-5, 5]);
    const f = idxToTensor(readIdx(writeIdx('float', [3], [0.5, -2, 8])));
    expect(f.dtype).toBe('float32');
    expect(f.arraySync()).toEqual([0.5, -2, 8]);
    expect(idxToTensor(readIdx(writeIdx('double', [1], [0.1]))).dtype).toBe('float64');
  });
  it('honours a requested dtype', () => {
    const t = idxToTensor(readIdx(writeIdx('ubyte', [3], [0, 1, 7])), { dtype: 'float32' });
    expect(t.dtype).toBe('float32');
    expect(t.arraySync()).toEqual([0, 1, 7]);
  });
});
