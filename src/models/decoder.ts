/**
 * The Llama / Qwen2 decoder: pre-norm transformer layers (RMSNorm → attention with RoPE and
 * grouped KV heads → residual; RMSNorm → SwiGLU MLP → residual), forward with a KV cache and
 * a hand-written backward. Qwen2 differs only by biases on q, k and v; Mistral only by its sliding
 * window, which sequences within it never reach.
 *
 * Dimension letters: T new tokens, Tk = past + T, C hidden, H heads, KVH KV heads, D head
 * size, F MLP width.
 */
import type { Kernels, Matrix } from '../engine/kernels.ts';
import { attentionBackward, attentionBackwardScratchSize, attentionForward, attentionProbsSize, toHeadMajor, toTokenMajor, type AttentionShape } from './layers/attention.ts';
import { linearBackward, linearForward, type Linear, type LinearGrads } from './layers/linear.ts';
import { elementwiseOf } from '../engine/jsKernels.ts';
import { RotaryTable } from './layers/rope.ts';
import { KVCache } from './kvCache.ts';

export interface DecoderConfig {
  readonly kind: 'llama' | 'qwen2' | 'mistral';
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  readonly tieWordEmbeddings: boolean;
  /**
   * Mistral's sliding window (tokens a position sees, itself included); null or absent: full
   * causal attention. Sequences up to the window are exactly full causal attention, which is all
   * this decoder computes: longer ones are refused.
   */
  readonly slidingWindow?: number | null;
}

export interface DecoderLayerWeights {
  readonly inputNorm: Float32Array; // [C]
  readonly q: Linear; // [H·D, C]
  readonly k: Linear; // [KVH·D, C]
  readonly v: Linear; // [KVH·D, C]
  readonly o: Linear; // [C, H·D]
  readonly postNorm: Float32Array; // [C]
  readonly gate: Linear; // [F, C]
  readonly up: Linear; // [F, C]
  readonly down: Linear; // [C, F]
}

export interface DecoderWeights {
  readonly embedTokens: Matrix; // [V, C]
  readonly layers: readonly DecoderLayerWeights[];
  readonly norm: Float32Array; // [C]
  readonly lmHead: Matrix; // [V, C] (the same object as embedTokens when tied)
}

export interface DecoderLayerGrads {
  inputNorm: Float32Array; q: LinearGrads; k: LinearGrads; v: LinearGrads; o: LinearGrads;
  postNorm: Float32Array; gate: LinearGrads; up: LinearGrads; down: LinearGrads;
}

/** What one layer's forward keeps for its backward. */
interface LayerTape {
  x: Float32Array; // [T, C] layer input
  rstd1: Float32Array; // [T]
  h1: Float32Array; // [T, C] normed input
  q: Float32Array; // [H, T, D] post-RoPE
  probs: Float32Array; // [H, T, Tk]
  attn: Float32Array; // [T, H·D] attention output (o_proj input)
  x2: Float32Array; // [T, C] after the attention residual
  rstd2: Float32Array; // [T]
  h2: Float32Array; // [T, C]
  gateUp: Float32Array; // [T, 2F] gate | up
  act: Float32Array; // [T, F] silu(gate)·up
}

/** Per layer, gradients of keys and values as the cache holds them (after RoPE): [KVH, tokens, D] each. */
export interface KeyValueGrads {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
}

/** Everything a decoder forward kept, for one backward. */
export interface DecoderTape {
  /** Buffers taken from the decoder's pool, handed back by `Decoder.releaseTape`. */
  readonly pooled?: Float32Array[];
  readonly T: number;
  readonly past: number;
  /** Packed sequences: each token's first visible key, and its RoPE position. */
  readonly segmentStart: Int32Array | null;
  readonly positions: Int32Array | null;
  readonly layers: LayerTape[];
  readonly cache: KVCache;
}

