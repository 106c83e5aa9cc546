// The native kernels against the TypeScript reference, and the 16-bit float conversions.
// Native tests are skipped, with the reason shown, when the addon is not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import type { Kernels, Matrix, WeightDType } from '../../src/engine/kernels.ts';
import { jsKernels } from '../../src/engine/jsKernels.ts';
import { activationBackward, activationForward } from '../../src/models/layers/activations.ts';
import { col2imAdd, im2col, im2colSize, type Conv2dShape } from '../../src/models/layers/conv2d.ts';
import { groupNormBackward, groupNormForward } from '../../src/models/layers/groupNorm.ts';
import { cpuInfo, loadNativeAddon, loadNativeKernels, openBlasCoreTypeFor, type NativeAddon } from '../../src/engine/nativeKernels.ts';
import { bf16ToFloat32, f16ToFloat32, float32ToBf16, float32ToF16 } from '../../src/engine/dtypes.ts';

// ---- helpers -----------------------------------------------------------------------------

/** Deterministic values in [-1, 1). */
function randomArray(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

function randomMatrix(dtype: WeightDType, rows: number, cols: number, seed: number): Matrix {
  const values = randomArray(rows * cols, seed);
  if (dtype === 'f32') return { dtype, rows, cols, data: values };
  const encode = dtype === 'bf16' ? float32ToBf16 : float32ToF16;
  return { dtype, rows, cols, data: Uint16Array.from(values, encode) };
}

const absolute = (array: Float32Array) => array.map(Math.abs);

/**
 * Asserts |actual - expected| ≤ 1e-5·bound + 1e-7 elementwise, where bound is the same
 * product computed on absolute values (the size of the rounding error a float32 sum can make).
 */
function assertClose(actual: Float32Array, expected: Float32Array, bound: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= 1e-5 * bound[i] + 1e-7)) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (error ${error}, bound ${bound[i]})`);
    }
  }
}

const loadedNative = loadNativeKernels();
const native: Kernels | undefined = loadedNative instanceof Error ? undefined : loadedNative;
const addonOrError = loadNativeAddon();
const addon: NativeAddon | undefined = addonOrError instanceof Error ? undefined : addonOrError;
const loadedThreads = native?.getThreads() ?? 1;
const skipNative = loadedNative instanceof Error ? `native addon unavailable: ${loadedNative.message}; run \`npm run build:native\`` : false;

/** Runs body with a given instruction set of the addon's own kernels, restoring the default. */
function withIsa(isa: string, body: () => void): boolean {
  const defaultIsa = addon!.info().isa;
  try {
    addon!.tune('isa', isa);
  } catch {
    return false; // this CPU cannot run it
  }
  try {
    body();
  } finally {
    addon!.tune('isa', defaultIsa);
  }
  return true;
}

function withTileRows(rows: number, body: () => void): void {
  const before = addon!.info().tileRows;
  addon!.tune('tileRows', rows);
  try {
    body();
  } finally {
    addon!.tune('tileRows', before);
  }
}

const isas = ['avx512', 'avx2', 'generic'];

// ---- dtypes ------------------------------------------------------------------------------

test('float32ToBf16 rounds to nearest even and keeps inf, NaN, subnormals', () => {
  const bits = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
  assert.equal(float32ToBf16(1), 0x3f80);
  assert.equal(float32ToBf16(-2), 0xc000);
  assert.equal(float32ToBf16(bits(0x3f808000)), 0x3f80, 'tie rounds down to even');
  assert.equal(float32ToBf16(bits(0x3f818000)), 0x3f82, 'tie rounds up to even');
  assert.equal(float32ToBf16(bits(0x3f808001)), 0x3f81, 'above the tie rounds up');
  assert.equal(float32ToBf16(bits(0x3f807fff)), 0x3f80, 'below the tie rounds down');
  assert.equal(float32ToBf16(bits(0xbf818000)), 0xbf82, 'negative tie');
  assert.equal(float32ToBf16(Infinity), 0x7f80);
  assert.equal(float32ToBf16(-Infinity), 0xff80);
  assert.equal(float32ToBf16(bits(0x7f7fffff)), 0x7f80, 'float32 max rounds to inf');
  assert.equal(float32ToBf16(-0), 0x8000);
  assert.equal(float32ToBf16(bits(0x00018000)), 0x0002, 'subnormal tie rounds to even');
  assert.equal(float32ToBf16(bits(0x00008000)), 0x0000, 'smallest subnormal tie rounds to zero');
  for (const nan of [NaN, bits(0x7f800001), bits(0xff800001), bits(0x7fc00000)]) {
    assert.ok(Number.isNaN(bf16ToFloat32(float32ToBf16(nan))), 'NaN stays NaN, even with a low payload');
  }
  assert.equal(bf16ToFloat32(0x0001), 2 ** -133, 'bf16 subnormal');
  assert.equal(bf16ToFloat32(0xff80), -Infinity);
});

test('bf16 and f16: every finite bit pattern survives a float32 round trip', () => {
  for (let pattern = 0; pattern < 0x10000; pattern++) {
    const bf16 = bf16ToFloat32(pattern);
    if (Number.isNaN(bf16)) assert.ok((pattern & 0x7f80) === 0x7f80 && (pattern & 0x7f) !== 0);
    else assert.equal(float32ToBf16(bf16), pattern, `bf16 0x${pattern.toString(16)}`);
    const f16 = f16ToFloat32(pattern);
    if (Number.isNaN(f16)) assert.ok((pattern & 0x7c00) === 0x7c00 && (pattern & 0x3ff) !== 0);
    else assert.equal(float32ToF16(f16), pattern, `f16 0x${pattern.toString(16)}`);
  }
});

