/**
 * Reading and writing safetensors files: an 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {…}}`, then the
 * raw little-endian tensor bytes. Every problem is reported as a SafetensorsError that names
 * the file. Each tensor is read into its own aligned buffer; compact dtypes stay compact.
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export type TensorArray = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface TensorInfo {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Byte range inside the data section (after the header). */
  readonly begin: number;
  readonly end: number;
}

export interface StoredTensor {
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** F16/BF16 come as raw bit patterns in a Uint16Array. */
  readonly data: TensorArray;
}

export class SafetensorsError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

const BYTES_PER_ELEMENT: Record<SafetensorsDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Larger headers than this are certainly not a safetensors file (the format caps it at 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

export interface SafetensorsHeader {
  readonly file: string;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  /** File offset where the data section starts. */
  readonly dataStart: number;
}

export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new SafetensorsError(file, `cannot open (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  try {
    return parseHeader(file, fd);
  } finally {
    closeSync(fd);
  }
}

function parseHeader(file: string, fd: number): SafetensorsHeader {
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) throw new SafetensorsError(file, `file is ${fileSize} bytes, too short for a safetensors header`);
  const lengthBytes = Buffer.alloc(8);
  readSync(fd, lengthBytes, 0, 8, 0);
  const headerLength = Number(lengthBytes.readBigUInt64LE(0));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > fileSize) {
    throw new SafetensorsError(file, `header length ${headerLength} does not fit in a file of ${fileSize} bytes (not a safetensors file, or truncated)`);
  }
  const headerBytes = Buffer.alloc(headerLength);
  readSync(fd, headerBytes, 0, headerLength, 8);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(headerBytes.toString('utf8'));
  } catch (error) {
    throw new SafetensorsError(file, `header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError(file, 'header is not a JSON object');
  }
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (entry ?? {}) as Record<string, string>;
      continue;
    }
    const info = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info?.dtype as SafetensorsDType;
    if (!(dtype in BYTES_PER_ELEMENT)) throw new SafetensorsError(file, `tensor "${name}" has unsupported dtype ${JSON.stringify(info?.dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(file, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
      throw new SafetensorsError(file, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const expectedBytes = elementCount(shape) * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== expectedBytes) {
      throw new SafetensorsError(file, `tensor "${name}" (${dtype} ${JSON.stringify(shape)}) should span ${expectedBytes} bytes, data_offsets give ${end - begin}`);
    }
    if (end > dataSize) {
      throw new SafetensorsError(file, `tensor "${name}" ends at byte ${end} of the data section but the file holds only ${dataSize} bytes of data (truncated file?)`);
    }
    tensors.set(name, { dtype, shape, begin, end });
  }
  return { file, tensors, metadata, dataStart };
}

function allocate(dtype: SafetensorsDType, count: number): TensorArray {
  switch (dtype) {
    case 'F64': return new Float64Array(count);
    case 'F32': return new Float32Array(count);
    case 'F16': case 'BF16': case 'I16': return dtype === 'I16' ? new Int16Array(count) : new Uint16Array(count);
    case 'I64': return new BigInt64Array(count);
    case 'I32': return new Int32Array(count);
    case 'I8': return new Int8Array(count);
    case 'U8': case 'BOOL': return new Uint8Array(count);
  }
}

/** Reads chunk by chunk: one readSync call is capped at 2 GiB. */
const READ_CHUNK_BYTES = 1 << 30;

/** Reads the named tensors (all when `names` is omitted) from one file. */
export function readSafetensors(file: string, names?: Iterable<string>): Map<string, StoredTensor> {
  const header = readSafetensorsHeader(file);
  const wanted = names ? [...names] : [...header.tensors.keys()];
  const result = new Map<string, StoredTensor>();
  const fd = openSync(file, 'r');
  try {
    for (const name of wanted) {
      const info = header.tensors.get(name);
      if (!info) throw new SafetensorsError(file, `has no tensor "${name}"`);
      result.set(name, readTensorFrom(file, fd, header.dataStart, info));
    }
  } finally {
    closeSync(fd);
  }
  return result;
}

function readTensorFrom(file: string, fd: number, dataStart: number, info: TensorInfo, target?: TensorArray): StoredTensor {
  const data = target ?? allocate(info.dtype, elementCount(info.shape));
  if (data.byteLength !== info.end - info.begin) throw new SafetensorsError(file, `target of ${data.byteLength} bytes for a tensor of ${info.end - info.begin} bytes`);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let done = 0;
  while (done < bytes.length) {
    const length = Math.min(READ_CHUNK_BYTES, bytes.length - done);
    const got = readSync(fd, bytes, done, length, dataStart + info.begin + done);
    if (got <= 0) throw new SafetensorsError(file, `unexpected end of file while reading tensor data (truncated file?)`);
    done += got;
  }
  return { dtype: info.dtype, shape: info.shape, data };
}

/** A handle for reading tensors one at a time from a file whose header was already parsed. */
export class SafetensorsFile {
  private fd: number | null;
  constructor(readonly header: SafetensorsHeader) {
    this.fd = openSync(header.file, 'r');
  }
  get file(): string { return this.header.file; }
  has(name: string): boolean { return this.header.tensors.has(name); }
  read(name: string): StoredTensor {
    const info = this.header.tensors.get(name);
    if (!info) throw new SafetensorsError(this.header.file, `has no tensor "${name}"`);
    if (this.fd === null) throw new SafetensorsError(this.header.file, 'is already closed');
    return readTensorFrom(this.header.file, this.fd, this.header.dataStart, info);
  }
  /** Reads a tensor's raw bytes into `target` (a view of the same byte length), e.g. a slice of a bigger buffer. */
  readInto(name: string, target: TensorArray): StoredTensor {
    const info = this.header.tensors.get(name);
    if (!info) throw new SafetensorsError(this.header.file, `has no tensor "${name}"`);
    if (this.fd === null) throw new SafetensorsError(this.header.file, 'is already closed');
    return readTensorFrom(this.header.file, this.fd, this.header.dataStart, info, target);
  }
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function dtypeOf(data: TensorArray): SafetensorsDType {
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Uint8Array) return 'U8';
  throw new TypeError('a Uint16Array needs an explicit dtype (F16 or BF16)');
}

export interface TensorToWrite {
  readonly shape: readonly number[];
  readonly data: TensorArray;
  /** Needed for Uint16Array data (F16 or BF16); inferred otherwise. */
  readonly dtype?: SafetensorsDType;
}

/**
 * Writes tensors atomically: to `<file>.<pid>.tmp` first, then renamed over `file`.
 * Keys are sorted and the header is padded with spaces to a multiple of 8 bytes.
 */
export function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const tensor = tensors[name];
    const dtype = tensor.dtype ?? dtypeOf(tensor.data);
    if (elementCount(tensor.shape) !== tensor.data.length) {
      throw new SafetensorsError(file, `tensor "${name}": shape ${JSON.stringify(tensor.shape)} does not match ${tensor.data.length} values`);
    }
    const bytes = tensor.data.length * BYTES_PER_ELEMENT[dtype];
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));
  const temp = `${file}.${process.pid}.tmp`;
  let fd: number;
  try {
    fd = openSync(temp, 'w');
  } catch (error) {
    throw new SafetensorsError(file, `cannot write (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}: is the folder there and writable?)`);
  }
  try {
    writeSync(fd, lengthBytes);
    writeSync(fd, headerBytes);
    for (const name of names) {
      const data = tensors[name].data;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, Math.min(READ_CHUNK_BYTES, bytes.length - done));
    }
    closeSync(fd);
  } catch (error) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(temp, { force: true });
    throw new SafetensorsError(file, `cannot write (${(error as Error).message})`);
  }
  renameSync(temp, file);
}