/** Matrices stored back to back in one buffer, seen as one (what fusion needs), or null. */
function adjacentStack(parts: readonly Matrix[]): Matrix | null {
  const first = parts[0];
  let end = first.data.byteOffset + first.data.byteLength;
  for (const part of parts.slice(1)) {
    if (part.dtype !== first.dtype || part.cols !== first.cols || part.data.buffer !== first.data.buffer || part.data.byteOffset !== end) return null;
    end += part.data.byteLength;
  }
  const rows = parts.reduce((sum, part) => sum + part.rows, 0);
  const data = first.dtype === 'f32'
    ? new Float32Array(first.data.buffer, first.data.byteOffset, rows * first.cols)
    : new Uint16Array(first.data.buffer, first.data.byteOffset, rows * first.cols);
  return { dtype: first.dtype, rows, cols: first.cols, data };
}

function adjacentVectors(parts: readonly (Float32Array | null)[]): Float32Array | null {
  if (parts.every((part) => part === null)) return null;
  const first = parts[0];
  if (!first || parts.some((part) => !part || part.buffer !== first.buffer)) return null;
  let end = first.byteOffset;
  for (const part of parts) { if (part!.byteOffset !== end) return null; end += part!.byteLength; }
  return new Float32Array(first.buffer, first.byteOffset, (end - first.byteOffset) / 4);
}

/** Copies parts into one new buffer (float32 when dtypes differ) and returns the stack and its views. */
function copyStack(parts: readonly Matrix[], kernels: Kernels): { stack: Matrix; views: Matrix[] } {
  const sameDtype = parts.every((part) => part.dtype === parts[0].dtype);
  const dtype = sameDtype ? parts[0].dtype : 'f32';
  const cols = parts[0].cols;
  const rows = parts.reduce((sum, part) => sum + part.rows, 0);
  const data = dtype === 'f32' ? new Float32Array(rows * cols) : new Uint16Array(rows * cols);
  let offset = 0;
  const views = parts.map((part) => {
    const view = data.subarray(offset, offset + part.rows * cols);
    if (dtype === part.dtype) view.set(part.data as never);
    else kernels.toFloat32(part.data, part.dtype, view as Float32Array);
    offset += part.rows * cols;
    return { dtype, rows: part.rows, cols, data: view };
  });
  return { stack: { dtype, rows, cols, data }, views };
}

function copyVectors(parts: readonly (Float32Array | null)[]): { stack: Float32Array; views: Float32Array[] } {
  const lengths = parts.map((part, i) => part?.length ?? 0);
  const stack = new Float32Array(lengths.reduce((a, b) => a + b, 0));
  let offset = 0;
  const views = parts.map((part, i) => {
    const view = stack.subarray(offset, offset + lengths[i]);
    if (part) view.set(part);
    offset += lengths[i];
    return view;
  });
  return { stack, views };
}

/**
 * Float buffers kept between training steps, by length: a step's tape (~7 MB per layer for 64
 * tokens after 600) would otherwise be fresh zeroed memory every step, paid in page faults and
 * garbage collection. Buffers come back dirty: takers overwrite them.
 */
class BufferPool {
  // Keyed by capacity. Lengths are rounded up to a quarter-octave step, so that sequences of
  // every length (packed training batches vary token by token) share a bounded set of buffers;
  // keyed by exact length the pool grew by hundreds of MB a minute in pretraining.
  private readonly free = new Map<number, Float32Array[]>();

  static capacityFor(length: number): number {
    if (length <= 1024) return 1024;
    const step = 2 ** (Math.floor(Math.log2(length)) - 2);
    return Math.ceil(length / step) * step;
  }

  take(length: number, taken: Float32Array[]): Float32Array {
    const capacity = BufferPool.capacityFor(length);
    const buffer = this.free.get(capacity)?.pop() ?? new Float32Array(capacity);
    taken.push(buffer);
    return buffer.subarray(0, length);
  }

  give(buffers: Float32Array[]): void {
    for (const buffer of buffers) {
      const list = this.free.get(buffer.length);
      if (list) list.push(buffer);
      else this.free.set(buffer.length, [buffer]);
    }
    buffers.length = 0;
  }
}