test('float32ToF16 rounds to nearest even, including subnormals, overflow, inf and NaN', () => {
  assert.equal(float32ToF16(1), 0x3c00);
  assert.equal(float32ToF16(-0), 0x8000);
  assert.equal(float32ToF16(65504), 0x7bff, 'largest half');
  assert.equal(float32ToF16(65519), 0x7bff, 'below the tie to inf');
  assert.equal(float32ToF16(65520), 0x7c00, 'tie rounds up to inf (odd mantissa)');
  assert.equal(float32ToF16(1e6), 0x7c00);
  assert.equal(float32ToF16(-Infinity), 0xfc00);
  assert.ok(Number.isNaN(f16ToFloat32(float32ToF16(NaN))));
  assert.equal(float32ToF16(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(float32ToF16(2 ** -25), 0x0000, 'half the smallest subnormal: tie to even zero');
  assert.equal(float32ToF16(1.5 * 2 ** -25), 0x0001);
  assert.equal(float32ToF16(3 * 2 ** -25), 0x0002, 'subnormal tie to even');
  assert.equal(float32ToF16(5 * 2 ** -25), 0x0002, 'subnormal tie to even, down');
  assert.equal(float32ToF16(1023 * 2 ** -24), 0x03ff, 'largest subnormal');
  assert.equal(float32ToF16(1023.5 * 2 ** -24), 0x0400, 'rounds up into the normals');
  assert.equal(float32ToF16(2 ** -14), 0x0400, 'smallest normal');
  assert.equal(float32ToF16(1 + 2 ** -11), 0x3c00, 'normal tie to even, down');
  assert.equal(float32ToF16(1 + 3 * 2 ** -11), 0x3c02, 'normal tie to even, up');
  assert.equal(float32ToF16(2 ** -30), 0x0000, 'underflow');
  assert.equal(f16ToFloat32(0x0001), 2 ** -24);
  assert.equal(f16ToFloat32(0x8001), -(2 ** -24));
  assert.equal(f16ToFloat32(0x7c00), Infinity);
});

// ---- native: conversions -------------------------------------------------------------------

test('native toFloat32 widens every f16 and bf16 pattern exactly, with each instruction set', { skip: skipNative }, () => {
  const patterns = new Uint16Array(0x10000 + 3).map((_, i) => i & 0xffff);
  for (const isa of isas) {
    const ran = withIsa(isa, () => {
      for (const dtype of ['f16', 'bf16'] as const) {
        const widen = dtype === 'f16' ? f16ToFloat32 : bf16ToFloat32;
        // an odd offset and length exercise the unaligned starts and the tails
        const source = patterns.subarray(3);
        const actual = new Float32Array(source.length - 2);
        native!.toFloat32(source, dtype, actual);
        for (let i = 0; i < actual.length; i++) {
          const expected = widen(source[i]);
          if (Number.isNaN(expected)) assert.ok(Number.isNaN(actual[i]), `${isa} ${dtype} 0x${source[i].toString(16)}`);
          else assert.ok(Object.is(actual[i], expected), `${isa} ${dtype} 0x${source[i].toString(16)}: ${actual[i]} ≠ ${expected}`);
        }
      }
    });
    if (!ran) continue;
  }
  const f32 = randomArray(37, 1);
  const copy = new Float32Array(30);
  native!.toFloat32(f32, 'f32', copy);
  assert.deepEqual(copy, f32.subarray(0, 30));
});

// ---- native: gemm ----------------------------------------------------------------------------

interface GemmCase {
  transA: boolean; transB: boolean; m: number; n: number; k: number;
  alpha: number; beta: number; pad: number; // extra elements per row of every leading dimension
}

/** Runs one gemm natively and in the reference on views into larger buffers (offset 5). */
function checkGemm(kernels: Kernels, c: GemmCase, seed: number): void {
  const { transA, transB, m, n, k, alpha, beta, pad } = c;
  const [aRows, aCols] = transA ? [k, m] : [m, k];
  const [bRows, bCols] = transB ? [n, k] : [k, n];
  const lda = Math.max(1, aCols + pad), ldb = Math.max(1, bCols + pad), ldc = Math.max(1, n + pad);
  const offset = 5;
  const a = randomArray(offset + aRows * lda, seed).subarray(offset);
  const b = randomArray(offset + bRows * ldb, seed + 1).subarray(offset);
  const cStart = randomArray(offset + m * ldc, seed + 2);
  if (beta === 0) cStart.fill(NaN); // beta = 0 must overwrite, NaN included
  const actualBuffer = cStart.slice();
  const expectedBuffer = cStart.slice();
  if (beta === 0) expectedBuffer.fill(0);
  const actual = actualBuffer.subarray(offset);
  const expected = expectedBuffer.subarray(offset);
  kernels.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, actual, ldc);
  jsKernels.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
  const bound = new Float32Array(expected.length);
  const oldC = absolute(expectedBuffer.subarray(offset).map((_, i) => (beta === 0 ? 0 : cStart[offset + i])));
  jsKernels.gemm(transA, transB, m, n, k, Math.abs(alpha), absolute(a), lda, absolute(b), ldb, Math.abs(beta), oldC, ldc);
  bound.set(oldC);
  const what = `gemm(${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}, m=${m} n=${n} k=${k}, alpha=${alpha} beta=${beta}, pad=${pad})`;
  // elements between rows (the padding of C) must be untouched: compare the whole view
  for (let i = 0; i < m; i++) {
    for (let j = n; j < ldc && i * ldc + j < actual.length; j++) {
      assert.ok(Object.is(actual[i * ldc + j], cStart[offset + i * ldc + j]), `${what}: padding of C at row ${i} changed`);
    }
  }
  const rowsOf = (x: Float32Array) => Float32Array.from({ length: m * n }, (_, q) => x[Math.floor(q / n) * ldc + (q % n)]);
  assertClose(rowsOf(actual), rowsOf(expected), rowsOf(bound), what);
}

test('native gemm matches the reference: shapes, transposes, leading dims, alpha/beta', { skip: skipNative }, () => {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1], [1, 7, 5], [5, 1, 7], [3, 5, 1], [2, 2, 2], [7, 13, 17], [17, 33, 65],
    [64, 96, 130], [1, 300, 257], [129, 3, 31], [31, 129, 1], [40, 1, 300],
  ];
  let seed = 10;
  for (const [m, n, k] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const pad of [0, 3]) {
          for (const [alpha, beta] of [[1, 0], [0.5, 1], [-1.5, -0.5]]) {
            checkGemm(native!, { transA, transB, m, n, k, alpha, beta, pad }, seed++);
          }
        }
      }
    }
  }
});

test('native gemm edge cases: k = 0, alpha = 0, empty outputs', { skip: skipNative }, () => {
  const a = randomArray(12, 1), b = randomArray(12, 2);
  const c = new Float32Array(12).fill(NaN);
  native!.gemm(false, false, 3, 4, 0, 1, a, 1, b, 4, 0, c, 4);
  assert.deepEqual(c, new Float32Array(12), 'k = 0, beta = 0 clears NaN');
  c.fill(2);
  native!.gemm(false, false, 3, 4, 0, 1, a, 1, b, 4, 0.5, c, 4);
  assert.deepEqual(c, new Float32Array(12).fill(1), 'k = 0 scales by beta');
  c.fill(NaN);
  native!.gemm(false, false, 3, 4, 3, 0, a, 3, b, 4, 0, c, 4);
  assert.deepEqual(c, new Float32Array(12), 'alpha = 0, beta = 0 clears NaN');
  const untouched = new Float32Array(3).fill(7);
  native!.gemm(false, false, 0, 3, 4, 1, new Float32Array(0), 4, b, 3, 0, untouched, 3);
  native!.gemm(false, false, 1, 0, 4, 1, a, 4, new Float32Array(0), 1, 0, untouched, 1);
  assert.deepEqual(untouched, new Float32Array(3).fill(7), 'm or n = 0 writes nothing');
});

test('native gemm reads one head of an interleaved [T, H·D] buffer and writes into another', { skip: skipNative }, () => {
  // attention-style: scores[T×T] = Q_h·K_hᵀ, then out_h = P·V_h written into the head's columns
  const T = 9, H = 3, D = 8, width = H * D;
  const q = randomArray(T * width, 3), kv = randomArray(T * width, 4);
  for (let h = 0; h < H; h++) {
    const scores = new Float32Array(T * T), expected = new Float32Array(T * T);
    native!.gemm(false, true, T, T, D, 0.25, q.subarray(h * D), width, kv.subarray(h * D), width, 0, scores, T);
    jsKernels.gemm(false, true, T, T, D, 0.25, q.subarray(h * D), width, kv.subarray(h * D), width, 0, expected, T);
    assertClose(scores, expected, new Float32Array(T * T).fill(D), `head ${h} scores`);
  }
  // writing head 1 of a buffer while reading head 0 of the same buffer: legal, no overlap
  const shared = randomArray(T * width, 5);
  const expectedShared = shared.slice();
  const p = randomArray(T * T, 6);
  native!.gemm(false, false, T, D, T, 1, p, T, shared, width, 0, shared.subarray(D), width);
  jsKernels.gemm(false, false, T, D, T, 1, p, T, expectedShared, width, 0, expectedShared.subarray(D), width);
  assertClose(shared, expectedShared, new Float32Array(T * width).fill(T), 'head 1 from head 0 of one buffer');
});

// ---- native: linear layers ---------------------------------------------------------------------

interface LinearCase { dtype: WeightDType; m: number; n: number; k: number; accumulate: boolean; pad: number }

