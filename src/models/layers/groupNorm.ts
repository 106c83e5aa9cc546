/**
 * GroupNorm over channels-last maps x[N, P, C] (P positions): the C channels split into G
 * consecutive groups; each image and group is normalised with the mean and variance of its
 * P·C/G values, then scaled and shifted per channel. No running statistics: a batch of one
 * behaves exactly like a batch of many. The forward keeps mean and rstd [N, G] for the
 * backward; the backward ADDS into dx and into the weight/bias gradients when given.
 */

export function groupNormForward(
  out: Float32Array, mean: Float32Array | null, rstd: Float32Array | null,
  x: Float32Array, weight: Float32Array, bias: Float32Array, N: number, P: number, C: number, G: number, eps: number,
): void {
  const width = C / G;
  const count = P * width;
  const sums = new Float64Array(G);
  const m = new Float64Array(G);
  const r = new Float64Array(G);
  for (let n = 0; n < N; n++) {
    const image = n * P * C;
    sums.fill(0);
    for (let p = 0; p < P; p++) {
      const base = image + p * C;
      for (let g = 0; g < G; g++) {
        let s = 0;
        for (let j = g * width, end = j + width; j < end; j++) s += x[base + j];
        sums[g] += s;
      }
    }
    for (let g = 0; g < G; g++) { m[g] = sums[g] / count; sums[g] = 0; }
    // Second pass for the variance: no cancellation when the mean is large.
    for (let p = 0; p < P; p++) {
      const base = image + p * C;
      for (let g = 0; g < G; g++) {
        const mg = m[g];
        let s = 0;
        for (let j = g * width, end = j + width; j < end; j++) { const d = x[base + j] - mg; s += d * d; }
        sums[g] += s;
      }
    }
    for (let g = 0; g < G; g++) {
      r[g] = 1 / Math.sqrt(sums[g] / count + eps);
      if (mean) mean[n * G + g] = m[g];
      if (rstd) rstd[n * G + g] = r[g];
    }
    for (let p = 0; p < P; p++) {
      const base = image + p * C;
      for (let g = 0; g < G; g++) {
        const mg = m[g];
        const rg = r[g];
        for (let j = g * width, end = j + width; j < end; j++) out[base + j] = (x[base + j] - mg) * rg * weight[j] + bias[j];
      }
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
  const sumD = new Float64Array(G); // Σ dout·w over the group
  const sumDX = new Float64Array(G); // Σ dout·w·xhat over the group
  for (let n = 0; n < N; n++) {
    const image = n * P * C;
    sumD.fill(0);
    sumDX.fill(0);
    for (let p = 0; p < P; p++) {
      const base = image + p * C;
      for (let g = 0; g < G; g++) {
        const mg = mean[n * G + g];
        const rg = rstd[n * G + g];
        let d = 0;
        let dxhat = 0;
        for (let j = g * width, end = j + width; j < end; j++) {
          const v = dout[base + j] * weight[j];
          d += v;
          dxhat += v * (x[base + j] - mg) * rg;
        }
        sumD[g] += d;
        sumDX[g] += dxhat;
      }
    }
    for (let p = 0; p < P; p++) {
      const base = image + p * C;
      for (let g = 0; g < G; g++) {
        const mg = mean[n * G + g];
        const rg = rstd[n * G + g];
        const meanD = sumD[g] / count;
        const meanDX = sumDX[g] / count;
        for (let j = g * width, end = j + width; j < end; j++) {
          const dy = dout[base + j];
          const xhat = (x[base + j] - mg) * rg;
          dx[base + j] += rg * (dy * weight[j] - meanD - xhat * meanDX);
          if (dWeight) dWeight[j] += dy * xhat;
          if (dBias) dBias[j] += dy;
        }
      }
    }
  }
}