/** The fused products of a layer: q/k/v as one [H·D + 2·KVH·D, C] linear, gate/up as one [2F, C]. */
interface FusedLayer {
  readonly qkv: Linear;
  readonly gateUp: Linear;
}

export class Decoder {
  readonly rotary: RotaryTable;
  private readonly fused: FusedLayer[];
  private readonly pool = new BufferPool();

  constructor(readonly config: DecoderConfig, readonly weights: DecoderWeights, private readonly kernels: () => Kernels) {
    this.rotary = new RotaryTable(config.headDim, config.ropeTheta);
    // q/k/v and gate/up run as one product each. The loader stores them back to back, so
    // fusion is free; otherwise they are copied once and the layer's weights become views of
    // the copy (so that training updates reach what the forward reads).
    const layers = weights.layers as DecoderLayerWeights[];
    this.fused = layers.map((w, l) => {
      let qkvWeight = adjacentStack([w.q.weight, w.k.weight, w.v.weight]);
      let qkvBias = adjacentVectors([w.q.bias, w.k.bias, w.v.bias]);
      let gateUpWeight = adjacentStack([w.gate.weight, w.up.weight]);
      let layer = w;
      if (!qkvWeight || (!qkvBias && w.q.bias)) {
        const weightsCopy = copyStack([w.q.weight, w.k.weight, w.v.weight], kernels());
        const biasCopy = w.q.bias ? copyVectors([w.q.bias, w.k.bias, w.v.bias]) : null;
        qkvWeight = weightsCopy.stack;
        qkvBias = biasCopy?.stack ?? null;
        layer = {
          ...layer,
          q: { weight: weightsCopy.views[0], bias: biasCopy?.views[0] ?? null },
          k: { weight: weightsCopy.views[1], bias: biasCopy?.views[1] ?? null },
          v: { weight: weightsCopy.views[2], bias: biasCopy?.views[2] ?? null },
        };
      }
      if (!gateUpWeight) {
        const copy = copyStack([w.gate.weight, w.up.weight], kernels());
        gateUpWeight = copy.stack;
        layer = { ...layer, gate: { weight: copy.views[0], bias: null }, up: { weight: copy.views[1], bias: null } };
      }
      layers[l] = layer;
      return { qkv: { weight: qkvWeight, bias: qkvBias }, gateUp: { weight: gateUpWeight, bias: null } };
    });
  }

  /**
   * Hands a tape's buffers back for the next forward with a tape to reuse (after its backward;
   * nothing read from the tape may be used afterwards). Optional: an unreleased tape is simply
   * garbage-collected.
   */
  releaseTape(tape: DecoderTape): void {
    if (tape.pooled) this.pool.give(tape.pooled);
  }

  newCache(capacity = 256): KVCache {
    const { numLayers, numKvHeads, headDim } = this.config;
    return new KVCache(numLayers, numKvHeads, headDim, capacity);
  }

