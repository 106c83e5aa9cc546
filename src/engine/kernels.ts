/**
 * The kernel interface: the only place where the engine's heavy arithmetic happens.
 *
 * Model code (src/models) is plain TypeScript over this interface. Two implementations exist:
 * `jsKernels` (plain TypeScript, the reference) and `nativeKernels` (an N-API addon over
 * OpenBLAS, the fast path). Every native kernel is tested against the reference.
 *
 * Conventions: matrices are row-major. Arrays are passed as views (`subarray`) so that a
 * kernel never needs an offset argument; leading dimensions (`lda`, …) say how many elements
 * separate two rows, which lets a kernel read one head out of an interleaved [T, H·D] buffer.
 */

export type WeightDType = 'f32' | 'f16' | 'bf16';

/**
 * A weight matrix in nn.Linear layout: `rows` output features × `cols` input features.
 * Compact dtypes stay compact in memory: f16/bf16 data are raw 16-bit patterns.
 */
export interface Matrix {
  readonly dtype: WeightDType;
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array | Uint16Array;
}

export interface Kernels {
  /** 'js' or 'native' (with its BLAS). */
  readonly name: string;

  /**
   * C = alpha·op(A)·op(B) + beta·C, all float32, row-major.
   * op(A) is m×k (A is m×k with lda ≥ k, or k×m with lda ≥ m when transA),
   * op(B) is k×n (B is k×n with ldb ≥ n, or n×k with ldb ≥ k when transB), C is m×n (ldc ≥ n).
   * When beta is 0, C is overwritten (its old contents, even NaN, are ignored).
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number,
    beta: number, c: Float32Array, ldc: number,
  ): void;

  /**
   * Linear forward: out[m×n] = x[m×k]·Wᵀ (+ out when accumulate), W is n×k in any dtype.
   * `ldx`/`ldout` default to k/n.
   */
  linear(x: Float32Array, m: number, w: Matrix, out: Float32Array, accumulate: boolean, ldx?: number, ldout?: number): void;

  /**
   * Linear backward to the input: dx[m×k] = dy[m×n]·W (+ dx when accumulate), W is n×k in any dtype.
   */
  linearBackwardInput(dy: Float32Array, m: number, w: Matrix, dx: Float32Array, accumulate: boolean): void;

  /** Widens f16/bf16 bit patterns (or copies f32) into float32. `dst.length` values are written. */
  toFloat32(src: Float32Array | Uint16Array, dtype: WeightDType, dst: Float32Array): void;

  /** Threads used by the heavy kernels (1 for the reference). */
  getThreads(): number;
  setThreads(threads: number): void;
}
