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

  // ---- Optional fused elementwise kernels. Model code takes them through `elementwiseOf(kernels)`
  // (jsKernels.ts), which falls back to the TypeScript reference for a backend without them. All
  // rows are contiguous; outputs must not share memory with inputs.

  /**
   * Softmax in place over each row of x [rows, width]: row r over columns [from[r], valid[r]),
   * every other column set to 0 (causal and packed-sequence masks).
   */
  softmaxRows?(x: Float32Array, rows: number, width: number, from: Int32Array, valid: Int32Array): void;

  /**
   * Softmax backward in place: dScores ← probs ⊙ (dScores − Σ_j dScores·probs)·scale over the
   * same columns as softmaxRows, 0 elsewhere (scale folds in the attention score scale).
   */
  softmaxRowsBackward?(dScores: Float32Array, probs: Float32Array, rows: number, width: number, from: Int32Array, valid: Int32Array, scale: number): void;

  /** out = gelu(x) over `count` values (exact erf form); out may be x itself. */
  geluForward?(out: Float32Array, x: Float32Array, count: number): void;

  /** dx += dout·gelu'(x) over `count` values. */
  geluBackward?(dx: Float32Array, dout: Float32Array, x: Float32Array, count: number): void;

  /** out [T, F] = silu(gate)·up, where gateUp [T, 2F] holds gate | up in each row. */
  swigluForward?(out: Float32Array, gateUp: Float32Array, T: number, F: number): void;

  /** dGateUp [T, 2F] = dOut·up·silu'(gate) | dOut·silu(gate), overwritten. */
  swigluBackward?(dGateUp: Float32Array, dOut: Float32Array, gateUp: Float32Array, T: number, F: number): void;

  /** out[t] = weight ⊙ x[t]·rstd[t], rstd = 1/sqrt(mean(x[t]²) + eps), statistic rounded to float32 as HF does. */
  rmsNormForward?(out: Float32Array, rstd: Float32Array | null, x: Float32Array, weight: Float32Array, T: number, C: number, eps: number): void;

  /** RMSNorm backward: ADDS into dx, and into dWeight when given. */
  rmsNormBackward?(dx: Float32Array, dWeight: Float32Array | null, dOut: Float32Array, x: Float32Array, rstd: Float32Array, weight: Float32Array, T: number, C: number): void;

  /**
   * col [batch·outH·outW, k·k·C] = the input patch under each output position of a convolution
   * over channels-last maps input [batch, H, W, C] (tap-major columns (ky, kx, c), zeros outside).
   */
  im2col?(col: Float32Array, input: Float32Array, batch: number, height: number, width: number, channels: number, kernel: number, stride: number, padding: number): void;

  /** dInput [batch, H, W, C] += the transpose of im2col applied to col. */
  col2imAdd?(dInput: Float32Array, col: Float32Array, batch: number, height: number, width: number, channels: number, kernel: number, stride: number, padding: number): void;

  /**
   * GroupNorm over x [N, P, C] (G groups of C/G consecutive channels, statistics per image and
   * group, float64 sums): out = (x − mean)·rstd·weight + bias; mean and rstd [N, G] kept when given.
   * out may be x itself.
   */
  groupNormForward?(out: Float32Array, mean: Float32Array | null, rstd: Float32Array | null, x: Float32Array, weight: Float32Array, bias: Float32Array, N: number, P: number, C: number, G: number, eps: number): void;

  /** GroupNorm backward: ADDS into dx, and into dWeight/dBias when given. */
  groupNormBackward?(dx: Float32Array, dWeight: Float32Array | null, dBias: Float32Array | null, dOut: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, weight: Float32Array, N: number, P: number, C: number, G: number): void;

  /** Widens f16/bf16 bit patterns (or copies f32) into float32. `dst.length` values are written. */
  toFloat32(src: Float32Array | Uint16Array, dtype: WeightDType, dst: Float32Array): void;

  /** Threads used by the heavy kernels (1 for the reference). */
  getThreads(): number;
  setThreads(threads: number): void;
}
