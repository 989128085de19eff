import { TapegradError, allocArray, fromArray, type DType, type Device, type Tensor, type TypedArray } from '@tapegrad/tensor';
import { FormatError } from './errors.js';
import { files } from './files.js';

// The safetensors format (https://huggingface.co/docs/safetensors), what PyTorch and Hugging
// Face use for weights: an 8-byte little-endian u64 N, N bytes of JSON header
// `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string: string } }`,
// then the raw little-endian data; offsets count from the start of the data section, and the
// tensors tile it exactly (no gaps, no overlaps).

/** The file dtypes tapegrad reads, their element sizes and the tapegrad dtype they load as. */
const FILE_DTYPES = {
  F64: { bytes: 8, dtype: 'float64' },
  F32: { bytes: 4, dtype: 'float32' },
  F16: { bytes: 2, dtype: 'float16' },
  BF16: { bytes: 2, dtype: 'bfloat16' },
  I64: { bytes: 8, dtype: 'int32' },
  I32: { bytes: 4, dtype: 'int32' },
  I16: { bytes: 2, dtype: 'int32' },
  I8: { bytes: 1, dtype: 'int32' },
  U8: { bytes: 1, dtype: 'int32' },
  BOOL: { bytes: 1, dtype: 'bool' },
} as const satisfies Record<string, { bytes: number; dtype: DType }>;
/** The dtype names of the safetensors format that tapegrad reads (it writes F64, F32, F16, BF16, I32 and BOOL). */
export type SafetensorsDType = keyof typeof FILE_DTYPES;
const WRITE_DTYPE: Record<DType, SafetensorsDType> = { float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int32: 'I32', bool: 'BOOL' };

/** Headers past this size are refused, as the reference implementation does (it guards against absurd lengths). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA = '__metadata__';

/** One tensor's entry in a safetensors header. */
export interface SafetensorsEntry {
  /** The tensor's element type in the file. */
  dtype: SafetensorsDType;
  /** The tensor's shape ([] for a scalar). */
  shape: number[];
  /** [begin, end) in bytes from the start of the data section. */
  dataOffsets: [number, number];
}
/** A validated safetensors header, as {@link parseSafetensorsHeader} returns it. */
export interface SafetensorsHeader {
  /** Each tensor's entry by name. */
  tensors: Record<string, SafetensorsEntry>;
  /** The header's __metadata__ string pairs ({} when absent). */
  metadata: Record<string, string>;
  /** Where the data section starts in the file (8 + the header length). */
  dataStart: number;
}

