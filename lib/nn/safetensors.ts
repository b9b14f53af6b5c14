/**
 * The safetensors format (huggingface/safetensors), read and written without dependencies:
 *
 *   [8 bytes]  N, the header length, unsigned 64-bit little-endian
 *   [N bytes]  a UTF-8 JSON object: { "<name>": { "dtype": "F32", "shape": [2, 3],
 *              "data_offsets": [begin, end] }, ..., "__metadata__": { "<key>": "<string>" } },
 *              padded with spaces so 8 + N is a multiple of 8
 *   [rest]     the tensors' raw little-endian bytes, row-major; data_offsets count from the
 *              start of this buffer and must tile it exactly (contiguous, no gaps, no overlaps)
 *
 * Written as the reference library writes it (tensors ordered by element size, then name, so
 * every tensor is aligned to its element size; the header padded to 8 bytes), so Python's
 * `safetensors.safe_open` / `load_file` accept the files. Dtypes here: F32, I32, BF16 (raw bits
 * in a Uint16Array). Files are written atomically (lib/util/atomic-write.ts). Reading checks
 * every field before using it; a malformed or truncated file is a RangeError naming the path.
 */
import { open } from 'node:fs/promises';
import os from 'node:os';

import { atomicWriteFile } from '../util/atomic-write.js';
import { describe, optionNames, plainObject, rangeError, typeError } from '../validate.js';

export type SafetensorsDType = 'F32' | 'I32' | 'BF16';
export type SafetensorsData = Float32Array | Int32Array | Uint16Array;

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: SafetensorsData;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const ELEMENT_SIZE: Record<SafetensorsDType, number> = { F32: 4, I32: 4, BF16: 2 };
/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER = 100_000_000;

function dtypeOf(data: unknown): SafetensorsDType | undefined {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Uint16Array) return 'BF16';
  return undefined;
}

function requireLittleEndian(): void {
  if (os.endianness() !== 'LE') throw new Error('safetensors: only little-endian hosts are supported');
}

/** The keys of a tensor entry passed to encodeSafetensors / writeSafetensors. */
const TENSOR_ENTRY_KEYS = optionNames('data', 'shape', 'dtype');

function checkTensorArg(name: string, t: unknown): SafetensorsTensor {
  const label = `tensors['${name}']`;
  const o = plainObject(t, label, TENSOR_ENTRY_KEYS);
  const dtype = dtypeOf(o.data);
  if (!dtype) throw typeError('a Float32Array, Int32Array or Uint16Array (bf16 bits)', `${label}.data`, o.data);
  if (o.dtype !== undefined && o.dtype !== dtype) {
    throw typeError(`dtype '${dtype}' (the type of ${label}.data)`, `${label}.dtype`, o.dtype);
  }
  const shape = o.shape === undefined ? [(o.data as SafetensorsData).length] : o.shape;
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
    throw typeError('an array of non-negative integers', `${label}.shape`, shape);
  }
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (n !== (o.data as SafetensorsData).length) {
    throw rangeError(`${n} elements (the product of ${label}.shape)`, `${label}.data`, o.data);
  }
  return { dtype, shape: (shape as number[]).slice(), data: o.data as SafetensorsData };
}

/**
 * The file's bytes as chunks (header, then each tensor's bytes, no copies of the data).
 * `tensors` maps names to { data, shape? (default [data.length]), dtype? (checked) }.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, Partial<SafetensorsTensor> & { data: SafetensorsData }> | Record<string, Partial<SafetensorsTensor> & { data: SafetensorsData }>,
  metadata?: Record<string, string>,
): Uint8Array[] {
  requireLittleEndian();
  if (tensors === null || typeof tensors !== 'object') throw typeError('a Map or an object of tensors', 'tensors', tensors);
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const list = entries.map(([name, t]) => {
    if (name === '__metadata__' || name.length === 0) throw rangeError("a tensor name other than '' and '__metadata__'", 'tensors', name);
    return { name, t: checkTensorArg(name, t) };
  });
  const meta = plainObject(metadata, 'metadata');
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== 'string') throw typeError('a string', `metadata['${k}']`, v);
  }
  // As the reference writer: larger elements first (keeps every tensor aligned), then by name.
  list.sort((a, b) => ELEMENT_SIZE[b.t.dtype] - ELEMENT_SIZE[a.t.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // No prototype: a tensor named '__proto__' must be an entry like any other.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (Object.keys(meta).length > 0) header.__metadata__ = Object.assign(Object.create(null) as Record<string, string>, meta);
  let offset = 0;
  for (const { name, t } of list) {
    const end = offset + t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return [prefix, json, ...list.map(({ t }) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}

/** Writes a safetensors file atomically (a crash never leaves a partial file at `path`). */
export async function writeSafetensors(
  path: string,
  tensors: Parameters<typeof encodeSafetensors>[0],
  metadata?: Record<string, string>,
): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw typeError('a file path', 'path', path);
  await atomicWriteFile(path, encodeSafetensors(tensors, metadata));
}

type Bad = (problem: string) => RangeError;

const badFile = (source: string): Bad => (problem) => new RangeError(`Expected a valid safetensors file for path but received ${source} (${problem})`);

