/**
 * RMSNorm and LayerNorm over rows of length C, forward and backward.
 * The forward keeps `rstd` (1/σ per row, and `mean` for LayerNorm) for the backward.
 * Backward ADDS into dx and into the weight/bias gradients when they are given.
 */

// RMSNorm lives with the kernels (a fused native version exists); re-exported for layer code.
export { rmsNormBackward, rmsNormForward } from '../../engine/jsKernels.ts';

export function layerNormForward(
  out: Float32Array, mean: Float32Array | null, rstd: Float32Array | null,
  x: Float32Array, weight: Float32Array, bias: Float32Array, T: number, C: number, eps: number,
): void {
  for (let t = 0; t < T; t++) {
    const base = t * C;
    let sum = 0;
    for (let c = 0; c < C; c++) sum += x[base + c];
    const m = sum / C;
    let variance = 0;
    for (let c = 0; c < C; c++) { const d = x[base + c] - m; variance += d * d; }
    const r = 1 / Math.sqrt(variance / C + eps);
    if (mean) mean[t] = m;
    if (rstd) rstd[t] = r;
    for (let c = 0; c < C; c++) out[base + c] = (x[base + c] - m) * r * weight[c] + bias[c];
  }
}

export function layerNormBackward(
  dx: Float32Array, dWeight: Float32Array | null, dBias: Float32Array | null,
  dout: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, weight: Float32Array, T: number, C: number,
): void {
  for (let t = 0; t < T; t++) {
    const base = t * C;
    const m = mean[t];
    const r = rstd[t];
    let sumD = 0;
    let sumDX = 0;
    for (let c = 0; c < C; c++) {
      const d = dout[base + c] * weight[c];
      sumD += d;
      sumDX += d * (x[base + c] - m) * r;
    }
    const meanD = sumD / C;
    const meanDX = sumDX / C;
    for (let c = 0; c < C; c++) {
      const xhat = (x[base + c] - m) * r;
      dx[base + c] += r * (dout[base + c] * weight[c] - meanD - xhat * meanDX);
      if (dWeight) dWeight[c] += dout[base + c] * xhat;
      if (dBias) dBias[c] += dout[base + c];
    }
  }
}