  /**
   * Runs the layers over T new tokens whose input embeddings are `embeds` [T, C], appending
   * their keys/values to `cache` (positions continue from cache.length). Returns the residual
   * stream after the last layer, before the final norm [T, C]. With `tape`, keeps what the
   * backward needs. `onLayerOutput(i, x)` sees the stream after layer i (i = 0 for the input).
   */
  forward(
    embeds: Float32Array, T: number, cache: KVCache,
    options: {
      tape?: boolean;
      onLayerOutput?: (layer: number, x: Float32Array) => void;
      /**
       * Packed training sequences: the index of each sequence's first token (the first is 0).
       * Tokens already in the cache are a prefix every sequence sees (positions continue after it).
       */
      segmentStarts?: readonly number[];
    } = {},
  ): { hidden: Float32Array; tape: DecoderTape | null } {
    const kernels = this.kernels();
    const ew = elementwiseOf(kernels);
    const { hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: KVH, headDim: D, rmsNormEps: eps } = this.config;
    if (embeds.length < T * C) throw new RangeError(`decoder input holds ${embeds.length} values, expected ${T}×${C}`);
    const past = cache.length;
    const Tk = past + T;
    const window = this.config.slidingWindow;
    if (window && Tk > window) throw new RangeError(`${Tk} tokens exceed the model's sliding window of ${window}: sliding-window attention is not implemented (sequences within the window are computed exactly)`);
    cache.reserve(Tk);
    const { segmentStart, positions } = packing(options.segmentStarts, T, past);
    const shape: AttentionShape = { T, past, heads: H, kvHeads: KVH, headDim: D, capacity: cache.capacity, causal: true, segmentStart: segmentStart ?? undefined };
    const rotaryStart = positions ?? past;
    const keep = options.tape === true;
    const tapes: LayerTape[] = [];
    const pooled: Float32Array[] = [];
    // a tape's buffers come from the pool (the last layer's output too: it is returned, not taped)
    const tapeBuffer = (length: number) => (keep ? this.pool.take(length, pooled) : new Float32Array(length));
    const QKV = (H + 2 * KVH) * D; // width of the fused q/k/v output
    const attentionHeads = new Float32Array(H * T * D);
    const qkv = new Float32Array(T * QKV);
    let x = embeds.subarray(0, T * C);
    options.onLayerOutput?.(0, x);
    // Buffers reused across layers when nothing is kept.
    const scratch = keep ? null : {
      rstd1: new Float32Array(T), h1: new Float32Array(T * C), q: new Float32Array(H * T * D),
      probs: new Float32Array(H * T * Tk), attn: new Float32Array(T * H * D), rstd2: new Float32Array(T),
      h2: new Float32Array(T * C), gateUp: new Float32Array(T * 2 * F), act: new Float32Array(T * F),
    };
    for (let l = 0; l < this.weights.layers.length; l++) {
      const w = this.weights.layers[l];
      const fused = this.fused[l];
      const rstd1 = scratch?.rstd1 ?? tapeBuffer(T);
      const h1 = scratch?.h1 ?? tapeBuffer(T * C);
      ew.rmsNormForward(h1, rstd1, x, w.inputNorm, T, C, eps);

      linearForward(kernels, qkv, h1, fused.qkv, T);
      this.rotary.apply(qkv, T, H, rotaryStart, false, QKV);
      this.rotary.apply(qkv.subarray(H * D), T, KVH, rotaryStart, false, QKV);
      const q = scratch?.q ?? tapeBuffer(H * T * D);
      toHeadMajor(q, qkv, T, H, D, T, 0, QKV);
      toHeadMajor(cache.keys[l], qkv.subarray(H * D), T, KVH, D, cache.capacity, past, QKV);
      toHeadMajor(cache.values[l], qkv.subarray((H + KVH) * D), T, KVH, D, cache.capacity, past, QKV);

      const probs = scratch?.probs ?? tapeBuffer(attentionProbsSize(shape));
      const attn = scratch?.attn ?? tapeBuffer(T * H * D);
      attentionForward(kernels, attn, probs, q, cache.keys[l], cache.values[l], shape, attentionHeads);

      const x2 = tapeBuffer(T * C);
      linearForward(kernels, x2, attn, w.o, T);
      for (let i = 0; i < T * C; i++) x2[i] += x[i];

      const rstd2 = scratch?.rstd2 ?? tapeBuffer(T);
      const h2 = scratch?.h2 ?? tapeBuffer(T * C);
      ew.rmsNormForward(h2, rstd2, x2, w.postNorm, T, C, eps);
      const gateUp = scratch?.gateUp ?? tapeBuffer(T * 2 * F);
      const act = scratch?.act ?? tapeBuffer(T * F);
      linearForward(kernels, gateUp, h2, fused.gateUp, T);
      ew.swigluForward(act, gateUp, T, F);
      const last = l === this.weights.layers.length - 1;
      const x3 = last ? new Float32Array(T * C) : tapeBuffer(T * C);
      linearForward(kernels, x3, act, w.down, T);
      for (let i = 0; i < T * C; i++) x3[i] += x2[i];

      if (keep) tapes.push({ x, rstd1, h1, q, probs, attn, x2, rstd2, h2, gateUp, act });
      x = x3;
      options.onLayerOutput?.(l + 1, x);
    }
    cache.length = Tk;
    return { hidden: x, tape: keep ? { pooled, T, past, segmentStart, positions, layers: tapes, cache } : null };
  }

