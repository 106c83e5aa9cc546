/**
 * The Llama / Qwen2 decoder: pre-norm transformer layers (RMSNorm → attention with RoPE and
 * grouped KV heads → residual; RMSNorm → SwiGLU MLP → residual), forward with a KV cache and
 * a hand-written backward. Qwen2 differs only by biases on q, k and v.
 *
 * Dimension letters: T new tokens, Tk = past + T, C hidden, H heads, KVH KV heads, D head
 * size, F MLP width.
 */
import type { Kernels, Matrix } from '../engine/kernels.ts';
import { attentionBackward, attentionBackwardScratchSize, attentionForward, toHeadMajor, toTokenMajor, type AttentionShape } from './layers/attention.ts';
import { swigluBackward, swigluForward } from './layers/activations.ts';
import { linearBackward, linearForward, type Linear, type LinearGrads } from './layers/linear.ts';
import { rmsNormBackward, rmsNormForward } from './layers/norms.ts';
import { RotaryTable } from './layers/rope.ts';
import { KVCache } from './kvCache.ts';

export interface DecoderConfig {
  readonly kind: 'llama' | 'qwen2';
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
  gate: Float32Array; // [T, F]
  up: Float32Array; // [T, F]
  act: Float32Array; // [T, F] silu(gate)·up
}

/** Everything a decoder forward kept, for one backward. */
export interface DecoderTape {
  readonly T: number;
  readonly past: number;
  readonly layers: LayerTape[];
  readonly cache: KVCache;
}

export class Decoder {
  readonly rotary: RotaryTable;

  constructor(readonly config: DecoderConfig, readonly weights: DecoderWeights, private readonly kernels: () => Kernels) {
    this.rotary = new RotaryTable(config.headDim, config.ropeTheta);
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
    options: { tape?: boolean; onLayerOutput?: (layer: number, x: Float32Array) => void } = {},
  ): { hidden: Float32Array; tape: DecoderTape | null } {
    const kernels = this.kernels();
    const { hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: KVH, headDim: D, rmsNormEps: eps } = this.config;
    if (embeds.length < T * C) throw new RangeError(`decoder input holds ${embeds.length} values, expected ${T}×${C}`);
    const past = cache.length;
    const Tk = past + T;
    cache.reserve(Tk);
    const shape: AttentionShape = { T, past, heads: H, kvHeads: KVH, headDim: D, capacity: cache.capacity, causal: true };
    const keep = options.tape === true;
    const tapes: LayerTape[] = [];
    const attentionHeads = new Float32Array(H * T * D);
    let x = embeds.subarray(0, T * C);
    options.onLayerOutput?.(0, x);
    // Buffers reused across layers when nothing is kept.
    const scratch = keep ? null : {
      rstd1: new Float32Array(T), h1: new Float32Array(T * C), qTokens: new Float32Array(T * H * D),
      kTokens: new Float32Array(T * KVH * D), vTokens: new Float32Array(T * KVH * D), q: new Float32Array(H * T * D),
      probs: new Float32Array(H * T * Tk), attn: new Float32Array(T * H * D), rstd2: new Float32Array(T),
      h2: new Float32Array(T * C), gate: new Float32Array(T * F), up: new Float32Array(T * F), act: new Float32Array(T * F),
      delta: new Float32Array(T * C),
    };
    for (let l = 0; l < this.weights.layers.length; l++) {
      const w = this.weights.layers[l];
      const rstd1 = scratch?.rstd1 ?? new Float32Array(T);
      const h1 = scratch?.h1 ?? new Float32Array(T * C);
      rmsNormForward(h1, rstd1, x, w.inputNorm, T, C, eps);

      const qTokens = scratch?.qTokens ?? new Float32Array(T * H * D);
      const kTokens = scratch?.kTokens ?? new Float32Array(T * KVH * D);
      const vTokens = scratch?.vTokens ?? new Float32Array(T * KVH * D);
      linearForward(kernels, qTokens, h1, w.q, T);
      linearForward(kernels, kTokens, h1, w.k, T);
      linearForward(kernels, vTokens, h1, w.v, T);
      this.rotary.apply(qTokens, T, H, past);
      this.rotary.apply(kTokens, T, KVH, past);
      const q = scratch?.q ?? new Float32Array(H * T * D);
      toHeadMajor(q, qTokens, T, H, D);
      toHeadMajor(cache.keys[l], kTokens, T, KVH, D, cache.capacity, past);
      toHeadMajor(cache.values[l], vTokens, T, KVH, D, cache.capacity, past);

      const probs = scratch?.probs ?? new Float32Array(H * T * Tk);
      const attn = scratch?.attn ?? new Float32Array(T * H * D);
      attentionForward(kernels, attn, probs, q, cache.keys[l], cache.values[l], shape, attentionHeads);

      const x2 = new Float32Array(T * C);
      linearForward(kernels, x2, attn, w.o, T);
      for (let i = 0; i < T * C; i++) x2[i] += x[i];

      const rstd2 = scratch?.rstd2 ?? new Float32Array(T);
      const h2 = scratch?.h2 ?? new Float32Array(T * C);
      rmsNormForward(h2, rstd2, x2, w.postNorm, T, C, eps);
      const gate = scratch?.gate ?? new Float32Array(T * F);
      const up = scratch?.up ?? new Float32Array(T * F);
      const act = scratch?.act ?? new Float32Array(T * F);
      linearForward(kernels, gate, h2, w.gate, T);
      linearForward(kernels, up, h2, w.up, T);
      swigluForward(act, gate, up, T * F);
      const x3 = new Float32Array(T * C);
      linearForward(kernels, x3, act, w.down, T);
      for (let i = 0; i < T * C; i++) x3[i] += x2[i];

      if (keep) tapes.push({ x, rstd1, h1, q, probs, attn, x2, rstd2, h2, gate, up, act });
      x = x3;
      options.onLayerOutput?.(l + 1, x);
    }
    cache.length = Tk;
    return { hidden: x, tape: keep ? { T, past, layers: tapes, cache } : null };
  }