/** The header length N from a file's first bytes (`size` bytes in all), checked against MAX_HEADER and the size. */
function headerLength(start: Uint8Array, size: number, bad: Bad): number {
  if (start.byteLength < 8) throw bad(`${size} bytes: too short for the 8-byte header length`);
  const n64 = new DataView(start.buffer, start.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) throw bad(`a header length of ${n64} bytes, above the ${MAX_HEADER}-byte limit`);
  const n = Number(n64);
  if (8 + n > size) throw bad(`a header of ${n} bytes in a file of ${size} bytes: truncated`);
  return n;
}

/** The header's JSON object. */
function parseHeader(json: Uint8Array, bad: Bad): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (err) {
    throw bad(`a header that is not UTF-8 JSON: ${(err as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('a header that is not a JSON object');
  return header as Record<string, unknown>;
}

/** The header's __metadata__ (every value a string), empty where there is none. */
function metadataOf(header: Record<string, unknown>, bad: Bad): Record<string, string> {
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>; // keeps a '__proto__' key
  const value = header.__metadata__;
  if (value === undefined) return metadata;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('__metadata__ that is not an object');
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') throw bad(`__metadata__['${k}'] that is ${describe(v)}, not a string`);
    metadata[k] = v;
  }
  return metadata;
}

/**
 * Parses a whole safetensors file held in memory. `source` names it in errors (the path).
 * Tensor data is copied out, so the result does not keep `bytes` alive.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'the buffer'): SafetensorsFile {
  requireLittleEndian();
  const bad = badFile(source);
  const n = headerLength(bytes, bytes.byteLength, bad);
  const header = parseHeader(bytes.subarray(8, 8 + n), bad);
  const dataStart = 8 + n;
  const dataLength = bytes.byteLength - dataStart;
  const metadata = metadataOf(header, bad);
  const infos: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (info === null || typeof info !== 'object') throw bad(`an entry '${name}' that is not an object`);
    if (info.dtype !== 'F32' && info.dtype !== 'I32' && info.dtype !== 'BF16') {
      throw bad(`tensor '${name}' of dtype ${JSON.stringify(info.dtype)} (supported: F32, I32, BF16)`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
      throw bad(`tensor '${name}' with shape ${JSON.stringify(shape)}`);
    }
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0)) {
      throw bad(`tensor '${name}' with data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const size = count * ELEMENT_SIZE[info.dtype];
    if (!Number.isSafeInteger(size) || end < begin || end - begin !== size) {
      throw bad(`tensor '${name}' (${info.dtype} ${JSON.stringify(shape)}, ${size} bytes) with data_offsets [${begin}, ${end}]`);
    }
    infos.push({ name, dtype: info.dtype, shape: shape as number[], begin, end });
  }
  // The tensors must tile the data buffer exactly, as the reference reader demands.
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const t of infos) {
    if (t.begin !== at) throw bad(`tensor '${t.name}' at byte ${t.begin} of the data where ${at} was expected (a gap or an overlap)`);
    at = t.end;
  }
  if (at !== dataLength) {
    throw bad(at > dataLength ? `tensors reaching byte ${at} of ${dataLength} bytes of data: truncated` : `${dataLength - at} bytes after the last tensor`);
  }
  const tensors = new Map<string, SafetensorsTensor>();
  for (const t of infos) {
    // A copy into fresh, aligned memory (the file's offsets need not be aligned).
    const raw = new Uint8Array(t.end - t.begin);
    raw.set(bytes.subarray(dataStart + t.begin, dataStart + t.end));
    const data = t.dtype === 'F32' ? new Float32Array(raw.buffer) : t.dtype === 'I32' ? new Int32Array(raw.buffer) : new Uint16Array(raw.buffer);
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape.slice(), data });
  }
  return { tensors, metadata };
}

/**
 * The header of a safetensors file without its tensor data (for bookkeeping kept in __metadata__
 * of a file too large to read whole): the metadata and the header's entries, checked as
 * readSafetensors checks them (the MAX_HEADER limit, UTF-8 JSON, string metadata); the tensor
 * entries are returned as they are.
 */
export async function readSafetensorsHeader(path: string): Promise<{ metadata: Record<string, string>; header: Record<string, unknown> }> {
  if (typeof path !== 'string' || path.length === 0) throw typeError('a file path', 'path', path);
  requireLittleEndian();
  const bad = badFile(`'${path}'`);
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const prefix = new Uint8Array(Math.min(size, 8));
    await file.read(prefix, 0, prefix.byteLength, 0);
    const n = headerLength(prefix, size, bad);
    const json = new Uint8Array(n);
    if ((await file.read(json, 0, n, 8)).bytesRead < n) throw bad(`a header of ${n} bytes that ends early (was the file changed while being read?)`);
    const header = parseHeader(json, bad);
    return { metadata: metadataOf(header, bad), header };
  } finally {
    await file.close();
  }
}

/** Reads a safetensors file (in ≤ 1 GiB pieces: fs.readFile refuses files of 2 GiB and more). */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  if (typeof path !== 'string' || path.length === 0) throw typeError('a file path', 'path', path);
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const bytes = new Uint8Array(size);
    for (let at = 0; at < size;) {
      const { bytesRead } = await file.read(bytes, at, Math.min(size - at, 1 << 30), at);
      if (bytesRead === 0) throw new RangeError(`Expected ${size} bytes in '${path}' but it ended at ${at} (was it changed while being read?)`);
      at += bytesRead;
    }
    return decodeSafetensors(bytes, `'${path}'`);
  } finally {
    await file.close();
  }
}