  /**
   * Backward through the layers: from dHidden [T, C] (gradient of the pre-final-norm output)
   * to the gradient of the input embeddings [T, C]. Adds weight gradients into `grads` when
   * given (all weights must then be float32). The cache must still hold the tape's tokens.
   * A shared prefix (packed sequences after cached tokens) is trained in two backwards:
   * `pastKeyValueGrads` collects, per layer, the gradients of the cached keys and values
   * [KVH, past, D] (added); the prefix's own backward then takes them as `keyValueGrads`
   * [KVH, T, D], added to what its tokens' keys and values get from within.
   */
  backward(
    tape: DecoderTape, dHidden: Float32Array, grads: DecoderLayerGrads[] | null = null,
    options: { pastKeyValueGrads?: KeyValueGrads; keyValueGrads?: KeyValueGrads } = {},
  ): Float32Array {
    const kernels = this.kernels();
    const ew = elementwiseOf(kernels);
    const { hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: KVH, headDim: D } = this.config;
    const { T, past, cache } = tape;
    const Tk = past + T;
    if (cache.length < Tk) throw new Error(`the KV cache was rewound (${cache.length} < ${Tk} tokens) before the backward`);
    const shape: AttentionShape = { T, past, heads: H, kvHeads: KVH, headDim: D, capacity: cache.capacity, causal: true, segmentStart: tape.segmentStart ?? undefined };
    const rotaryStart = tape.positions ?? past;
    const QKV = (H + 2 * KVH) * D;
    const dx = new Float32Array(T * C);
    dx.set(dHidden.subarray(0, T * C));
    // temporaries from the pool, every one overwritten before it is read (dk/dv are cleared per layer)
    const temporaries: Float32Array[] = [];
    const temporary = (length: number) => this.pool.take(length, temporaries);
    const dAct = temporary(T * F);
    const dGateUp = temporary(T * 2 * F);
    const dh = temporary(T * C);
    const dAttn = temporary(T * H * D);
    const dqHeads = temporary(H * T * D);
    const dkHeads = temporary(KVH * T * D);
    const dvHeads = temporary(KVH * T * D);
    const dqkv = temporary(T * QKV);
    const scratch = temporary(attentionBackwardScratchSize(shape));
    for (let l = this.weights.layers.length - 1; l >= 0; l--) {
      const w = this.weights.layers[l];
      const fused = this.fused[l];
      const s = tape.layers[l];
      const g = grads?.[l] ?? null;
      // x3 = x2 + down(act): dx (currently d x3) flows to x2 unchanged, plus through the MLP.
      linearBackward(kernels, dAct, false, g?.down ?? null, dx, s.act, w.down, T);
      ew.swigluBackward(dGateUp, dAct, s.gateUp, T, F);
      kernels.linearBackwardInput(dGateUp, T, fused.gateUp.weight, dh, false);
      if (g) {
        stridedWeightGrad(kernels, g.gate, dGateUp, 2 * F, s.h2, T, F, C);
        stridedWeightGrad(kernels, g.up, dGateUp.subarray(F), 2 * F, s.h2, T, F, C);
      }
      ew.rmsNormBackward(dx, g?.postNorm ?? null, dh, s.x2, s.rstd2, w.postNorm, T, C);
      // dx is now d x2; x2 = x + o(attn).
      linearBackward(kernels, dAttn, false, g?.o ?? null, dx, s.attn, w.o, T);
      const injected = options.keyValueGrads;
      if (injected) {
        dkHeads.set(injected.keys[l].subarray(0, KVH * T * D));
        dvHeads.set(injected.values[l].subarray(0, KVH * T * D));
      } else {
        dkHeads.fill(0);
        dvHeads.fill(0);
      }
      const pastGrads = options.pastKeyValueGrads ? { keys: options.pastKeyValueGrads.keys[l], values: options.pastKeyValueGrads.values[l] } : undefined;
      attentionBackward(kernels, dqHeads, dkHeads, dvHeads, dAttn, s.probs, s.q, cache.keys[l], cache.values[l], shape, scratch, pastGrads);
      toTokenMajor(dqkv, dqHeads, T, H, D, QKV);
      toTokenMajor(dqkv.subarray(H * D), dkHeads, T, KVH, D, QKV);
      toTokenMajor(dqkv.subarray((H + KVH) * D), dvHeads, T, KVH, D, QKV);
      this.rotary.apply(dqkv, T, H, rotaryStart, true, QKV);
      this.rotary.apply(dqkv.subarray(H * D), T, KVH, rotaryStart, true, QKV);
      kernels.linearBackwardInput(dqkv, T, fused.qkv.weight, dh, false);
      if (g) {
        stridedWeightGrad(kernels, g.q, dqkv, QKV, s.h1, T, H * D, C);
        stridedWeightGrad(kernels, g.k, dqkv.subarray(H * D), QKV, s.h1, T, KVH * D, C);
        stridedWeightGrad(kernels, g.v, dqkv.subarray((H + KVH) * D), QKV, s.h1, T, KVH * D, C);
      }
      ew.rmsNormBackward(dx, g?.inputNorm ?? null, dh, s.x, s.rstd1, w.inputNorm, T, C);
    }
    this.pool.give(temporaries);
    return dx;
  }
}