  /**
   * Backward through the layers: from dHidden [T, C] (gradient of the pre-final-norm output)
   * to the gradient of the input embeddings [T, C]. Adds weight gradients into `grads` when
   * given (all weights must then be float32). The cache must still hold the tape's tokens.
   */
  backward(tape: DecoderTape, dHidden: Float32Array, grads: DecoderLayerGrads[] | null = null): Float32Array {
    const kernels = this.kernels();
    const { hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: KVH, headDim: D } = this.config;
    const { T, past, cache } = tape;
    const Tk = past + T;
    if (cache.length < Tk) throw new Error(`the KV cache was rewound (${cache.length} < ${Tk} tokens) before the backward`);
    const shape: AttentionShape = { T, past, heads: H, kvHeads: KVH, headDim: D, capacity: cache.capacity, causal: true };
    const dx = new Float32Array(T * C);
    dx.set(dHidden.subarray(0, T * C));
    const dAct = new Float32Array(T * F);
    const dGate = new Float32Array(T * F);
    const dUp = new Float32Array(T * F);
    const dh = new Float32Array(T * C);
    const dAttn = new Float32Array(T * H * D);
    const dqHeads = new Float32Array(H * T * D);
    const dkHeads = new Float32Array(KVH * T * D);
    const dvHeads = new Float32Array(KVH * T * D);
    const dqTokens = new Float32Array(T * H * D);
    const dkTokens = new Float32Array(T * KVH * D);
    const dvTokens = new Float32Array(T * KVH * D);
    const scratch = new Float32Array(attentionBackwardScratchSize(shape));
    for (let l = this.weights.layers.length - 1; l >= 0; l--) {
      const w = this.weights.layers[l];
      const s = tape.layers[l];
      const g = grads?.[l] ?? null;
      // x3 = x2 + down(act): dx (currently d x3) flows to x2 unchanged, plus through the MLP.
      linearBackward(kernels, dAct, false, g?.down ?? null, dx, s.act, w.down, T);
      dGate.fill(0);
      dUp.fill(0);
      swigluBackward(dGate, dUp, dAct, s.gate, s.up, T * F);
      linearBackward(kernels, dh, false, g?.gate ?? null, dGate, s.h2, w.gate, T);
      linearBackward(kernels, dh, true, g?.up ?? null, dUp, s.h2, w.up, T);
      rmsNormBackward(dx, g?.postNorm ?? null, dh, s.x2, s.rstd2, w.postNorm, T, C);
      // dx is now d x2; x2 = x + o(attn).
      linearBackward(kernels, dAttn, false, g?.o ?? null, dx, s.attn, w.o, T);
      dkHeads.fill(0);
      dvHeads.fill(0);
      attentionBackward(kernels, dqHeads, dkHeads, dvHeads, dAttn, s.probs, s.q, cache.keys[l], cache.values[l], shape, scratch);
      toTokenMajor(dqTokens, dqHeads, T, H, D);
      toTokenMajor(dkTokens, dkHeads, T, KVH, D);
      toTokenMajor(dvTokens, dvHeads, T, KVH, D);
      this.rotary.apply(dqTokens, T, H, past, true);
      this.rotary.apply(dkTokens, T, KVH, past, true);
      linearBackward(kernels, dh, false, g?.q ?? null, dqTokens, s.h1, w.q, T);
      linearBackward(kernels, dh, true, g?.k ?? null, dkTokens, s.h1, w.k, T);
      linearBackward(kernels, dh, true, g?.v ?? null, dvTokens, s.h1, w.v, T);
      rmsNormBackward(dx, g?.inputNorm ?? null, dh, s.x, s.rstd1, w.inputNorm, T, C);
    }
    return dx;
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