/**
 * Read and validate a safetensors header: header length within the file, valid JSON, known
 * dtypes, each entry's byte size matching its shape, and the entries tiling the data section
 * exactly. Throws a FormatError naming the problem.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, name = 'safetensors data'): SafetensorsHeader {
  const fail = (msg: string) => new FormatError(`safetensors: ${name}: ${msg}`);
  if (bytes.length < 8) throw fail(`${bytes.length} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) throw fail(`the header length ${n} is larger than the ${bytes.length - 8} bytes that follow it (a truncated or corrupted file)`);
  if (n > BigInt(MAX_HEADER_BYTES)) throw fail(`the header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const headerEnd = 8 + Number(n);

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd)));
  } catch (e) {
    throw fail(`the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail('the header must be a JSON object');

  const tensors: Record<string, SafetensorsEntry> = {};
  let metadata: Record<string, string> = {};
  for (const [key, raw] of Object.entries(json)) {
    if (key === METADATA) {
      metadata = checkMetadata(raw, fail);
      continue;
    }
    const where = `tensor '${key}'`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail(`${where}: expected an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(FILE_DTYPES, dtype)) {
      throw fail(`${where} has unknown dtype ${JSON.stringify(dtype)}; tapegrad reads ${Object.keys(FILE_DTYPES).join(', ')}`);
    }
    if (!Array.isArray(shape) || !shape.every(isSize)) throw fail(`${where}: shape must be an array of non-negative integers; got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize) || offsets[0] > offsets[1]) {
      throw fail(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end; got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const itemBytes = FILE_DTYPES[dtype as SafetensorsDType].bytes;
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * itemBytes) {
      throw fail(`${where}: a ${dtype} tensor of shape [${shape.join(',')}] needs ${count * itemBytes} bytes, but its data_offsets [${begin}, ${end}] span ${end - begin}`);
    }
    Object.defineProperty(tensors, key, { value: { dtype, shape, dataOffsets: [begin, end] }, enumerable: true, writable: true, configurable: true });
  }

  // The entries, in file order, must cover [0, data length) with no gap and no overlap.
  const dataBytes = bytes.length - headerEnd;
  const byStart = Object.entries(tensors).sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let covered = 0;
  let previous = '';
  for (const [key, { dataOffsets: [begin, end] }] of byStart) {
    if (begin < covered) throw fail(`tensor '${key}' (bytes [${begin}, ${end}]) overlaps tensor '${previous}', which ends at byte ${covered}`);
    if (begin > covered) throw fail(`the data section has a gap: bytes [${covered}, ${begin}) belong to no tensor (before tensor '${key}')`);
    if (end > dataBytes) throw fail(`tensor '${key}' needs data bytes [${begin}, ${end}], but the data section has only ${dataBytes} bytes (a truncated file)`);
    covered = end;
    previous = key;
  }
  if (covered !== dataBytes) throw fail(`the data section has ${dataBytes} bytes, but the tensors cover only ${covered} (trailing bytes [${covered}, ${dataBytes}) belong to no tensor)`);
  return { tensors, metadata, dataStart: headerEnd };
}

function isSize(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}
function checkMetadata(raw: unknown, fail: (msg: string) => Error): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
    throw fail(`${METADATA} must be an object of string values; got ${JSON.stringify(raw)}`);
  }
  return { ...(raw as Record<string, string>) };
}

/** Options of {@link load} and {@link parseSafetensors}. */
export interface LoadOptions {
  /** Where the tensors are created (default: the default device). */
  device?: Device;
}

/**
 * The tensors of a safetensors file's bytes (the browser half of `load`). F16 and BF16 load as
 * float16 and bfloat16, bit for bit (PyTorch's half checkpoints; `loadStateDict` converts them
 * into a float32 model); I64, I16, I8 and U8 as int32 (I64 values outside int32's range are an error). The
 * whole file is validated before any tensor is made, so a bad file never half-loads.
 */
export function parseSafetensors(bytes: Uint8Array, options: LoadOptions & { name?: string } = {}): Record<string, Tensor> {
  const name = options.name ?? 'safetensors data';
  const header = parseSafetensorsHeader(bytes, name);
  const arrays = Object.entries(header.tensors).map(([key, entry]) => {
    const [begin, end] = entry.dataOffsets;
    // A copy (Buffer's slice would be a view), so the typed arrays decode makes are aligned.
    const raw = new Uint8Array(bytes.subarray(header.dataStart + begin, header.dataStart + end));
    return [key, entry, decode(entry.dtype, raw, `safetensors: ${name}: tensor '${key}'`)] as const;
  });
  const out: [string, Tensor][] = [];
  try {
    for (const [key, entry, values] of arrays) {
      out.push([key, fromArray(values, entry.shape, FILE_DTYPES[entry.dtype].dtype, { device: options.device })]);
    }
  } catch (e) {
    for (const [, t] of out) t.dispose();
    throw e;
  }
  return Object.fromEntries(out);
}

