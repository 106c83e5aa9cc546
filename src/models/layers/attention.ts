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
 *   probs  [H, T, Tk]     softmax probabilities, kept for the backward (packed sequences:
 *                         compact causal blocks [Ts, Ts] per head and sequence, in order)
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
   * Packed sequences: segmentStart[t] is the first new token of query t's own sequence, so that
   * several training sequences share one forward without seeing each other. Every sequence also
   * sees the `past` cached keys: a prefix they all share (e.g. the system prompt), computed once.
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
  const segments = packedSegments(shape);
  if (segments) {
    // Packed training sequences: each (head, sequence) is its own small causal attention over
    // the shared prefix's P = past keys and its own Ts keys; the probabilities are kept as
    // compact [Ts, P + Ts] blocks one after another (head-major, then sequence), not as [H, T, Tk].
    const softmaxRows = elementwiseOf(kernels).softmaxRows;
    const P = past;
    let offset = 0;
    for (let h = 0; h < H; h++) {
      const groupKeys = keys.subarray(Math.floor(h / R) * capacity * D);
      const groupValues = values.subarray(Math.floor(h / R) * capacity * D);
      for (const [a, b] of segments) {
        const Ts = b - a;
        const W = P + Ts;
        const block = probs.subarray(offset, offset + Ts * W);
        const qRows = q.subarray((h * T + a) * D);
        const outRows = outHeads.subarray((h * T + a) * D);
        if (P > 0) kernels.gemm(false, true, Ts, P, D, scale, qRows, D, groupKeys, D, 0, block, W);
        kernels.gemm(false, true, Ts, Ts, D, scale, qRows, D, groupKeys.subarray((P + a) * D), D, 0, block.subarray(P), W);
        const { from, valid } = causalBlockRanges(Ts, P);
        softmaxRows(block, Ts, W, from, valid);
        if (P > 0) kernels.gemm(false, false, Ts, D, P, 1, block, W, groupValues, D, 0, outRows, D);
        kernels.gemm(false, false, Ts, D, Ts, 1, block.subarray(P), W, groupValues.subarray((P + a) * D), D, P > 0 ? 1 : 0, outRows, D);
        offset += Ts * W;
      }
    }
    toTokenMajor(out, outHeads, T, H, D);
    return;
  }
  if (shape.segmentStart && past > 0) throw new RangeError('packed sequences after a shared prefix must be contiguous and causal');
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

/**
 * The packed sequences as [start, end) token ranges, when attention can run block by block:
 * segments given (contiguous), causal. Otherwise null (the general path).
 */
function packedSegments(shape: AttentionShape): Array<[number, number]> | null {
  const starts = shape.segmentStart;
  if (!starts || !shape.causal) return null;
  const segments: Array<[number, number]> = [];
  for (let t = 0; t < shape.T; t++) {
    if (starts[t] === t) segments.push([t, t + 1]);
    else if (segments.length === 0 || starts[t] !== segments[segments.length - 1][0]) return null; // not contiguous: general path
    else segments[segments.length - 1][1] = t + 1;
  }
  return segments;
}

const causalRanges = new Map<string, { from: Int32Array; valid: Int32Array }>();
/** Row ranges of a causal [n, prefix + n] block: row t sees columns [0, prefix + t]. */
function causalBlockRanges(n: number, prefix: number): { from: Int32Array; valid: Int32Array } {
  const key = `${n},${prefix}`;
  let ranges = causalRanges.get(key);
  if (!ranges) {
    ranges = { from: new Int32Array(n), valid: Int32Array.from({ length: n }, (_, t) => prefix + t + 1) };
    if (causalRanges.size < 4096) causalRanges.set(key, ranges);
  }
  return ranges;
}

/** Floats of scratch the backward needs. */
export function attentionBackwardScratchSize(shape: AttentionShape): number {
  return scoreScratchSize(shape) + shape.heads * shape.T * shape.headDim;
}

/** Floats of one group's score matrix in the backward (packed: the largest block). */
function scoreScratchSize(shape: AttentionShape, segments = packedSegments(shape)): number {
  if (segments) return segments.reduce((m, [a, b]) => Math.max(m, (b - a) * (shape.past + b - a)), 0);
  return (shape.heads / shape.kvHeads) * shape.T * (shape.past + shape.T);
}

