import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import '@tapegrad/backend-cpu';
import { memory, tensor, type Tensor } from '@tapegrad/tensor';
import { FormatError, load, parseSafetensors, parseSafetensorsHeader, save, serializeSafetensors } from '../src/index.js';
import { TAPEGRAD_METADATA, tapegradTensors } from './fixtures/tapegrad-tensors.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
type Expected = { metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; data: (number | boolean)[] }> };

function flat(t: Tensor): (number | boolean)[] {
  return t.dtype === 'bool' ? Array.from(t.dataSync(), (v) => v !== 0) : Array.from(t.dataSync());
}

// A safetensors file from a header (object or raw JSON text) and data bytes, built by hand.
function file(header: object | string, data: ArrayLike<number> = [], headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}
const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

describe('safetensors round trip', () => {
  it('saves and loads F32, F64, F16, BF16, I32 and BOOL tensors of any shape, views included, with metadata', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapegrad-st-'));
    const grid = tensor([[1, 2, 3], [4, 5, 6]]);
    const tensors = {
      f32: tensor([[0.5, -1.25], [3e38, -1e-40]]),
      f64: tensor([Math.PI, -1e-300, 2 ** 53 + 2], { dtype: 'float64' }),
      i32: tensor([[-2147483648], [2147483647], [0]], { dtype: 'int32' }),
      bool: tensor([true, false, true, true, false]),
      scalar: tensor(7, { dtype: 'int32' }),
      empty: tensor([], { shape: [2, 0, 3], dtype: 'float64' }),
      columns: grid.T.narrow(0, 1, 2),
      half: tensor([[0.1, -65504], [6e-8, -0]], { dtype: 'float16' }),
      brain: tensor([1e-40, 3e38, -0.1], { dtype: 'bfloat16' }).narrow(0, 1, 2),
    };
    const path = join(dir, 'model.safetensors');
    await save(tensors, path, { metadata: { epoch: '3' } });
    const loaded = await load(path);
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(tensors).sort());
    for (const [k, t] of Object.entries(tensors)) {
      expect(loaded[k]!.dtype, k).toBe(t.dtype);
      expect(loaded[k]!.shape, k).toEqual(t.shape);
      expect(flat(loaded[k]!), k).toEqual(flat(t));
      expect(loaded[k]!.rawDataSync(), k).toEqual(t.rawDataSync());
    }
    expect(loaded.columns!.arraySync()).toEqual([[2, 5], [3, 6]]);

    const bytes = readFileSync(path);
    const header = parseSafetensorsHeader(bytes);
    expect(header.metadata).toEqual({ epoch: '3' });
    expect(header.dataStart % 8).toBe(0);
    expect(bytes[header.dataStart - 1]).toBe(0x20);
    // widest dtype first, so every tensor's data is aligned to its element size
    for (const e of Object.values(header.tensors)) expect(e.dataOffsets[0] % { F64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, BOOL: 1 }[e.dtype as 'F64']).toBe(0);
  });

  it('serializes an empty state dict', async () => {
    const bytes = await serializeSafetensors({});
    expect(bytes.length).toBe(16);
    expect(new TextDecoder().decode(bytes.subarray(8))).toBe('{}      ');
    expect(parseSafetensors(bytes)).toEqual({});
  });

  it('treats names as plain keys, even __proto__', async () => {
    const loaded = parseSafetensors(await serializeSafetensors({ ['__proto__']: tensor([1]), 'a.b.c': tensor([2]) }));
    expect(Object.keys(loaded).sort()).toEqual(['__proto__', 'a.b.c']);
    expect(Object.getPrototypeOf(loaded)).toBe(Object.prototype);
  });
});

describe('safetensors interop with PyTorch', () => {
  it('loads the file torch wrote (F32, F64, I32, I64, BOOL, F16, BF16, 0-d, empty) to the values torch held', () => {
    const expected = JSON.parse(readFileSync(fixture('torch.json'), 'utf8')) as Expected;
    const bytes = readFileSync(fixture('torch.safetensors'));
    const loaded = parseSafetensors(bytes);
    expect(Object.keys(loaded).sort()).toEqual(Object.keys(expected.tensors).sort());
    for (const [k, want] of Object.entries(expected.tensors)) {
      expect(loaded[k]!.dtype, k).toBe(want.dtype);
      expect(loaded[k]!.shape, k).toEqual(want.shape);
      expect(flat(loaded[k]!), k).toEqual(want.data);
    }
    expect(parseSafetensorsHeader(bytes).metadata).toEqual(expected.metadata);
    expect(new Set(Object.values(parseSafetensorsHeader(bytes).tensors).map((e) => e.dtype))).toEqual(new Set(['F32', 'F64', 'I32', 'I64', 'BOOL', 'F16', 'BF16']));
  });

  it('writes, byte for byte, the file torch read back (torch_read_tapegrad.json holds what torch read)', async () => {
    const written = await serializeSafetensors(tapegradTensors(), { metadata: TAPEGRAD_METADATA });
    expect(written).toEqual(new Uint8Array(readFileSync(fixture('tapegrad.safetensors'))));
    const torchRead = JSON.parse(readFileSync(fixture('torch_read_tapegrad.json'), 'utf8')) as Expected;
    expect(torchRead.metadata).toEqual(TAPEGRAD_METADATA);
    const ours = tapegradTensors();
    expect(Object.keys(torchRead.tensors).sort()).toEqual(Object.keys(ours).sort());
    for (const [k, t] of Object.entries(ours)) {
      expect(torchRead.tensors[k], k).toEqual({ dtype: t.dtype, shape: t.shape, data: flat(t) });
    }
  });
});