/** Per-token first visible key and RoPE position of packed sequences (null when not packed). */
function packing(segmentStarts: readonly number[] | undefined, T: number, past: number): { segmentStart: Int32Array | null; positions: Int32Array | null } {
  // One sequence alone is a plain causal run, unless it follows a shared prefix (whose key and
  // value gradients only the packed attention forms).
  if (!segmentStarts || (segmentStarts.length <= 1 && past === 0)) {
    if (segmentStarts && segmentStarts.length === 1 && segmentStarts[0] !== 0) throw new RangeError('the first packed sequence must start at token 0');
    return { segmentStart: null, positions: null };
  }
  // A cached prefix (past > 0) is shared: every sequence sees it and continues its positions.
  const segmentStart = new Int32Array(T);
  const positions = new Int32Array(T);
  let segment = 0;
  if (segmentStarts[0] !== 0) throw new RangeError('the first packed sequence must start at token 0');
  for (let t = 0; t < T; t++) {
    while (segment + 1 < segmentStarts.length && segmentStarts[segment + 1] <= t) {
      if (segmentStarts[segment + 1] <= segmentStarts[segment]) throw new RangeError('packed sequence starts must increase');
      segment++;
    }
    segmentStart[t] = segmentStarts[segment];
    positions[t] = past + t - segmentStarts[segment];
  }
  return { segmentStart, positions };
}

/** dW [N, K] += doutᵀ·x and db += Σ_t dout, where dout is N columns of a wider [T, ld] array. */
function stridedWeightGrad(kernels: Kernels, grads: LinearGrads, dout: Float32Array, ld: number, x: Float32Array, T: number, N: number, K: number): void {
  if (grads.weight) kernels.gemm(true, false, N, K, T, 1, dout, ld, x, K, 1, grads.weight, K);
  if (grads.bias) {
    for (let t = 0; t < T; t++) {
      const base = t * ld;
      for (let j = 0; j < N; j++) grads.bias[j] += dout[base + j];
    }
  }
}

/** Zeroed float32 gradients for every layer weight (for pretraining). */
export function newDecoderLayerGrads(weights: DecoderWeights): DecoderLayerGrads[] {
  const linear = (layer: Linear): LinearGrads => ({
    weight: new Float32Array(layer.weight.rows * layer.weight.cols),
    bias: layer.bias ? new Float32Array(layer.bias.length) : null,
  });
  return weights.layers.map((w) => ({
    inputNorm: new Float32Array(w.inputNorm.length), q: linear(w.q), k: linear(w.k), v: linear(w.v), o: linear(w.o),
    postNorm: new Float32Array(w.postNorm.length), gate: linear(w.gate), up: linear(w.up), down: linear(w.down),
  }));
}
