/** A linear layer y = x·Wᵀ + b over the kernels, with its backward. */
import type { Kernels, Matrix } from '../../engine/kernels.ts';

export interface Linear {
  readonly weight: Matrix; // [out, in]
  readonly bias: Float32Array | null; // [out]
}

/** Gradients of a linear layer; null where the parameter is frozen. Always float32. */
export interface LinearGrads {
  weight: Float32Array | null; // [out, in]
  bias: Float32Array | null; // [out]
}

/** out[T, out] = x[T, in]·Wᵀ + b. */
export function linearForward(kernels: Kernels, out: Float32Array, x: Float32Array, layer: Linear, T: number): void {
  kernels.linear(x, T, layer.weight, out, false);
  const bias = layer.bias;
  if (bias) {
    const N = layer.weight.rows;
    for (let t = 0; t < T; t++) {
      const base = t * N;
      for (let j = 0; j < N; j++) out[base + j] += bias[j];
    }
  }
}

/**
 * dx[T, in] (+)= dout·W, and, when `grads` has them, dW += doutᵀ·x and db += Σ_t dout.
 * `dx` may be null when the input needs no gradient (e.g. the first layer of a tower).
 */
export function linearBackward(
  kernels: Kernels, dx: Float32Array | null, accumulate: boolean, grads: LinearGrads | null,
  dout: Float32Array, x: Float32Array, layer: Linear, T: number,
): void {
  const N = layer.weight.rows;
  const K = layer.weight.cols;
  if (dx) kernels.linearBackwardInput(dout, T, layer.weight, dx, accumulate);
  if (grads?.weight) kernels.gemm(true, false, N, K, T, 1, dout, N, x, K, 1, grads.weight, K);
  if (grads?.bias) {
    const db = grads.bias;
    for (let t = 0; t < T; t++) {
      const base = t * N;
      for (let j = 0; j < N; j++) db[j] += dout[base + j];
    }
  }
}