describe('safetensors dtype conversions', () => {
  it('writes float16 and bfloat16 bit for bit, NaN payloads included, as F16 and BF16', async () => {
    const bits = new Uint16Array([0x7c01, 0xfe55, 0x0001, 0x3555]);
    const half = parseSafetensors(file({ h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] } }, new Uint8Array(bits.buffer))).h!;
    const bytes = await serializeSafetensors({ h: half, b: half.cast('bfloat16') });
    const header = parseSafetensorsHeader(bytes);
    expect(header.tensors.h!.dtype).toBe('F16');
    expect(header.tensors.b!.dtype).toBe('BF16');
    const at = header.dataStart + header.tensors.h!.dataOffsets[0];
    expect(new Uint16Array(bytes.slice(at, at + 8).buffer)).toEqual(bits);
  });

  it('reads F16 specials and subnormals, BF16, U8, I8 and I16', () => {
    const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x03ff, 0x8000, 0x7bff]).buffer);
    const brain = new Uint8Array(new Uint16Array([0x3f80, 0xc049, 0x7f80, 0x7fc0]).buffer);
    const small = [250, 0xff, 0x80, 0x01, ...new Uint8Array(new Int16Array([-300, 32767]).buffer)];
    const loaded = parseSafetensors(
      file(
        {
          half: { dtype: 'F16', shape: [9], data_offsets: [0, 18] },
          brain: { dtype: 'BF16', shape: [4], data_offsets: [18, 26] },
          u8: { dtype: 'U8', shape: [1], data_offsets: [26, 27] },
          i8: { dtype: 'I8', shape: [3], data_offsets: [27, 30] },
          i16: { dtype: 'I16', shape: [2], data_offsets: [30, 34] },
        },
        [...half, ...brain, ...small],
      ),
    );
    expect(loaded.half!.dtype).toBe('float16');
    expect(flat(loaded.half!)).toEqual([1, -2, Infinity, -Infinity, NaN, 2 ** -24, 1023 * 2 ** -24, -0, 65504]);
    expect(loaded.brain!.dtype).toBe('bfloat16');
    expect(flat(loaded.brain!)).toEqual([1, -3.140625, Infinity, NaN]);
    // the patterns as they were in the file, and back into a file unchanged
    expect(loaded.half!.rawDataSync()).toEqual(new Uint16Array(half.buffer));
    expect(loaded.brain!.rawDataSync()).toEqual(new Uint16Array(brain.buffer));
    expect(loaded.u8!.dtype).toBe('int32');
    expect(flat(loaded.u8!)).toEqual([250]);
    expect(flat(loaded.i8!)).toEqual([-1, -128, 1]);
    expect(flat(loaded.i16!)).toEqual([-300, 32767]);
  });

  it('converts I64 to int32, and refuses values outside int32 without loading anything', () => {
    const wide = (v: bigint[]) => new Uint8Array(new BigInt64Array(v).buffer);
    const ok = parseSafetensors(file({ x: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, wide([-2147483648n, 2147483647n])));
    expect(ok.x!.dtype).toBe('int32');
    expect(flat(ok.x!)).toEqual([-2147483648, 2147483647]);
    const before = memory().tensors;
    const bad = file(
      { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, x: { dtype: 'I64', shape: [2], data_offsets: [8, 24] }, pad: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } },
      [...f32(1), ...f32(2), ...wide([5n, 2147483648n])],
    );
    expect(() => parseSafetensors(bad, { name: 'big.safetensors' })).toThrow("safetensors: big.safetensors: tensor 'x': I64 value 2147483648 at index 1 does not fit in int32");
    expect(memory().tensors).toBe(before);
  });

  it('normalises BOOL bytes to 0/1', () => {
    const loaded = parseSafetensors(file({ b: { dtype: 'BOOL', shape: [3], data_offsets: [0, 3] } }, [0, 1, 7]));
    expect(loaded.b!.arraySync()).toEqual([false, true, true]);
    expect(Array.from(loaded.b!.dataSync())).toEqual([0, 1, 1]);
  });
});

