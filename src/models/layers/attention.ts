/**
 * Scaled dot-product attention over a key/value cache, forward and backward, with grouped
 * query heads (query head h reads KV head ⌊h / (H/KVH)⌋, as HF `repeat_kv`).
 *
 * Layouts (dimension letters: T new tokens, Tk = past + T keys, H query heads, KVH KV heads,
 * D head size, cap = rows reserved per KV head in the cache):
 *   q      [H, T, D]      head-major, so that the R = H/KVH heads of one KV group are one matrix
 *   keys   [KVH, cap, D]  rows [0, Tk) valid; the new tokens' rows are [past, Tk)
 *   values [KVH, cap, D]
 *   out    [T, H·D]       token-major, ready for the output projection
 *   probs  [H, T, Tk]     softmax probabilities, kept for the backward
 */
import type { Kernels } from '../../engine/kernels.ts';
import { elementwiseOf } from '../../engine/jsKernels.ts';

export interface AttentionShape {
  readonly T: number;
  readonly past: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** rows per KV head in the cache arrays */
  readonly capacity: number;
  /** causal: query t sees keys [0, past + t] */
  readonly causal: boolean;
  /**
   * Packed sequences: query t sees keys from segmentStart[t] on (the first token of its own
   * sequence), so that several training sequences share one forward without seeing each other.
   */
  readonly segmentStart?: Int32Array;
}

export function attentionForward(
  kernels: Kernels, out: Float32Array, probs: Float32Array,
  q: Float32Array, keys: Float32Array, values: Float32Array, shape: AttentionShape,
  scratch: Float32Array = new Float32Array(shape.heads * shape.T * shape.headDim),
): void {
  const { T, past, heads: H, kvHeads: KVH, headDim: D, capacity } = shape;
  const Tk = past + T;
  const R = H / KVH;
  const scale = 1 / Math.sqrt(D);
  const outHeads = scratch; // [H, T, D]
  const { from, valid } = rowRanges(shape);
  const softmaxRows = elementwiseOf(kernels).softmaxRows;
  for (let g = 0; g < KVH; g++) {
    const groupProbs = probs.subarray(g * R * T * Tk, (g + 1) * R * T * Tk);
    const groupKeys = keys.subarray(g * capacity * D);
    const groupValues = values.subarray(g * capacity * D);
    // All R query heads of the group at once: [R·T, D] · [Tk, D]ᵀ, then [R·T, Tk] · [Tk, D].
    kernels.gemm(false, true, R * T, Tk, D, scale, q.subarray(g * R * T * D), D, groupKeys, D, 0, groupProbs, Tk);
    softmaxRows(groupProbs, R * T, Tk, from, valid);
    kernels.gemm(false, false, R * T, D, Tk, 1, groupProbs, Tk, groupValues, D, 0, outHeads.subarray(g * R * T * D), D);
  }
  toTokenMajor(out, outHeads, T, H, D);
}

/**
 * The keys each of a group's R·T score rows sees: [from, valid) (row r is query token r mod T):
 * causal rows end at their own position, packed sequences start at their segment's first token.
 */
function rowRanges(shape: AttentionShape): { from: Int32Array; valid: Int32Array } {
  const { T, past, heads, kvHeads, causal } = shape;
  const rows = (heads / kvHeads) * T;
  const from = new Int32Array(rows), valid = new Int32Array(rows);
  for (let row = 0; row < rows; row++) {
    const t = row % T;
    from[row] = shape.segmentStart ? shape.segmentStart[t] : 0;
    valid[row] = causal ? past + t + 1 : past + T;
  }
  return { from, valid };
}

/** Floats of scratch the backward needs. */
export function attentionBackwardScratchSize(shape: AttentionShape): number {
  const R = shape.heads / shape.kvHeads;
  return R * shape.T * (shape.past + shape.T) + shape.heads * shape.T * shape.headDim;
}

/**
 * Backward. Writes dq [H, T, D] (overwritten) and ADDS into dkNew/dvNew [KVH, T, D]: the
 * gradients of the new tokens' keys and values only. Keys of the cached prefix are constants
 * (they do not depend on anything after them), so their gradients are not formed.
 * `scratch` holds at least R·T·Tk + H·T·D floats (R = H/KVH).
 */
export function attentionBackward(
  kernels: Kernels, dq: Float32Array, dkNew: Float32Array, dvNew: Float32Array,
  dout: Float32Array, probs: Float32Array, q: Float32Array, keys: Float32Array, values: Float32Array,
  shape: AttentionShape, scratch: Float32Array,
): void {
  const { T, past, heads: H, kvHeads: KVH, headDim: D, capacity } = shape;
  const Tk = past + T;
  const R = H / KVH;
  const scale = 1 / Math.sqrt(D);
  const dScores = scratch.subarray(0, R * T * Tk); // one group's [R·T, Tk]
  const doutHeads = scratch.subarray(R * T * Tk, R * T * Tk + H * T * D); // [H, T, D]
  toHeadMajor(doutHeads, dout, T, H, D);
  const { from, valid } = rowRanges(shape);
  const softmaxRowsBackward = elementwiseOf(kernels).softmaxRowsBackward;
  for (let g = 0; g < KVH; g++) {
    const groupProbs = probs.subarray(g * R * T * Tk, (g + 1) * R * T * Tk);
    const groupOut = doutHeads.subarray(g * R * T * D);
    const groupKeys = keys.subarray(g * capacity * D);
    const groupValues = values.subarray(g * capacity * D);
    // dP = dO · Vᵀ  [R·T, Tk]
    kernels.gemm(false, true, R * T, Tk, D, 1, groupOut, D, groupValues, D, 0, dScores, Tk);
    // dS = P ⊙ (dP − Σ_j dP·P) · scale   (softmax backward, and the score scale)
    softmaxRowsBackward(dScores, groupProbs, R * T, Tk, from, valid, scale);
    // dQ = dS · K  [R·T, D]
    kernels.gemm(false, false, R * T, D, Tk, 1, dScores, Tk, groupKeys, D, 0, dq.subarray(g * R * T * D), D);
    // Over the group's R heads at once: dK_new += dS[:, past:]ᵀ · Q ;  dV_new += P[:, past:]ᵀ · dO
    kernels.gemm(true, false, T, D, R * T, 1, dScores.subarray(past), Tk, q.subarray(g * R * T * D), D, 1, dkNew.subarray(g * T * D), D);
    kernels.gemm(true, false, T, D, R * T, 1, groupProbs.subarray(past), Tk, groupOut, D, 1, dvNew.subarray(g * T * D), D);
  }
}

/**
 * [T, heads·D] token-major (rows `srcStride` apart) → [heads, T, D] head-major, into rows
 * [rowOffset, rowOffset + T) of each head block of `rowsPerHead` rows.
 */
export function toHeadMajor(dst: Float32Array, src: Float32Array, T: number, heads: number, D: number, rowsPerHead = T, rowOffset = 0, srcStride = heads * D): void {
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < heads; h++) {
      const from = t * srcStride + h * D;
      const to = (h * rowsPerHead + rowOffset + t) * D;
      for (let d = 0; d < D; d++) dst[to + d] = src[from + d];
    }
  }
}

/** [heads, T, D] head-major → [T, heads·D] token-major, rows `dstStride` apart. */
export function toTokenMajor(dst: Float32Array, src: Float32Array, T: number, heads: number, D: number, dstStride = heads * D): void {
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < T; t++) {
      const from = (h * T + t) * D;
      const to = t * dstStride + h * D;
      for (let d = 0; d < D; d++) dst[to + d] = src[from + d];
    }
  }
}