function checkLinear(kernels: Kernels, c: LinearCase, seed: number, label: string): void {
  const { dtype, m, n, k, accumulate, pad } = c;
  const w = randomMatrix(dtype, n, k, seed);
  const wAbs: Matrix = { dtype: 'f32', rows: n, cols: k, data: absolute(toF32(w)) };
  const ldx = k + pad, ldout = n + pad;
  const x = randomArray(m * ldx, seed + 1);
  const start = randomArray(m * ldout, seed + 2);
  if (!accumulate) start.fill(NaN);
  const actual = start.slice(), expected = accumulate ? start.slice() : new Float32Array(m * ldout);
  kernels.linear(x, m, w, actual, accumulate, ldx, ldout);
  jsKernels.linear(x, m, w, expected, accumulate, ldx, ldout);
  const bound = accumulate ? absolute(start) : new Float32Array(m * ldout);
  jsKernels.linear(absolute(x), m, wAbs, bound, true, ldx, ldout);
  const pick = (a: Float32Array) => Float32Array.from({ length: m * n }, (_, q) => a[Math.floor(q / n) * ldout + (q % n)]);
  assertClose(pick(actual), pick(expected), pick(bound), `${label} linear ${dtype} m=${m} n=${n} k=${k} acc=${accumulate} pad=${pad}`);
  for (let i = 0; i < m; i++) {
    for (let j = n; j < ldout; j++) {
      if (i * ldout + j < actual.length) assert.ok(Object.is(actual[i * ldout + j], start[i * ldout + j]), 'padding of out changed');
    }
  }

  const dy = randomArray(m * n, seed + 3);
  const dxStart = randomArray(m * k, seed + 4);
  if (!accumulate) dxStart.fill(NaN);
  const dxActual = dxStart.slice(), dxExpected = accumulate ? dxStart.slice() : new Float32Array(m * k);
  kernels.linearBackwardInput(dy, m, w, dxActual, accumulate);
  jsKernels.linearBackwardInput(dy, m, w, dxExpected, accumulate);
  const dxBound = accumulate ? absolute(dxStart) : new Float32Array(m * k);
  jsKernels.linearBackwardInput(absolute(dy), m, wAbs, dxBound, true);
  assertClose(dxActual, dxExpected, dxBound, `${label} linearBackwardInput ${dtype} m=${m} n=${n} k=${k} acc=${accumulate}`);
}

function toF32(w: Matrix): Float32Array {
  const out = new Float32Array(w.rows * w.cols);
  jsKernels.toFloat32(w.data, w.dtype, out);
  return out;
}

test('native linear and linearBackwardInput match the reference for f32, f16, bf16 weights', { skip: skipNative }, () => {
  // m = 1 takes the fused gemv (threaded above 256 KiB of weights), m > 1 the tiles + sgemm
  const shapes: Array<[number, number, number]> = [
    [1, 37, 29], [1, 5, 1], [1, 1, 31], [1, 64, 64], [1, 515, 257], [1, 257, 515],
    [2, 37, 29], [3, 300, 130], [64, 96, 33], [5, 1, 17],
    [2, 300, 2048], // default tiles of 256 rows (2 MiB): the second one is partial
  ];
  let seed = 100;
  for (const dtype of ['f32', 'f16', 'bf16'] as const) {
    for (const [m, n, k] of shapes) {
      for (const accumulate of [false, true]) {
        checkLinear(native!, { dtype, m, n, k, accumulate, pad: accumulate ? 0 : 2 }, seed++, 'default');
      }
    }
  }
});

test('native compact weights: tile boundaries crossed, both gemv kernels, every instruction set', { skip: skipNative }, () => {
  let seed = 500;
  // 16-row tiles of W: 300 rows make 19 tiles, the last one partial (small m would bypass the tiles)
  withTileRows(16, () => {
    for (const dtype of ['f16', 'bf16'] as const) {
      for (const m of [2, 7, 70]) {
        withSmallMMax(0, () => checkLinear(native!, { dtype, m, n: 300, k: 130, accumulate: m === 7, pad: 1 }, seed++, 'tiled'));
      }
    }
  });
  const rowsPerPass = addon!.info().gemvRowsPerPass;
  try {
    for (const isa of isas) {
      withIsa(isa, () => {
        for (const rows of [1, 4]) {
          addon!.tune('gemvRowsPerPass', rows);
          for (const dtype of ['f32', 'f16', 'bf16'] as const) {
            for (const [n, k] of [[37, 29], [21, 47], [515, 257], [6, 16], [4, 15], [9, 100]]) {
              checkLinear(native!, { dtype, m: 1, n, k, accumulate: n % 2 === 1, pad: 0 }, seed++, `${isa}, ${rows} rows per pass`);
            }
          }
        }
      });
    }
  } finally {
    addon!.tune('gemvRowsPerPass', rowsPerPass);
  }
});

test('native f32 m = 1 (linear and gemm) agrees between the own gemv and OpenBLAS sgemv', { skip: skipNative }, () => {
  const before = addon!.info().f32GemvBlas;
  try {
    for (const useBlas of [0, 1]) {
      addon!.tune('f32GemvBlas', useBlas);
      checkLinear(native!, { dtype: 'f32', m: 1, n: 300, k: 70, accumulate: false, pad: 0 }, 900, `f32GemvBlas=${useBlas}`);
      checkLinear(native!, { dtype: 'f32', m: 1, n: 41, k: 300, accumulate: true, pad: 0 }, 901, `f32GemvBlas=${useBlas}`);
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [alpha, beta] of [[1, 0], [1, 1], [0.5, 0], [2, -1]]) {
            checkGemm(native!, { transA, transB, m: 1, n: 300, k: 257, alpha, beta, pad: 1 }, 902);
          }
        }
      }
    }
  } finally {
    addon!.tune('f32GemvBlas', before ? 1 : 0);
  }
});

test('native threads: 1 and 2 threads agree, the name says how many', { skip: skipNative }, () => {
  const before = native!.getThreads();
  try {
    const w = randomMatrix('bf16', 700, 300, 7);
    const x = randomArray(300, 8);
    const outputs = [1, 2].map((threads) => {
      native!.setThreads(threads);
      assert.equal(native!.getThreads(), threads);
      assert.match(native!.name, new RegExp(`^native \\(OpenBLAS [\\w.]+, ${threads} threads\\)$`));
      const out = new Float32Array(700);
      native!.linear(x, 1, w, out, false);
      return out;
    });
    // each row's dot product is computed the same way whichever thread runs it
    assert.deepEqual(outputs[0], outputs[1]);
  } finally {
    native!.setThreads(before);
  }
});

test('native kernels from two worker threads at once give the right results', { skip: skipNative }, async () => {
  // exercises the shared thread pool and scratch buffer under concurrent calls
  const addonPath = new URL('../../native/build/Release/yollava_native.node', import.meta.url).pathname;
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const addon = require(workerData.addonPath);
    const { w, x, rows, cols, m } = workerData;
    const out = new Float32Array(m * rows);
    const single = new Float32Array(rows);
    for (let i = 0; i < 20; i++) {
      addon.linear(x, m, w, 'bf16', rows, cols, out, false, cols, rows);
      addon.linear(x, 1, w, 'bf16', rows, cols, single, false, cols, rows);
    }
    parentPort.postMessage({ out, single });
  `;
  const rows = 400, cols = 384, m = 3;
  const w = randomMatrix('bf16', rows, cols, 11);
  const x = randomArray(m * cols, 12);
  const expected = new Float32Array(m * rows);
  jsKernels.linear(x, m, w, expected, false);
  const bound = new Float32Array(m * rows);
  jsKernels.linear(absolute(x), m, { dtype: 'f32', rows, cols, data: absolute(toF32(w)) }, bound, false);
  const tileRows = addon!.info().tileRows;
  addon!.tune('tileRows', 32); // several tiles per call, so that the calls interleave
  const results = await Promise.all([0, 1].map(() => new Promise<{ out: Float32Array; single: Float32Array }>((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { addonPath, w: w.data, x, rows, cols, m } });
    worker.once('message', resolve);
    worker.once('error', reject);
  }))).finally(() => addon!.tune('tileRows', tileRows));
  for (const { out, single } of results) {
    assertClose(out, expected, bound, 'worker tiled linear');
    assertClose(single, expected.subarray(0, rows), bound.subarray(0, rows), 'worker gemv');
  }
});

// ---- native: bad arguments -------------------------------------------------------------------

/** `call` throws a `type` whose message matches `pattern`. */
function rejects(call: () => void, type: typeof TypeError | typeof RangeError, pattern: RegExp): void {
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${String(error)}`);
    assert.match((error as Error).message, pattern);
    return true;
  });
}