describe('malformed safetensors files fail with a clear error and load nothing', () => {
  const entry = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });
  const CASES: [string, Uint8Array, string | RegExp][] = [
    ['a file shorter than the length prefix', new Uint8Array(5), '5 bytes is too short for the 8-byte header length'],
    ['a header length past the end of the file', file({ x: entry('F32', [1], [0, 4]) }, f32(1), 200n), /the header length 200 is larger than the \d+ bytes that follow it/],
    ['an absurd header length', file('{}', [], 2n ** 63n), /the header length 9223372036854775808 is larger than the 2 bytes/],
    ['a header that is not JSON', file('{"x": {"dtype": "F32",', []), /the header is not valid UTF-8 JSON \(/],
    ['a header that is not UTF-8', file(new TextDecoder('latin1').decode(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d])), []), /not valid UTF-8 JSON/],
    ['a header that is not an object', file([1, 2]), 'the header must be a JSON object'],
    ['an entry that is not an object', file({ x: 3 }), "tensor 'x': expected an object with dtype, shape and data_offsets"],
    ['an unknown dtype', file({ x: entry('F8_E4M3', [1], [0, 1]) }, [0]), "tensor 'x' has unknown dtype \"F8_E4M3\"; tapegrad reads F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL"],
    ['a missing dtype', file({ x: { shape: [1], data_offsets: [0, 4] } }, f32(1)), "tensor 'x' has unknown dtype undefined"],
    ['a negative dim', file({ x: entry('F32', [-1], [0, 4]) }, f32(1)), "tensor 'x': shape must be an array of non-negative integers; got [-1]"],
    ['a fractional dim', file({ x: entry('F32', [1.5], [0, 4]) }, f32(1)), 'got [1.5]'],
    ['offsets that are not a pair', file({ x: entry('F32', [1], [0]) }, f32(1)), "tensor 'x': data_offsets must be [begin, end] with 0 <= begin <= end; got [0]"],
    ['offsets that run backwards', file({ x: entry('F32', [1], [4, 0]) }, f32(1)), 'got [4,0]'],
    ['a shape that does not match its offsets', file({ x: entry('F32', [2, 3], [0, 4]) }, f32(1)), "tensor 'x': a F32 tensor of shape [2,3] needs 24 bytes, but its data_offsets [0, 4] span 4"],
    ['overlapping tensors', file({ x: entry('F32', [2], [0, 8]), y: entry('F32', [1], [4, 8]) }, f32(1, 2)), "tensor 'y' (bytes [4, 8]) overlaps tensor 'x', which ends at byte 8"],
    ['a gap between tensors', file({ x: entry('F32', [1], [0, 4]), y: entry('F32', [1], [8, 12]) }, f32(1, 2, 3)), "the data section has a gap: bytes [4, 8) belong to no tensor (before tensor 'y')"],
    ['a gap at the start', file({ y: entry('F32', [1], [4, 8]) }, f32(1, 2)), 'bytes [0, 4) belong to no tensor'],
    ['offsets past the end (truncated data)', file({ x: entry('F32', [3], [0, 12]) }, f32(1, 2)), "tensor 'x' needs data bytes [0, 12], but the data section has only 8 bytes (a truncated file)"],
    ['trailing bytes no tensor owns', file({ x: entry('F32', [1], [0, 4]) }, [...f32(1), 9, 9]), 'the data section has 6 bytes, but the tensors cover only 4 (trailing bytes [4, 6) belong to no tensor)'],
    ['metadata that is not a string map', file({ __metadata__: { epoch: 3 } }), '__metadata__ must be an object of string values; got {"epoch":3}'],
  ];
  for (const [what, bytes, message] of CASES) {
    it(`rejects ${what}`, () => {
      const before = memory().tensors;
      expect(() => parseSafetensors(bytes, { name: 'bad.safetensors' })).toThrow(FormatError);
      expect(() => parseSafetensors(bytes, { name: 'bad.safetensors' })).toThrow(message);
      expect(memory().tensors).toBe(before);
    });
  }

  it('rejects a header larger than the 100 MB limit', () => {
    const bytes = file('', new Uint8Array(100_000_008), 100_000_001n);
    expect(() => parseSafetensorsHeader(bytes)).toThrow('the header length 100000001 exceeds the limit of 100000000 bytes');
  });

  it('names the file load was given, and a file truncated on disk fails the same way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapegrad-st-'));
    const path = join(dir, 'cut.safetensors');
    await save({ w: tensor([[1, 2], [3, 4]]) }, path);
    const { truncateSync } = await import('node:fs');
    truncateSync(path, readFileSync(path).length - 3);
    await expect(load(path)).rejects.toThrow(`safetensors: ${path}: tensor 'w' needs data bytes [0, 16], but the data section has only 13 bytes (a truncated file)`);
  });
});

describe('serializeSafetensors errors', () => {
  it('refuses a tensor named __metadata__, non-tensors, disposed tensors and non-string metadata', async () => {
    await expect(serializeSafetensors({ __metadata__: tensor([1]) })).rejects.toThrow("serializeSafetensors: '__metadata__' is reserved for metadata and cannot name a tensor");
    await expect(serializeSafetensors({ w: [1, 2] as unknown as Tensor })).rejects.toThrow("serializeSafetensors: 'w' is not a tensor; got object");
    const gone = tensor([1]);
    gone.dispose();
    await expect(serializeSafetensors({ gone })).rejects.toThrow(/serializeSafetensors\('gone'\): tensor of shape \[1\] was disposed/);
    await expect(serializeSafetensors({ w: tensor([1]) }, { metadata: { n: 1 as unknown as string } })).rejects.toThrow('__metadata__ must be an object of string values');
  });
});