// Little-endian bytes of one tensor as the typed array its tapegrad dtype holds.
function decode(dtype: SafetensorsDType, raw: Uint8Array, where: string): TypedArray {
  const buf = littleEndian(raw, FILE_DTYPES[dtype].bytes).buffer;
  switch (dtype) {
    case 'F64': return new Float64Array(buf);
    case 'F32': return new Float32Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'BOOL': return raw.map((b) => (b ? 1 : 0));
    case 'U8': return Int32Array.from(raw);
    case 'I8': return Int32Array.from(new Int8Array(buf));
    case 'I16': return Int32Array.from(new Int16Array(buf));
    case 'I64': {
      const wide = new BigInt64Array(buf);
      const out = new Int32Array(wide.length);
      for (let i = 0; i < wide.length; i++) {
        const v = wide[i]!;
        if (v > 2147483647n || v < -2147483648n) throw new FormatError(`${where}: I64 value ${v} at index ${i} does not fit in int32`);
        out[i] = Number(v);
      }
      return out;
    }
    // the bit patterns, which is what float16 and bfloat16 storage holds
    case 'F16':
    case 'BF16':
      return new Uint16Array(buf);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
// Typed arrays use the platform's byte order; on the (rare) big-endian host, safetensors'
// little-endian data needs its bytes swapped. `raw` is ours to modify.
function littleEndian(raw: Uint8Array, itemBytes = 0): Uint8Array {
  if (LITTLE_ENDIAN || itemBytes < 2) return raw;
  for (let i = 0; i < raw.length; i += itemBytes) raw.subarray(i, i + itemBytes).reverse();
  return raw;
}

/** Options of {@link save} and {@link serializeSafetensors}. */
export interface SaveOptions {
  /** String key/value pairs stored as the header's __metadata__. */
  metadata?: Record<string, string>;
}

/**
 * The bytes of a safetensors file holding `tensors` (F32, F64, F16, BF16, I32, BOOL), readable by
 * PyTorch's and Hugging Face's safetensors. Async because tensors on a GPU are read with
 * `await t.data()`. Tensors are laid out widest dtype first, then by name, so every tensor's
 * data starts aligned to its element size.
 */
export async function serializeSafetensors(tensors: Record<string, Tensor>, options: SaveOptions = {}): Promise<Uint8Array> {
  const entries = Object.entries(tensors);
  for (const [key, t] of entries) {
    if (key === METADATA) throw new TapegradError(`serializeSafetensors: '${METADATA}' is reserved for metadata and cannot name a tensor`);
    if (typeof t !== 'object' || t === null || !(t as { __isTensor?: boolean }).__isTensor) {
      throw new TapegradError(`serializeSafetensors: '${key}' is not a tensor; got ${t === null ? 'null' : typeof t}`);
    }
    t.assertLive(`serializeSafetensors('${key}')`);
  }
  if (options.metadata) checkMetadata(options.metadata, (msg) => new TapegradError(`serializeSafetensors: ${msg}`));
  entries.sort(([ka, a], [kb, b]) => bytesOf(b.dtype) - bytesOf(a.dtype) || (ka < kb ? -1 : ka > kb ? 1 : 0));

  // float16 and bfloat16 as their bit patterns, so a NaN's payload is written as it was read
  const datas = await Promise.all(entries.map(([, t]) => t.rawData()));
  const header: Record<string, unknown> = {};
  if (options.metadata) header[METADATA] = options.metadata;
  let offset = 0;
  entries.forEach(([key, t], i) => {
    const size = datas[i]!.byteLength;
    Object.defineProperty(header, key, {
      value: { dtype: WRITE_DTYPE[t.dtype], shape: t.shape, data_offsets: [offset, offset + size] },
      enumerable: true,
    });
    offset += size;
  });
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  datas.forEach((d, i) => {
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    out.set(bytes, at);
    littleEndian(out.subarray(at, at + bytes.length), bytesOf(entries[i]![1].dtype));
    at += bytes.length;
  });
  return out;
}
function bytesOf(dtype: DType): number {
  return allocArray(dtype, 0).BYTES_PER_ELEMENT;
}

/**
 * Write `tensors` (a state dict) to a safetensors file, atomically: the bytes go to a temporary
 * file beside the target (`<name>.tmp-<pid>-<random>`), are flushed to disk, and then replace the
 * target by a rename, so a crash or a full disk leaves either the previous file or the complete
 * new one, never a torn file. On failure the temporary file is removed and the error names the
 * path. A process killed mid-save may leave its temporary file behind (safe to delete). A
 * symbolic link is followed: the file it points to is replaced. Node only.
 */
export async function save(tensors: Record<string, Tensor>, path: string, options: SaveOptions = {}): Promise<void> {
  const bytes = await serializeSafetensors(tensors, options);
  await files('save', 'elsewhere, serializeSafetensors(tensors) gives the bytes to download or store').writeFileAtomic(path, bytes, 'save');
}

/** Read the tensors of a safetensors file (see parseSafetensors). Node only. */
export async function load(path: string, options: LoadOptions = {}): Promise<Record<string, Tensor>> {
  const fs = files('load', 'elsewhere, fetch the bytes and read them with parseSafetensors');
  return parseSafetensors(await fs.readFile(path), { ...options, name: path });
}
