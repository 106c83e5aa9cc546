/**
 * The reference kernels: plain TypeScript, single-threaded, written for clarity first.
 * The native kernels are tested against these; they also serve as the fallback when the
 * native addon is not built.
 */
import type { Kernels, Matrix, WeightDType } from './kernels.ts';
import { bf16ToFloat32, f16ToFloat32 } from './dtypes.ts';

function gemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number,
  beta: number, c: Float32Array, ldc: number,
): void {
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const aip = transA ? a[p * lda + i] : a[i * lda + p];
      if (aip === 0) continue;
      if (transB) {
        for (let j = 0; j < n; j++) row[j] += aip * b[j * ldb + p];
      } else {
        const base = p * ldb;
        for (let j = 0; j < n; j++) row[j] += aip * b[base + j];
      }
    }
    const cBase = i * ldc;
    if (beta === 0) for (let j = 0; j < n; j++) c[cBase + j] = alpha * row[j];
    else for (let j = 0; j < n; j++) c[cBase + j] = alpha * row[j] + beta * c[cBase + j];
  }
}

function toFloat32(src: Float32Array | Uint16Array, dtype: WeightDType, dst: Float32Array): void {
  const count = dst.length;
  if (dtype === 'f32') { dst.set((src as Float32Array).subarray(0, count)); return; }
  if (dtype === 'bf16') {
    const widened = new Uint32Array(dst.buffer, dst.byteOffset, count);
    for (let i = 0; i < count; i++) widened[i] = src[i] << 16;
    return;
  }
  for (let i = 0; i < count; i++) dst[i] = f16ToFloat32(src[i]);
}

/** Float32 view of a weight: the data itself for f32, a widened copy otherwise. */
function asFloat32(w: Matrix): Float32Array {
  if (w.dtype === 'f32') return w.data as Float32Array;
  const out = new Float32Array(w.rows * w.cols);
  toFloat32(w.data, w.dtype, out);
  return out;
}

export const jsKernels: Kernels = {
  name: 'js',
  gemm,
  linear(x, m, w, out, accumulate, ldx = w.cols, ldout = w.rows) {
    gemm(false, true, m, w.rows, w.cols, 1, x, ldx, asFloat32(w), w.cols, accumulate ? 1 : 0, out, ldout);
  },
  linearBackwardInput(dy, m, w, dx, accumulate) {
    gemm(false, false, m, w.cols, w.rows, 1, dy, w.rows, asFloat32(w), w.cols, accumulate ? 1 : 0, dx, w.cols);
  },
  toFloat32,
  getThreads: () => 1,
  setThreads: () => {},
};

export { bf16ToFloat32 };
