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

// ---- fused elementwise kernels: the reference versions -----------------------------------------

/** Softmax of x[base+from, base+valid) in place; the other entries of the row become 0. */
function softmaxRowInPlace(x: Float32Array, base: number, from: number, valid: number, width: number): void {
  let max = -Infinity;
  for (let j = from; j < valid; j++) if (x[base + j] > max) max = x[base + j];
  let sum = 0;
  for (let j = from; j < valid; j++) {
    const e = Math.exp(x[base + j] - max);
    x[base + j] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let j = from; j < valid; j++) x[base + j] *= inv;
  for (let j = 0; j < from; j++) x[base + j] = 0;
  for (let j = valid; j < width; j++) x[base + j] = 0;
}

export function softmaxRows(x: Float32Array, rows: number, width: number, from: Int32Array, valid: Int32Array): void {
  for (let r = 0; r < rows; r++) softmaxRowInPlace(x, r * width, from[r], valid[r], width);
}

export function softmaxRowsBackward(dScores: Float32Array, probs: Float32Array, rows: number, width: number, from: Int32Array, valid: Int32Array, scale: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    const f = from[r], v = valid[r];
    let dot = 0;
    for (let j = f; j < v; j++) dot += dScores[base + j] * probs[base + j];
    for (let j = f; j < v; j++) dScores[base + j] = probs[base + j] * (dScores[base + j] - dot) * scale;
    for (let j = 0; j < f; j++) dScores[base + j] = 0;
    for (let j = Math.max(v, f); j < width; j++) dScores[base + j] = 0;
  }
}

export function swigluForward(out: Float32Array, gateUp: Float32Array, T: number, F: number): void {
  for (let t = 0; t < T; t++) {
    const row = t * 2 * F, o = t * F;
    for (let i = 0; i < F; i++) { const g = gateUp[row + i]; out[o + i] = (g / (1 + Math.exp(-g))) * gateUp[row + F + i]; }
  }
}

export function swigluBackward(dGateUp: Float32Array, dOut: Float32Array, gateUp: Float32Array, T: number, F: number): void {
  for (let t = 0; t < T; t++) {
    const row = t * 2 * F, o = t * F;
    for (let i = 0; i < F; i++) {
      const g = gateUp[row + i];
      const s = 1 / (1 + Math.exp(-g));
      const d = dOut[o + i];
      dGateUp[row + i] = d * gateUp[row + F + i] * s * (1 + g * (1 - s));
      dGateUp[row + F + i] = d * g * s;
    }
  }
}

/** out[t] = w ⊙ x[t] · rstd[t], rstd = 1/sqrt(mean(x[t]²) + eps). */
export function rmsNormForward(out: Float32Array, rstd: Float32Array | null, x: Float32Array, weight: Float32Array, T: number, C: number, eps: number): void {
  for (let t = 0; t < T; t++) {
    const base = t * C;
    let sumSquares = 0;
    for (let c = 0; c < C; c++) { const v = x[base + c]; sumSquares += v * v; }
    // HF computes the statistic in float32: round like it does.
    const r = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(sumSquares / C) + eps)));
    if (rstd) rstd[t] = r;
    for (let c = 0; c < C; c++) out[base + c] = weight[c] * Math.fround(x[base + c] * r);
  }
}

/** RMSNorm backward: ADDS into dx, and into dWeight when given. */
export function rmsNormBackward(
  dx: Float32Array, dWeight: Float32Array | null,
  dout: Float32Array, x: Float32Array, rstd: Float32Array, weight: Float32Array, T: number, C: number,
): void {
  for (let t = 0; t < T; t++) {
    const base = t * C;
    const r = rstd[t];
    let dot = 0; // Σ (dout·w)·xhat
    for (let c = 0; c < C; c++) dot += dout[base + c] * weight[c] * x[base + c] * r;
    const meanDot = dot / C;
    for (let c = 0; c < C; c++) {
      const xhat = x[base + c] * r;
      dx[base + c] += r * (dout[base + c] * weight[c] - xhat * meanDot);
      if (dWeight) dWeight[c] += dout[base + c] * xhat;
    }
  }
}

export type ElementwiseKernels = Required<Pick<Kernels, 'softmaxRows' | 'softmaxRowsBackward' | 'swigluForward' | 'swigluBackward' | 'rmsNormForward' | 'rmsNormBackward'>>;

/** The fused elementwise kernels of a backend, the reference where it has none. */
export function elementwiseOf(kernels: Kernels): ElementwiseKernels {
  return {
    softmaxRows: kernels.softmaxRows ?? softmaxRows,
    softmaxRowsBackward: kernels.softmaxRowsBackward ?? softmaxRowsBackward,
    swigluForward: kernels.swigluForward ?? swigluForward,
    swigluBackward: kernels.swigluBackward ?? swigluBackward,
    rmsNormForward: kernels.rmsNormForward ?? rmsNormForward,
    rmsNormBackward: kernels.rmsNormBackward ?? rmsNormBackward,
  };
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
  softmaxRows,
  softmaxRowsBackward,
  swigluForward,
  swigluBackward,
  rmsNormForward,
  rmsNormBackward,
  getThreads: () => 1,
  setThreads: () => {},
};

export { bf16ToFloat32 };