test('native kernels reject bad arguments with TypeError/RangeError and write nothing', { skip: skipNative }, () => {
  const k = native!;
  const a = new Float32Array(12), b = new Float32Array(12);
  const c = new Float32Array(12).fill(7);
  const gemm = k.gemm as (...args: unknown[]) => void;
  // 3×4 = (3×3)·(3×4)
  const good = [false, false, 3, 4, 3, 1, a, 3, b, 4, 0, c, 4];
  const gemmWith = (index: number, value: unknown) => () => gemm(...good.map((v, i) => (i === index ? value : v)));
  rejects(gemmWith(6, Array.from(a)), TypeError, /^gemm: a must be a Float32Array/);
  rejects(gemmWith(8, new Float64Array(12)), TypeError, /b must be a Float32Array/);
  rejects(gemmWith(11, new Uint16Array(12)), TypeError, /c must be a Float32Array/);
  rejects(gemmWith(0, 1), TypeError, /transA must be a boolean/);
  rejects(gemmWith(2, '3'), TypeError, /m must be a number/);
  rejects(gemmWith(2, -1), RangeError, /m must be in \[0,/);
  rejects(gemmWith(3, 1.5), RangeError, /n must be an integer/);
  rejects(gemmWith(4, NaN), RangeError, /k must be an integer/);
  rejects(gemmWith(4, 2 ** 31), RangeError, /k must be in/);
  rejects(gemmWith(5, 'one'), TypeError, /alpha must be a number/);
  rejects(gemmWith(7, 2), RangeError, /lda must be at least 3/);
  rejects(gemmWith(12, 0), RangeError, /ldc must be in \[1,/);
  rejects(gemmWith(6, new Float32Array(8)), RangeError, /a is too short: 3×3 with lda = 3 needs 9 elements, it has 8/);
  rejects(gemmWith(9, 5), RangeError, /b is too short/);
  rejects(gemmWith(11, new Float32Array(11)), RangeError, /c is too short/);
  rejects(gemmWith(1, true), RangeError, /b is too short|ldb/); // B read as 4×3 with ldb = 4: 15 > 12
  rejects(gemmWith(11, a), RangeError, /c must not share memory with a/);
  rejects(gemmWith(11, b.subarray(2)), RangeError, /too short|share memory/);
  const sharedBuffer = new Float32Array(40);
  assert.doesNotThrow(() => gemm(false, false, 3, 4, 3, 1, sharedBuffer.subarray(0, 9), 3, b, 4, 0, sharedBuffer.subarray(9, 21), 4),
    'adjacent, disjoint views of one buffer are fine');
  rejects(() => gemm(false, false, 3, 4, 3, 1, sharedBuffer.subarray(0, 9), 3, b, 4, 0, sharedBuffer.subarray(8, 20), 4),
    RangeError, /c must not share memory with a/);
  rejects(() => gemm(false, false, 3, 4), TypeError, /expected 13 arguments, got 4/);
  assert.deepEqual(c, new Float32Array(12).fill(7), 'a rejected call writes nothing');

  const x = new Float32Array(6), out = new Float32Array(8);
  const w = (dtype: WeightDType, data: Float32Array | Uint16Array, rows = 4, cols = 3) => ({ dtype, rows, cols, data }) as Matrix;
  rejects(() => k.linear(x, 2, w('f8' as WeightDType, new Uint16Array(12)), out, false), TypeError, /w.dtype must be 'f32', 'f16' or 'bf16'/);
  rejects(() => k.linear(x, 2, w('bf16', new Float32Array(12)), out, false), TypeError, /w.data must be a Uint16Array for dtype bf16/);
  rejects(() => k.linear(x, 2, w('f16', new Int16Array(12) as unknown as Uint16Array), out, false), TypeError, /Uint16Array for dtype f16/);
  rejects(() => k.linear(x, 2, w('f32', new Uint16Array(12)), out, false), TypeError, /Float32Array for dtype f32/);
  rejects(() => k.linear(x, 2, w('bf16', new Uint16Array(11)), out, false), RangeError, /w.data is too short: 4×3/);
  rejects(() => k.linear(x, 2, w('bf16', new Uint16Array(12), -4), out, false), RangeError, /w.rows/);
  rejects(() => k.linear(x, 3, w('bf16', new Uint16Array(12)), out, false), RangeError, /x is too short/);
  rejects(() => k.linear(x, 2, w('bf16', new Uint16Array(12)), out, false, 4), RangeError, /x is too short: 2×3 with ldx = 4/);
  rejects(() => k.linear(x, 2, w('bf16', new Uint16Array(12)), out, false, 3, 3), RangeError, /ldout must be at least 4/);
  rejects(() => k.linear(x, 2, w('bf16', new Uint16Array(12)), new Float32Array(7), false), RangeError, /out is too short/);
  rejects(() => k.linear(out.subarray(0, 6), 2, w('f32', new Float32Array(12)), out, true), RangeError, /out must not share memory with x/);
  const weights = new Float32Array(12);
  rejects(() => k.linear(x, 1, w('f32', weights), weights.subarray(8), false), RangeError, /out must not share memory with w.data/);
  rejects(() => k.linearBackwardInput(out, 2, w('f16', new Uint16Array(12)), new Float32Array(5), false), RangeError, /dx is too short/);
  rejects(() => k.linearBackwardInput(new Float32Array(7), 2, w('f16', new Uint16Array(12)), x, false), RangeError, /dy is too short/);
  rejects(() => k.linearBackwardInput(out, 2, w('f16', new Uint16Array(12)), out.subarray(2), false), RangeError, /too short|share memory/);

  rejects(() => k.toFloat32(new Uint16Array(3), 'bf16', new Float32Array(4)), RangeError, /src has 3 elements, dst wants 4/);
  rejects(() => k.toFloat32(new Float32Array(4), 'f16', new Float32Array(4)), TypeError, /src must be a Uint16Array for dtype f16/);
  rejects(() => k.toFloat32(new Uint16Array(4), 'bf16', [0, 0] as unknown as Float32Array), TypeError, /dst must be a Float32Array/);

  const threads = k.getThreads();
  rejects(() => k.setThreads(0), RangeError, /threads must be in \[1,/);
  rejects(() => k.setThreads(1.5), RangeError, /threads must be an integer/);
  rejects(() => k.setThreads(65), RangeError, /threads must be at most 64/);
  rejects(() => k.setThreads('2' as unknown as number), TypeError, /threads must be a number/);
  assert.equal(k.getThreads(), threads);
  rejects(() => addon!.tune('isa', 'sse9'), RangeError, /isa 'sse9' is not one this CPU runs/);
});

test('an invalid YOLLAVA_THREADS is reported as an Error, not a throw', { skip: skipNative }, () => {
  const before = process.env.YOLLAVA_THREADS;
  try {
    process.env.YOLLAVA_THREADS = 'two';
    const result = loadNativeKernels();
    assert.ok(result instanceof Error);
    assert.match(result.message, /YOLLAVA_THREADS must be an integer from 1 to 64, got "two"/);
    process.env.YOLLAVA_THREADS = '1';
    const one = loadNativeKernels();
    assert.ok(!(one instanceof Error) && one.getThreads() === 1);
  } finally {
    if (before === undefined) delete process.env.YOLLAVA_THREADS;
    else process.env.YOLLAVA_THREADS = before;
    native!.setThreads(loadedThreads);
  }
});

// ---- native: small-m products (W streamed once) ----------------------------------------------

/** Runs body with the small-m kernels limited to m ≤ max (0: sgemm for every m > 1), restoring the default. */
function withSmallMMax(max: number, body: () => void): void {
  const before = addon!.info().smallMMax;
  addon!.tune('smallMMax', max);
  try {
    body();
  } finally {
    addon!.tune('smallMMax', before);
  }
}

test('native small-m linear and linearBackwardInput agree with sgemm for m = 1…33 and 48, 64, every dtype and instruction set', { skip: skipNative }, () => {
  // 301 rows (not a multiple of 4) × 37 columns (not a multiple of 16), then a product large enough
  // to be split between threads in many chunks (the last one partial)
  // and rows longer than the backward's 1024-column panels (the last panel partial, k % 16 ≠ 0)
  const cases: Array<[number, number]> = [[301, 37], [1203, 260], [70, 2100]];
  let seed = 1200;
  for (const isa of isas) {
    withIsa(isa, () => {
      for (const dtype of ['f32', 'bf16', 'f16'] as const) {
        for (const [n, k] of cases) {
          const w = randomMatrix(dtype, n, k, seed++);
          const wAbs: Matrix = { dtype: 'f32', rows: n, cols: k, data: absolute(toF32(w)) };
          const ms = Array.from({ length: 33 }, (_, i) => i + 1).filter((m) => isa === 'avx512' || n < 1000 || m % 4 === 1);
          for (const m of [...ms, 48, 64]) {
            const pad = m % 3, ldx = k + pad, ldout = n + pad, accumulate = m % 2 === 0;
            const x = randomArray(m * ldx, seed++);
            const start = randomArray(m * ldout, seed++);
            if (!accumulate) start.fill(NaN);
            const small = start.slice(), blas = start.slice();
            withSmallMMax(64, () => native!.linear(x, m, w, small, accumulate, ldx, ldout));
            withSmallMMax(0, () => native!.linear(x, m, w, blas, accumulate, ldx, ldout));
            const bound = accumulate ? absolute(start) : new Float32Array(m * ldout);
            jsKernels.linear(absolute(x), m, wAbs, bound, true, ldx, ldout);
            const pick = (a: Float32Array) => Float32Array.from({ length: m * n }, (_, q) => a[Math.floor(q / n) * ldout + (q % n)]);
            assertClose(pick(small), pick(blas), pick(bound), `${isa} small-m linear ${dtype} m=${m} n=${n} k=${k}`);
            for (let i = 0; i < m; i++) for (let j = n; j < ldout && i * ldout + j < small.length; j++) {
              assert.ok(Object.is(small[i * ldout + j], start[i * ldout + j]), 'padding of out changed');
            }

            const dy = randomArray(m * n, seed++);
            const dxStart = randomArray(m * k, seed++);
            if (!accumulate) dxStart.fill(NaN);
            const dxSmall = dxStart.slice(), dxBlas = dxStart.slice();
            withSmallMMax(64, () => native!.linearBackwardInput(dy, m, w, dxSmall, accumulate));
            withSmallMMax(0, () => native!.linearBackwardInput(dy, m, w, dxBlas, accumulate));
            const dxBound = accumulate ? absolute(dxStart) : new Float32Array(m * k);
            jsKernels.linearBackwardInput(absolute(dy), m, wAbs, dxBound, true);
            assertClose(dxSmall, dxBlas, dxBound, `${isa} small-m linearBackwardInput ${dtype} m=${m} n=${n} k=${k}`);
          }
        }
      }
    });
  }
});

test('native small-m products give the same result on 1 and 2 threads', { skip: skipNative }, () => {
  const before = native!.getThreads();
  try {
    const w = randomMatrix('bf16', 2000, 300, 1300);
    const x = randomArray(20 * 300, 1301), dy = randomArray(20 * 2000, 1302);
    const results = [1, 2].map((threads) => {
      native!.setThreads(threads);
      const out = new Float32Array(20 * 2000), dx = new Float32Array(20 * 300);
      native!.linear(x, 20, w, out, false);
      native!.linearBackwardInput(dy, 20, w, dx, false);
      return { out, dx };
    });
    assert.deepEqual(results[0].out, results[1].out, 'forward: each dot product is computed the same way on any thread');
    const bound = new Float32Array(20 * 300);
    jsKernels.linearBackwardInput(absolute(dy), 20, { dtype: 'f32', rows: 2000, cols: 300, data: absolute(toF32(w)) }, bound, false);
    assertClose(results[1].dx, results[0].dx, bound, 'backward: partial sums per thread');
  } finally {
    native!.setThreads(before);
  }
});

test('native backward products split between threads repeat exactly (partial sums per row group, not per thread)', { skip: skipNative }, () => {
  const before = native!.getThreads();
  try {
    native!.setThreads(2);
    // m = 1 takes the own gemvᵀ, m = 20 the small-m backward; both split 4000 rows between threads
    const w = randomMatrix('bf16', 4000, 300, 1310);
    for (const m of [1, 20]) {
      const dy = randomArray(m * 4000, 1311 + m);
      const first = new Float32Array(m * 300);
      native!.linearBackwardInput(dy, m, w, first, false);
      for (let repeat = 0; repeat < 40; repeat++) {
        const dx = new Float32Array(m * 300);
        native!.linearBackwardInput(dy, m, w, dx, false);
        assert.deepEqual(dx, first, `m = ${m}, repeat ${repeat}: the same bits whichever thread took which rows`);
      }
    }
  } finally {
    native!.setThreads(before);
  }
});

// ---- native: fused elementwise kernels --------------------------------------------------------

test('native exp: relative error ≤ 1e-7 against Math.exp from -110 to 90, subnormals, inf and NaN, every instruction set', { skip: skipNative }, () => {
  const values: number[] = [];
  for (let x = -110; x <= 90; x += 0.000731) values.push(x);
  const random = randomArray(200_000, 1400);
  for (const r of random) values.push(r * 1e-3, r * 5, r * 100);
  values.push(0, -0, 1e-30, -1e-30, 88.72, 88.7228, 88.7229, 88.73, -87.33, -87.34, -103.27, -103.28, -103.98, -104, -200, -1e30, 1e30);
  const x = Float32Array.from(values);
  x.set([NaN, Infinity, -Infinity], x.length - 3);
  for (const isa of isas) {
    withIsa(isa, () => {
      const y = new Float32Array(x.length - 1).fill(7); // odd length: the tail
      addon!.exp(x, y);
      let worst = 0;
      for (let i = 0; i < y.length; i++) {
        const exact = Math.exp(x[i]);
        if (Number.isNaN(exact)) { assert.ok(Number.isNaN(y[i]), `${isa} exp(NaN)`); continue; }
        if (exact > 3.4028234663852886e38 * (1 + 2 ** -25)) { assert.equal(y[i], Infinity, `${isa} exp(${x[i]}) overflows`); continue; }
        if (exact < 2 ** -126) {
          // subnormal results: within one step of the subnormal grid
          assert.ok(Math.abs(y[i] - exact) <= 2 ** -149, `${isa} exp(${x[i]}) = ${y[i]}, expected ${exact}`);
          continue;
        }
        const error = Math.abs(y[i] - exact) / exact;
        if (error > worst) worst = error;
        if (!(error <= 1e-7)) assert.fail(`${isa} exp(${x[i]}) = ${y[i]}, expected ${exact} (relative error ${error})`);
      }
      assert.ok(worst > 0 && worst <= 1e-7);
    });
  }
  const inPlace = Float32Array.from([0, 1, -1]);
  addon!.exp(inPlace, inPlace);
  assert.deepEqual(Array.from(inPlace), [1, Math.fround(Math.E), Math.fround(Math.exp(-1))].map((v) => inPlace[0] === 1 ? v : v));
  assert.ok(Math.abs(inPlace[1] - Math.E) / Math.E <= 1e-7);
});

/** |actual − expected| ≤ tolerance·(|expected| + floor) elementwise, and exact zeros where expected is 0. */
function assertNear(actual: Float32Array, expected: Float32Array, tolerance: number, floor: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i], a = actual[i];
    if (Number.isNaN(e)) { assert.ok(Number.isNaN(a), `${what}: element ${i} is ${a}, expected NaN`); continue; }
    if (Object.is(e, 0) || Object.is(e, -0)) { if (a !== 0) assert.fail(`${what}: element ${i} is ${a}, expected 0`); continue; }
    if (!(Math.abs(a - e) <= tolerance * (Math.abs(e) + floor))) assert.fail(`${what}: element ${i} is ${a}, expected ${e}`);
  }
}

/** Row ranges: full rows, causal ones, packed-sequence starts, empty and inverted ranges. */
function rowRanges(rows: number, width: number, seed: number): { from: Int32Array; valid: Int32Array } {
  const from = new Int32Array(rows), valid = new Int32Array(rows);
  const r = randomArray(2 * rows, seed);
  for (let i = 0; i < rows; i++) {
    const kind = i % 7;
    if (kind === 0) { from[i] = 0; valid[i] = width; }
    else if (kind === 1) { from[i] = 0; valid[i] = Math.min(width, 1 + (i % width)); }
    else if (kind === 2) { from[i] = Math.floor(((r[i] + 1) / 2) * width); valid[i] = width; }
    else if (kind === 3 && i % 2 === 0) { from[i] = Math.floor(width / 2); valid[i] = Math.floor(width / 2); } // empty
    else if (kind === 3) { from[i] = Math.min(width, 3); valid[i] = Math.min(width, 1); } // inverted: all zero
    else {
      const a = Math.floor(((r[i] + 1) / 2) * (width + 1)), b = Math.floor(((r[rows + i] + 1) / 2) * (width + 1));
      from[i] = Math.min(a, b, width); valid[i] = Math.min(Math.max(a, b), width);
    }
  }
  return { from, valid };
}

test('native softmaxRows and softmaxRowsBackward match the reference: odd widths, masks, thread chunks, views', { skip: skipNative }, () => {
  let seed = 1500;
  // 448×664: the attention shape; 1600×701 (over 1M elements) is split into many thread chunks,
  // the last one partial; the others have odd widths and tails
  for (const [rows, width] of [[1, 1], [3, 7], [9, 17], [30, 33], [448, 664], [70, 1001], [1600, 701]] as const) {
    for (const isa of ['avx2', 'generic']) {
      withIsa(isa, () => {
        const offset = 3;
        const buffer = randomArray(offset + rows * width, seed++).map((v, i) => v * (i % 5 === 0 ? 40 : 4));
        if (rows * width > 50) { buffer[offset + 5] = -Infinity; buffer[offset + 9] = -1e30; }
        const { from, valid } = rowRanges(rows, width, seed++);
        const actual = buffer.slice().subarray(offset), expected = buffer.slice().subarray(offset);
        native!.softmaxRows!(actual, rows, width, from, valid);
        jsKernels.softmaxRows!(expected, rows, width, from, valid);
        assertNear(actual, expected, 2e-6, 1e-30, `${isa} softmaxRows ${rows}×${width}`);
        assert.equal(buffer[0], buffer.slice()[0]);

        const dScores = randomArray(rows * width + 5, seed++).subarray(5);
        const dActual = dScores.slice(), dExpected = dScores.slice();
        native!.softmaxRowsBackward!(dActual, expected, rows, width, from, valid, 0.125);
        jsKernels.softmaxRowsBackward!(dExpected, expected, rows, width, from, valid, 0.125);
        // ds − Σ ds·p cancels: the error scales with p·scale, not with the result
        for (let i = 0; i < dActual.length; i++) {
          const bound = 1e-5 * Math.abs(dExpected[i]) + 1e-6 * expected[i] * 0.125;
          if (!(Math.abs(dActual[i] - dExpected[i]) <= bound)) assert.fail(`${isa} softmaxRowsBackward ${rows}×${width}: element ${i} is ${dActual[i]}, expected ${dExpected[i]}`);
        }
      });
    }
  }
});

test('native swigluForward/Backward match the reference on the [T, 2F] layout, large |gate| included', { skip: skipNative }, () => {
  let seed = 1600;
  // 71×15001: over 1M elements, one row per thread chunk
  for (const [T, F] of [[1, 1], [3, 7], [5, 37], [64, 4864], [2, 20000], [71, 15001]] as const) {
    for (const isa of ['avx2', 'generic']) {
      withIsa(isa, () => {
        const gateUp = randomArray(T * 2 * F + 1, seed++).subarray(1).map((v, i) => v * (i % 11 === 0 ? 120 : 6));
        const out = new Float32Array(T * F), expected = new Float32Array(T * F);
        native!.swigluForward!(out, gateUp, T, F);
        jsKernels.swigluForward!(expected, gateUp, T, F);
        assertNear(out, expected, 1e-6, 1e-30, `${isa} swigluForward T=${T} F=${F}`);
        const dOut = randomArray(T * F, seed++);
        const dActual = new Float32Array(T * 2 * F).fill(NaN), dExpected = new Float32Array(T * 2 * F);
        native!.swigluBackward!(dActual, dOut, gateUp, T, F);
        jsKernels.swigluBackward!(dExpected, dOut, gateUp, T, F);
        // silu' crosses 0 near gate = -1.28 (1 + g·(1 − s) cancels): errors scale with |dOut·up|·(1 + |g|), not the result
        for (let t = 0; t < T; t++) {
          for (let i = 0; i < F; i++) {
            const g = gateUp[t * 2 * F + i], up = gateUp[t * 2 * F + F + i], d = dOut[t * F + i];
            for (const [j, scale] of [[t * 2 * F + i, Math.abs(d * up) * (1 + Math.abs(g))], [t * 2 * F + F + i, Math.abs(d * g)]]) {
              const bound = 2e-6 * Math.abs(dExpected[j]) + 1e-6 * scale;
              if (!(Math.abs(dActual[j] - dExpected[j]) <= bound)) assert.fail(`${isa} swigluBackward T=${T} F=${F}: element ${j} is ${dActual[j]}, expected ${dExpected[j]}`);
            }
          }
        }
      });
    }
  }
});

/** Φ(x) in float64 from erfc (Numerical Recipes §6.2) on both sides, so the tails keep their digits. */
function gaussianCdf(x: number): number {
  const z = Math.abs(x) * Math.SQRT1_2, t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

test('native geluForward/Backward match the erf GELU (and the TypeScript one), in place and split between threads', { skip: skipNative }, () => {
  let seed = 1650;
  // 1.1M values: split between threads; odd sizes exercise the scalar tail
  for (const count of [1, 7, 9, 1001, 1_100_003]) {
    for (const isa of ['avx2', 'generic']) {
      withIsa(isa, () => {
        const x = randomArray(count, seed++).map((v, i) => v * (i % 13 === 0 ? 40 : 4));
        const out = new Float32Array(count);
        native!.geluForward!(out, x, count);
        const expected = x.map((v) => v * gaussianCdf(v));
        // the TypeScript activation agrees to float32 rounding wherever it is not flushed to 0 by 1 + erf = 0
        const js = new Float32Array(count);
        activationForward('gelu', js, x);
        for (let i = 0; i < count; i++) if (!(Math.abs(js[i] - expected[i]) <= 1e-6 * Math.abs(expected[i]) + 1e-12)) assert.fail(`TypeScript gelu(${x[i]}) = ${js[i]}, expected ${expected[i]}`);
        assertNear(out, expected, 2e-6, 1e-7, `${isa} geluForward n=${count}`);
        const inPlace = x.slice();
        native!.geluForward!(inPlace, inPlace, count);
        assert.deepEqual(inPlace, out);
        const dout = randomArray(count, seed++);
        const dx0 = randomArray(count, seed++), dx = dx0.slice(), dxJs = dx0.slice();
        native!.geluBackward!(dx, dout, x, count);
        activationBackward('gelu', dxJs, dout, x);
        for (let i = 0; i < count; i++) {
          const v = x[i], cdf = gaussianCdf(v), xPdf = v * Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
          const expected = dx0[i] + dout[i] * (cdf + xPdf);
          // float32 rounding of the terms added (Φ + x·φ cancels near x = −0.75, and dx may cancel the product)
          const bound = 1e-6 * (Math.abs(dx0[i]) + Math.abs(dout[i]) * (Math.abs(cdf) + Math.abs(xPdf))) + 1e-12;
          if (!(Math.abs(dx[i] - expected) <= bound)) assert.fail(`${isa} geluBackward n=${count}: element ${i} (x ${v}) is ${dx[i]}, expected ${expected}`);
          if (!(Math.abs(dxJs[i] - expected) <= bound)) assert.fail(`TypeScript gelu backward at ${v}: ${dxJs[i]}, expected ${expected}`);
        }
      });
    }
  }
  const k = native!;
  rejects(() => k.geluForward!(new Float32Array(3), new Float32Array(4), 4), RangeError, /out is too short/);
  rejects(() => k.geluBackward!(new Float32Array(4), new Float32Array(4), new Float32Array(3), 4), RangeError, /x is too short/);
});

test('native rmsNormForward/Backward match the reference, with and without rstd and dWeight', { skip: skipNative }, () => {
  let seed = 1700;
  // 1201×896: over 1M elements, split between threads (without dWeight)
  for (const [T, C] of [[1, 1], [3, 7], [20, 896], [1201, 896], [7, 1001]] as const) {
    for (const isa of ['avx2', 'generic']) {
      withIsa(isa, () => {
        const x = randomArray(T * C + 2, seed++).subarray(2);
        const weight = randomArray(C, seed++).map((v) => 1 + v);
        const out = new Float32Array(T * C), expected = new Float32Array(T * C);
        const rstd = new Float32Array(T), rstdExpected = new Float32Array(T);
        native!.rmsNormForward!(out, rstd, x, weight, T, C, 1e-6);
        jsKernels.rmsNormForward!(expected, rstdExpected, x, weight, T, C, 1e-6);
        assertNear(rstd, rstdExpected, 2e-7, 0, `${isa} rstd T=${T} C=${C}`);
        assertNear(out, expected, 5e-7, 1e-30, `${isa} rmsNormForward T=${T} C=${C}`);
        const noRstd = new Float32Array(T * C);
        native!.rmsNormForward!(noRstd, null, x, weight, T, C, 1e-6);
        assert.deepEqual(noRstd, out);

        const dOut = randomArray(T * C, seed++);
        const dxStart = randomArray(T * C, seed++);
        for (const withWeight of [false, true]) {
          const dx = dxStart.slice(), dxExpected = dxStart.slice();
          const dW = withWeight ? randomArray(C, seed) : null, dWExpected = dW?.slice() ?? null;
          native!.rmsNormBackward!(dx, dW, dOut, x, rstdExpected, weight, T, C);
          jsKernels.rmsNormBackward!(dxExpected, dWExpected, dOut, x, rstdExpected, weight, T, C);
          assertNear(dx, dxExpected, 1e-5, 1, `${isa} rmsNormBackward dx T=${T} C=${C}`);
          if (dW) assertNear(dW, dWExpected!, 1e-5, 1, `${isa} rmsNormBackward dWeight T=${T} C=${C}`);
        }
      });
    }
  }
});

test('native im2col/col2imAdd equal the reference exactly, threaded over large batches', { skip: skipNative }, () => {
  let seed = 2100;
  const shapes: Conv2dShape[] = [
    { batch: 1, height: 5, width: 4, inChannels: 3, outChannels: 1, kernel: 3, stride: 1, padding: 1 },
    { batch: 3, height: 7, width: 7, inChannels: 2, outChannels: 1, kernel: 3, stride: 2, padding: 1 },
    { batch: 2, height: 6, width: 5, inChannels: 4, outChannels: 1, kernel: 1, stride: 1, padding: 0 },
    { batch: 2, height: 4, width: 4, inChannels: 3, outChannels: 1, kernel: 5, stride: 3, padding: 2 },
    // the stage-1 tower's stem and a stage: many images, split between threads
    { batch: 64, height: 64, width: 64, inChannels: 3, outChannels: 1, kernel: 3, stride: 2, padding: 1 },
    { batch: 64, height: 16, width: 16, inChannels: 32, outChannels: 1, kernel: 3, stride: 2, padding: 1 },
  ];
  for (const shape of shapes) {
    const { batch, height, width, inChannels, kernel, stride, padding } = shape;
    const input = randomArray(batch * height * width * inChannels, seed++);
    const size = im2colSize(shape);
    const col = new Float32Array(size).fill(NaN), expected = new Float32Array(size);
    native!.im2col!(col, input, batch, height, width, inChannels, kernel, stride, padding);
    im2col(expected, input, shape);
    assert.deepEqual(col, expected, `im2col ${JSON.stringify(shape)}`);
    const patches = randomArray(size, seed++);
    const start = randomArray(input.length, seed++);
    const dInput = start.slice(), dExpected = start.slice();
    native!.col2imAdd!(dInput, patches, batch, height, width, inChannels, kernel, stride, padding);
    col2imAdd(dExpected, patches, shape);
    assert.deepEqual(dInput, dExpected, `col2imAdd ${JSON.stringify(shape)}`);
  }
  const k = native!;
  rejects(() => k.im2col!(new Float32Array(10), new Float32Array(75), 1, 5, 5, 3, 3, 1, 1), RangeError, /col is too short/);
  rejects(() => k.im2col!(new Float32Array(675), new Float32Array(74), 1, 5, 5, 3, 3, 1, 1), RangeError, /input is too short/);
  rejects(() => k.im2col!(new Float32Array(675), new Float32Array(75), 1, 5, 5, 3, 3, 0, 1), RangeError, /stride must be/);
  rejects(() => k.im2col!(new Float32Array(675), new Float32Array(75), 1, 2, 2, 3, 5, 1, 0), RangeError, /does not fit/);
  const shared = new Float32Array(800);
  rejects(() => k.col2imAdd!(shared.subarray(0, 75), shared.subarray(50), 1, 5, 5, 3, 3, 1, 1), RangeError, /dInput must not share memory with col/);
});

test('native groupNormForward/Backward match the reference, with and without statistics and weight gradients', { skip: skipNative }, () => {
  let seed = 2200;
  for (const [N, P, C, G] of [[1, 1, 2, 1], [2, 9, 12, 3], [3, 16, 32, 8], [64, 256, 32, 8], [64, 16, 128, 8]] as const) {
    const x = randomArray(N * P * C, seed++).map((v, i) => v * 3 + (i % 7) - 2);
    const weight = randomArray(C, seed++).map((v) => 1 + v);
    const bias = randomArray(C, seed++);
    const out = new Float32Array(N * P * C), expected = new Float32Array(N * P * C);
    const mean = new Float32Array(N * G), rstd = new Float32Array(N * G);
    const meanExpected = new Float32Array(N * G), rstdExpected = new Float32Array(N * G);
    native!.groupNormForward!(out, mean, rstd, x, weight, bias, N, P, C, G, 1e-5);
    groupNormForward(expected, meanExpected, rstdExpected, x, weight, bias, N, P, C, G, 1e-5);
    assert.deepEqual(out, expected, `groupNormForward ${N}×${P}×${C}/${G}`);
    assert.deepEqual(mean, meanExpected);
    assert.deepEqual(rstd, rstdExpected);
    const bare = new Float32Array(N * P * C);
    native!.groupNormForward!(bare, null, null, x, weight, bias, N, P, C, G, 1e-5);
    assert.deepEqual(bare, out);
    const inPlace = x.slice();
    native!.groupNormForward!(inPlace, null, null, inPlace, weight, bias, N, P, C, G, 1e-5);
    assert.deepEqual(inPlace, out, 'in place');

    const dOut = randomArray(N * P * C, seed++);
    const dxStart = randomArray(N * P * C, seed++);
    for (const withGrads of [false, true]) {
      const dx = dxStart.slice(), dxExpected = dxStart.slice();
      const dW = withGrads ? randomArray(C, seed) : null, dWExpected = dW?.slice() ?? null;
      const dB = withGrads ? randomArray(C, seed + 1) : null, dBExpected = dB?.slice() ?? null;
      native!.groupNormBackward!(dx, dW, dB, dOut, x, mean, rstd, weight, N, P, C, G);
      groupNormBackward(dxExpected, dWExpected, dBExpected, dOut, x, mean, rstd, weight, N, P, C, G);
      assert.deepEqual(dx, dxExpected, `groupNormBackward dx ${N}×${P}×${C}/${G}`);
      // Sums over images in another order (per thread, in float64): the last bits may differ.
      if (dW) assertNear(dW, dWExpected!, 1e-5, 1, `groupNormBackward dWeight ${N}×${P}×${C}/${G}`);
      if (dB) assertNear(dB, dBExpected!, 1e-5, 1, `groupNormBackward dBias ${N}×${P}×${C}/${G}`);
    }
  }
  const k = native!;
  const w = new Float32Array(4);
  const shared = new Float32Array(16);
  rejects(() => k.groupNormForward!(new Float32Array(8), null, null, new Float32Array(8), w, w.slice(), 1, 2, 4, 3, 1e-5), RangeError, /C = 4 channels do not split into G = 3 groups/);
  rejects(() => k.groupNormForward!(new Float32Array(7), null, null, new Float32Array(8), w, w.slice(), 1, 2, 4, 2, 1e-5), RangeError, /out is too short/);
  rejects(() => k.groupNormForward!(new Float32Array(8), new Float32Array(1), null, new Float32Array(8), w, w.slice(), 1, 2, 4, 2, 1e-5), RangeError, /mean is too short/);
  rejects(() => k.groupNormForward!(shared.subarray(0, 8), null, null, shared.subarray(2, 10), w, w.slice(), 1, 2, 4, 2, 1e-5), RangeError, /out must not share memory with x/);
  rejects(() => k.groupNormBackward!(shared.subarray(0, 8), null, null, shared.subarray(4, 12), new Float32Array(8), new Float32Array(2), new Float32Array(2), w, 1, 2, 4, 2), RangeError, /dx must not share memory with dOut/);
});

test('native elementwise kernels reject bad arguments with TypeError/RangeError and write nothing', { skip: skipNative }, () => {
  const k = native!;
  const x = new Float32Array(12).fill(3);
  const from = new Int32Array(3), valid = new Int32Array([4, 4, 4]);
  rejects(() => k.softmaxRows!(x, 3, 5, from, valid), RangeError, /^softmaxRows: x is too short/);
  rejects(() => k.softmaxRows!(x, 3, 4, from, new Int32Array([4, 5, 4])), RangeError, /valid\[1\] = 5 is outside \[0, 4\]/);
  rejects(() => k.softmaxRows!(x, 3, 4, new Int32Array([0, -1, 0]), valid), RangeError, /from\[1\] = -1/);
  rejects(() => k.softmaxRows!(x, 3, 4, new Int32Array(2), valid), RangeError, /from has 2 entries, rows = 3/);
  rejects(() => k.softmaxRows!(x, 3, 4, new Float32Array(3) as unknown as Int32Array, valid), TypeError, /from must be a Int32Array/);
  rejects(() => k.softmaxRows!(Array.from(x) as unknown as Float32Array, 3, 4, from, valid), TypeError, /x must be a Float32Array/);
  rejects(() => k.softmaxRows!(x, -3, 4, from, valid), RangeError, /rows must be in/);
  rejects(() => k.softmaxRowsBackward!(x, x.subarray(4), 2, 4, from, valid, 1), RangeError, /dScores must not share memory with probs/);
  rejects(() => k.softmaxRowsBackward!(x, new Float32Array(11), 3, 4, from, valid, 1), RangeError, /probs is too short/);
  rejects(() => k.softmaxRowsBackward!(x, new Float32Array(12), 3, 4, from, valid, 'a' as unknown as number), TypeError, /scale must be a number/);
  rejects(() => k.swigluForward!(new Float32Array(6), new Float32Array(11), 3, 2), RangeError, /gateUp is too short: T×2F needs 12/);
  rejects(() => k.swigluForward!(new Float32Array(5), new Float32Array(12), 3, 2), RangeError, /out is too short/);
  rejects(() => k.swigluForward!(x.subarray(6), x, 3, 2), RangeError, /out must not share memory with gateUp/);
  rejects(() => k.swigluBackward!(x, new Float32Array(6), x, 3, 2), RangeError, /dGateUp must not share memory with gateUp/);
  rejects(() => k.swigluBackward!(new Float32Array(12), new Float32Array(6), new Float32Array(12), 3, 2.5), RangeError, /F must be an integer/);
  const w = new Float32Array(4);
  rejects(() => k.rmsNormForward!(new Float32Array(12), null, x, new Float32Array(3), 3, 4, 1e-6), RangeError, /weight is too short/);
  rejects(() => k.rmsNormForward!(new Float32Array(12), new Float32Array(2), x, w, 3, 4, 1e-6), RangeError, /rstd is too short/);
  rejects(() => k.rmsNormForward!(x, null, x, w, 3, 4, 1e-6), RangeError, /out must not share memory with x/);
  rejects(() => k.rmsNormForward!(new Float32Array(12), null, x, w, 3, 4, -1), RangeError, /eps must be a non-negative number/);
  rejects(() => k.rmsNormForward!(new Float32Array(12), 5 as unknown as Float32Array, x, w, 3, 4, 1e-6), TypeError, /rstd must be a Float32Array or null/);
  rejects(() => k.rmsNormBackward!(new Float32Array(12), w, new Float32Array(12), x, new Float32Array(2), w, 3, 4), RangeError, /rstd is too short/);
  rejects(() => k.rmsNormBackward!(new Float32Array(12), w, new Float32Array(12), x, new Float32Array(3), w, 3, 4), RangeError, /dWeight must not share memory with weight/);
  rejects(() => k.rmsNormBackward!(x, null, x, new Float32Array(12), new Float32Array(3), w, 3, 4), RangeError, /dx must not share memory with dOut/);
  rejects(() => addon!.exp(x, x.subarray(1)), RangeError, /dst must not share memory with src/);
  rejects(() => addon!.exp(new Float32Array(3), new Float32Array(4)), RangeError, /src is too short/);
  assert.deepEqual(x, new Float32Array(12).fill(3), 'a rejected call writes nothing');
});

test('native gemm with transB and a few rows (decode attention scores) takes the small-m kernel and matches the reference', { skip: skipNative }, () => {
  let seed = 1800;
  for (const [m, n, k] of [[7, 600, 64], [2, 17, 5], [32, 300, 33], [5, 4000, 64]] as const) {
    for (const [alpha, beta] of [[1, 0], [0.125, 0], [0.5, 1], [1, 1]]) {
      checkGemm(native!, { transA: false, transB: true, m, n, k, alpha, beta, pad: 0 }, seed++);
      checkGemm(native!, { transA: false, transB: true, m, n, k, alpha, beta, pad: 2 }, seed++); // ldb ≠ k: sgemm
    }
  }
});

test('OpenBLAS core type: chosen from the CPU flags, so an unknown CPU model does not fall back to generic kernels', { skip: skipNative }, () => {
  const avx512 = ['fma', 'avx2', 'avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'];
  assert.equal(openBlasCoreTypeFor(new Set(avx512), 'GenuineIntel'), 'SKYLAKEX');
  assert.equal(openBlasCoreTypeFor(new Set(['fma', 'avx2', 'avx512f']), 'GenuineIntel'), 'HASWELL');
  assert.equal(openBlasCoreTypeFor(new Set(avx512), 'AuthenticAMD'), 'ZEN');
  assert.equal(openBlasCoreTypeFor(new Set(['sse4_2', 'avx']), 'GenuineIntel'), null);
  assert.equal(openBlasCoreTypeFor(new Set(avx512), 'HygonGenuine'), null);
  assert.deepEqual(cpuInfo('processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse avx2 fma\nbogomips\t: 1\n'), { flags: new Set(['fpu', 'sse', 'avx2', 'fma']), vendor: 'AuthenticAMD' });
  assert.deepEqual(cpuInfo('no flags here'), { flags: new Set(), vendor: '' });
  // On this machine: with AVX2 and FMA, OpenBLAS must not run its generic Prescott kernels (4.5× slower here).
  const { flags } = cpuInfo();
  const config = addon!.info().blasConfig;
  if (flags.has('avx2') && flags.has('fma')) assert.doesNotMatch(config, /Prescott|Core2|Katmai|Northwood/i, config);
});