/** Floats of the probabilities the forward keeps: [H, T, Tk], or the compact blocks of packed sequences. */
export function attentionProbsSize(shape: AttentionShape): number {
  const segments = packedSegments(shape);
  if (segments) return shape.heads * segments.reduce((sum, [a, b]) => sum + (b - a) * (shape.past + b - a), 0);
  return shape.heads * shape.T * (shape.past + shape.T);
}

/**
 * Backward. Writes dq [H, T, D] (overwritten) and ADDS into dkNew/dvNew [KVH, T, D]: the
 * gradients of the new tokens' keys and values. The cached prefix's keys and values get
 * gradients only when `past` is given (packed sequences after a shared prefix whose weights are
 * trained): they are ADDED into past.keys/values [KVH, past, D]; otherwise they are constants.
 * `scratch` holds at least attentionBackwardScratchSize(shape) floats.
 */
export function attentionBackward(
  kernels: Kernels, dq: Float32Array, dkNew: Float32Array, dvNew: Float32Array,
  dout: Float32Array, probs: Float32Array, q: Float32Array, keys: Float32Array, values: Float32Array,
  shape: AttentionShape, scratch: Float32Array,
  pastGrads?: { readonly keys: Float32Array; readonly values: Float32Array },
): void {
  const { T, past, heads: H, kvHeads: KVH, headDim: D, capacity } = shape;
  const Tk = past + T;
  const R = H / KVH;
  const scale = 1 / Math.sqrt(D);
  const segments = packedSegments(shape);
  const scoreSpace = scoreScratchSize(shape, segments);
  const dScores = scratch.subarray(0, scoreSpace); // one group's [R·T, Tk] (packed: one block)
  const doutHeads = scratch.subarray(scoreSpace, scoreSpace + H * T * D); // [H, T, D]
  toHeadMajor(doutHeads, dout, T, H, D);
  if (segments) {
    // Block by block, as the forward (probabilities in compact [Ts, P + Ts] blocks).
    const softmaxRowsBackward = elementwiseOf(kernels).softmaxRowsBackward;
    const P = past;
    let offset = 0;
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / R);
      const groupKeys = keys.subarray(g * capacity * D);
      const groupValues = values.subarray(g * capacity * D);
      for (const [a, b] of segments) {
        const Ts = b - a;
        const W = P + Ts;
        const block = probs.subarray(offset, offset + Ts * W);
        const dBlock = dScores.subarray(0, Ts * W);
        const dOut = doutHeads.subarray((h * T + a) * D);
        const qRows = q.subarray((h * T + a) * D);
        const dqRows = dq.subarray((h * T + a) * D);
        // dP = dO · Vᵀ over the prefix's values and the sequence's own
        if (P > 0) kernels.gemm(false, true, Ts, P, D, 1, dOut, D, groupValues, D, 0, dBlock, W);
        kernels.gemm(false, true, Ts, Ts, D, 1, dOut, D, groupValues.subarray((P + a) * D), D, 0, dBlock.subarray(P), W);
        const { from, valid } = causalBlockRanges(Ts, P);
        softmaxRowsBackward(dBlock, block, Ts, W, from, valid, scale);
        if (P > 0) kernels.gemm(false, false, Ts, D, P, 1, dBlock, W, groupKeys, D, 0, dqRows, D);
        kernels.gemm(false, false, Ts, D, Ts, 1, dBlock.subarray(P), W, groupKeys.subarray((P + a) * D), D, P > 0 ? 1 : 0, dqRows, D);
        kernels.gemm(true, false, Ts, D, Ts, 1, dBlock.subarray(P), W, qRows, D, 1, dkNew.subarray((g * T + a) * D), D);
        kernels.gemm(true, false, Ts, D, Ts, 1, block.subarray(P), W, dOut, D, 1, dvNew.subarray((g * T + a) * D), D);
        if (P > 0 && pastGrads) {
          kernels.gemm(true, false, P, D, Ts, 1, dBlock, W, qRows, D, 1, pastGrads.keys.subarray(g * P * D), D);
          kernels.gemm(true, false, P, D, Ts, 1, block, W, dOut, D, 1, pastGrads.values.subarray(g * P * D), D);
        }
        offset += Ts * W;
      }
    }
    return;
  }
  if (pastGrads) throw new RangeError('gradients of cached keys and values are formed for packed sequences only');
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
