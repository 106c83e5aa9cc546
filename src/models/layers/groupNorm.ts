/**
 * GroupNorm over channels-last maps x[N, P, C] (P positions): the C channels split into G
 * consecutive groups; each image and group is normalised with the mean and variance of its
 * P·C/G values, then scaled and shifted per channel. No running statistics: a batch of one
 * behaves exactly like a batch of many. The forward keeps mean and rstd [N, G] for the
 * backward; the backward ADDS into dx and into the weight/bias gradients when given.
 *
 * Both directions make one pass that sums per channel (contiguous, float64 accumulators)
 * and one pass that applies per-channel coefficients: group sums are sums of channel sums.
 */

export function groupNormForward(
  out: Float32Array, mean: Float32Array | null, rstd: Float32Array | null,
  x: Float32Array, weight: Float32Array, bias: Float32Array, N: number, P: number, C: number, G: number, eps: number,
): void {
  const width = C / G;
  const count = P * width;
  const sum = new Float64Array(C);
  const sumSquares = new Float64Array(C);
  const scale = new Float64Array(C);
  const shift = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const image = n * P * C;
    sum.fill(0);
    sumSquares.fill(0);
    for (let p = 0, base = image; p < P; p++, base += C) {
      for (let c = 0; c < C; c++) { const v = x[base + c]; sum[c] += v; sumSquares[c] += v * v; }
    }
    for (let g = 0; g < G; g++) {
      let s = 0;
      let q = 0;
      for (let c = g * width; c < (g + 1) * width; c++) { s += sum[c]; q += sumSquares[c]; }
      const m = s / count;
      // Float64 sums of float32 values: E[x²] − m² loses nothing at float32 precision unless
      // |mean| dwarfs the spread by ~10⁴; clamped at 0 for a constant group.
      const variance = Math.max(0, q / count - m * m);
      const r = 1 / Math.sqrt(variance + eps);
      if (mean) mean[n * G + g] = m;
      if (rstd) rstd[n * G + g] = r;
      for (let c = g * width; c < (g + 1) * width; c++) { scale[c] = r * weight[c]; shift[c] = bias[c] - m * r * weight[c]; }
    }
    for (let p = 0, base = image; p < P; p++, base += C) {
      for (let c = 0; c < C; c++) out[base + c] = x[base + c] * scale[c] + shift[c];
    }
  }
}

export function groupNormBackward(
  dx: Float32Array, dWeight: Float32Array | null, dBias: Float32Array | null,
  dout: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, weight: Float32Array,
  N: number, P: number, C: number, G: number,
): void {
  const width = C / G;
  const count = P * width;
  const sumD = new Float64Array(C); // Σ_p dout
  const sumDX = new Float64Array(C); // Σ_p dout·x
  const a = new Float64Array(C);
  const b = new Float64Array(C);
  const k = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const image = n * P * C;
    sumD.fill(0);
    sumDX.fill(0);
    for (let p = 0, base = image; p < P; p++, base += C) {
      for (let c = 0; c < C; c++) { const d = dout[base + c]; sumD[c] += d; sumDX[c] += d * x[base + c]; }
    }
    for (let g = 0; g < G; g++) {
      const m = mean[n * G + g];
      const r = rstd[n * G + g];
      // Group means of dxhat = dout·w and of dxhat·xhat, xhat = (x − m)·r.
      let d = 0;
      let dxhat = 0;
      for (let c = g * width; c < (g + 1) * width; c++) {
        const channelXhat = r * (sumDX[c] - m * sumD[c]); // Σ_p dout·xhat for channel c
        d += weight[c] * sumD[c];
        dxhat += weight[c] * channelXhat;
        if (dWeight) dWeight[c] += channelXhat;
        if (dBias) dBias[c] += sumD[c];
      }
      const meanD = d / count;
      const meanDX = dxhat / count;
      // dx = r·(dout·w − meanD − xhat·meanDX) = a·dout + b·x + k
      for (let c = g * width; c < (g + 1) * width; c++) {
        a[c] = r * weight[c];
        b[c] = -r * r * meanDX;
        k[c] = r * (m * r * meanDX - meanD);
      }
    }
    for (let p = 0, base = image; p < P; p++, base += C) {
      for (let c = 0; c < C; c++) dx[base + c] += a[c] * dout[base + c] + b[c] * x[base + c] + k[c];
    }
  }
}
