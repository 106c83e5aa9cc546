/**
 * CLIP and SigLIP vision transformers (as used by LLaVA): patch embedding (a stride-p
 * convolution, computed as a linear map of flattened patches), position embeddings, pre-norm
 * encoder layers, forward and backward. CLIP prepends a class token and has a pre-layernorm;
 * SigLIP has a bias on the patch projection and neither of those.
 *
 * Dimension letters: N tokens (patches, + 1 for CLIP's class token), C hidden, H heads,
 * D head size, F MLP width, P = channels·p·p values per patch.
 */
import type { Kernels, Matrix } from '../engine/kernels.ts';
import { activationBackward, activationForward, type ActivationName } from './layers/activations.ts';
import { attentionBackward, attentionBackwardScratchSize, attentionForward, toHeadMajor, toTokenMajor, type AttentionShape } from './layers/attention.ts';
import { linearBackward, linearForward, type Linear, type LinearGrads } from './layers/linear.ts';
import { layerNormBackward, layerNormForward } from './layers/norms.ts';
import type { VisionEncoder } from './visionEncoder.ts';

export interface VisionConfig {
  readonly kind: 'clip' | 'siglip';
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly numChannels: number;
  readonly layerNormEps: number;
  readonly hiddenAct: ActivationName;
}

export interface LayerNormWeights { readonly weight: Float32Array; readonly bias: Float32Array }
export interface LayerNormGrads { weight: Float32Array; bias: Float32Array }

export interface VisionLayerWeights {
  readonly norm1: LayerNormWeights;
  readonly q: Linear; readonly k: Linear; readonly v: Linear; readonly o: Linear;
  readonly norm2: LayerNormWeights;
  readonly fc1: Linear; readonly fc2: Linear;
}

export interface VisionWeights {
  readonly patchEmbedding: Linear; // [C, P] (the conv kernel flattened as channel, row, column)
  readonly classEmbedding: Float32Array | null; // [C], CLIP only
  readonly positionEmbedding: Float32Array; // [N, C]
  readonly preNorm: LayerNormWeights | null; // CLIP's pre_layrnorm
  readonly layers: readonly VisionLayerWeights[];
  readonly postNorm: LayerNormWeights | null;
}

export interface VisionLayerGrads {
  norm1: LayerNormGrads; q: LinearGrads; k: LinearGrads; v: LinearGrads; o: LinearGrads;
  norm2: LayerNormGrads; fc1: LinearGrads; fc2: LinearGrads;
}

export interface VisionGrads {
  patchEmbedding: LinearGrads;
  classEmbedding: Float32Array | null;
  positionEmbedding: Float32Array;
  preNorm: LayerNormGrads | null;
  layers: VisionLayerGrads[];
}

interface VisionLayerTape {
  x: Float32Array; mean1: Float32Array; rstd1: Float32Array; h1: Float32Array;
  q: Float32Array; keys: Float32Array; values: Float32Array; probs: Float32Array; attn: Float32Array;
  x2: Float32Array; mean2: Float32Array; rstd2: Float32Array; h2: Float32Array; pre: Float32Array; act: Float32Array;
}

export interface VisionTape {
  readonly patches: Float32Array; // [patches, P]
  readonly embedded: Float32Array; // [N, C] before the pre-norm
  readonly preMean: Float32Array | null;
  readonly preRstd: Float32Array | null;
  readonly layers: VisionLayerTape[];
}

export class VisionTower implements VisionEncoder<VisionTape, VisionGrads> {
  constructor(readonly config: VisionConfig, readonly weights: VisionWeights, private readonly kernels: () => Kernels) {}

  get patchesPerSide(): number { return Math.floor(this.config.imageSize / this.config.patchSize); }
  get numPatches(): number { return this.patchesPerSide ** 2; }
  /** Tokens in the hidden states: patches, plus the class token for CLIP. */
  get numTokens(): number { return this.numPatches + (this.config.kind === 'clip' ? 1 : 0); }

  /** Flattens pixel values [channels, S, S] into patch rows [patches, channels·p·p], row-major over the grid. */
  extractPatches(pixelValues: Float32Array): Float32Array {
    const { patchSize: p, numChannels: channels, imageSize: S } = this.config;
    if (pixelValues.length !== channels * S * S) {
      throw new RangeError(`pixel values hold ${pixelValues.length} values, the vision tower expects ${channels}×${S}×${S}`);
    }
    const side = this.patchesPerSide;
    const P = channels * p * p;
    const patches = new Float32Array(side * side * P);
    for (let py = 0; py < side; py++) {
      for (let px = 0; px < side; px++) {
        let o = (py * side + px) * P;
        for (let c = 0; c < channels; c++) {
          for (let ky = 0; ky < p; ky++) {
            const row = (c * S + py * p + ky) * S + px * p;
            for (let kx = 0; kx < p; kx++) patches[o++] = pixelValues[row + kx];
          }
        }
      }
    }
    return patches;
  }

  /**
   * Runs the embeddings and the first `layers` encoder layers (all by default; LLaVA stops at
   * the feature layer it selects). Returns hidden states [0..layers], each [N, C]
   * (index 0 = embeddings after CLIP's pre-norm), and the tape when asked.
   */
  forward(pixelValues: Float32Array, options: { layers?: number; tape?: boolean } = {}): { hiddenStates: Float32Array[]; tape: VisionTape | null } {
    const kernels = this.kernels();
    const { hiddenSize: C, intermediateSize: F, numHeads: H, layerNormEps: eps, hiddenAct } = this.config;
    const D = C / H;
    const layerCount = options.layers ?? this.weights.layers.length;
    const keep = options.tape === true;
    const N = this.numTokens;
    const patchCount = this.numPatches;
    const offset = N - patchCount; // 1 when a class token comes first

    const patches = this.extractPatches(pixelValues);
    const embedded = new Float32Array(N * C);
    linearForward(kernels, embedded.subarray(offset * C), patches, this.weights.patchEmbedding, patchCount);
    if (this.weights.classEmbedding) embedded.set(this.weights.classEmbedding, 0);
    const position = this.weights.positionEmbedding;
    for (let i = 0; i < N * C; i++) embedded[i] += position[i];

    let x = embedded;
    let preMean: Float32Array | null = null;
    let preRstd: Float32Array | null = null;
    if (this.weights.preNorm) {
      preMean = new Float32Array(N);
      preRstd = new Float32Array(N);
      x = new Float32Array(N * C);
      layerNormForward(x, preMean, preRstd, embedded, this.weights.preNorm.weight, this.weights.preNorm.bias, N, C, eps);
    }
    const hiddenStates = [x];
    const tapes: VisionLayerTape[] = [];
    const shape: AttentionShape = { T: N, past: 0, heads: H, kvHeads: H, headDim: D, capacity: N, causal: false };
    const tokens = new Float32Array(N * C);
    for (let l = 0; l < layerCount; l++) {
      const w = this.weights.layers[l];
      const mean1 = new Float32Array(N);
      const rstd1 = new Float32Array(N);
      const h1 = new Float32Array(N * C);
      layerNormForward(h1, mean1, rstd1, x, w.norm1.weight, w.norm1.bias, N, C, eps);
      const q = new Float32Array(N * C);
      const keys = new Float32Array(N * C);
      const values = new Float32Array(N * C);
      linearForward(kernels, tokens, h1, w.q, N);
      toHeadMajor(q, tokens, N, H, D);
      linearForward(kernels, tokens, h1, w.k, N);
      toHeadMajor(keys, tokens, N, H, D);
      linearForward(kernels, tokens, h1, w.v, N);
      toHeadMajor(values, tokens, N, H, D);
      const probs = new Float32Array(H * N * N);
      const attn = new Float32Array(N * C);
      attentionForward(kernels, attn, probs, q, keys, values, shape);
      const x2 = new Float32Array(N * C);
      linearForward(kernels, x2, attn, w.o, N);
      for (let i = 0; i < N * C; i++) x2[i] += x[i];
      const mean2 = new Float32Array(N);
      const rstd2 = new Float32Array(N);
      const h2 = new Float32Array(N * C);
      layerNormForward(h2, mean2, rstd2, x2, w.norm2.weight, w.norm2.bias, N, C, eps);
      const pre = new Float32Array(N * F);
      const act = new Float32Array(N * F);
      linearForward(kernels, pre, h2, w.fc1, N);
      activationForward(hiddenAct, act, pre, pre.length, kernels);
      const x3 = new Float32Array(N * C);
      linearForward(kernels, x3, act, w.fc2, N);
      for (let i = 0; i < N * C; i++) x3[i] += x2[i];
      if (keep) tapes.push({ x, mean1, rstd1, h1, q, keys, values, probs, attn, x2, mean2, rstd2, h2, pre, act });
      x = x3;
      hiddenStates.push(x);
    }
    return { hiddenStates, tape: keep ? { patches, embedded, preMean, preRstd, layers: tapes } : null };
  }

  /** Applies the post-layernorm (SigLIP's last_hidden_state, CLIP's pooler) to rows of x. */
  postNorm(x: Float32Array, rows: number): Float32Array {
    const norm = this.weights.postNorm;
    if (!norm) return x.slice(0, rows * this.config.hiddenSize);
    const out = new Float32Array(rows * this.config.hiddenSize);
    layerNormForward(out, null, null, x, norm.weight, norm.bias, rows, this.config.hiddenSize, this.config.layerNormEps);
    return out;
  }

  /**
   * Backward from the gradient of the last hidden state the tape reached [N, C] down to the
   * weights (when `grads` is given) and to the pixel values (returned) [channels, S, S].
   */
  backward(tape: VisionTape, dLast: Float32Array, grads: VisionGrads | null): Float32Array {
    const kernels = this.kernels();
    const { hiddenSize: C, intermediateSize: F, numHeads: H, hiddenAct } = this.config;
    const D = C / H;
    const N = this.numTokens;
    const shape: AttentionShape = { T: N, past: 0, heads: H, kvHeads: H, headDim: D, capacity: N, causal: false };
    const dx = dLast.slice(0, N * C);
    const dAct = new Float32Array(N * F);
    const dPre = new Float32Array(N * F);
    const dh = new Float32Array(N * C);
    const dAttn = new Float32Array(N * C);
    const dq = new Float32Array(N * C);
    const dk = new Float32Array(N * C);
    const dv = new Float32Array(N * C);
    const dTokens = new Float32Array(N * C);
    const scratch = new Float32Array(attentionBackwardScratchSize(shape));
    for (let l = tape.layers.length - 1; l >= 0; l--) {
      const w = this.weights.layers[l];
      const s = tape.layers[l];
      const g = grads?.layers[l] ?? null;
      linearBackward(kernels, dAct, false, g?.fc2 ?? null, dx, s.act, w.fc2, N);
      dPre.fill(0);
      activationBackward(hiddenAct, dPre, dAct, s.pre, s.pre.length, kernels);
      linearBackward(kernels, dh, false, g?.fc1 ?? null, dPre, s.h2, w.fc1, N);
      layerNormBackward(dx, g?.norm2.weight ?? null, g?.norm2.bias ?? null, dh, s.x2, s.mean2, s.rstd2, w.norm2.weight, N, C);
      linearBackward(kernels, dAttn, false, g?.o ?? null, dx, s.attn, w.o, N);
      dk.fill(0);
      dv.fill(0);
      attentionBackward(kernels, dq, dk, dv, dAttn, s.probs, s.q, s.keys, s.values, shape, scratch);
      toTokenMajor(dTokens, dq, N, H, D);
      linearBackward(kernels, dh, false, g?.q ?? null, dTokens, s.h1, w.q, N);
      toTokenMajor(dTokens, dk, N, H, D);
      linearBackward(kernels, dh, true, g?.k ?? null, dTokens, s.h1, w.k, N);
      toTokenMajor(dTokens, dv, N, H, D);
      linearBackward(kernels, dh, true, g?.v ?? null, dTokens, s.h1, w.v, N);
      layerNormBackward(dx, g?.norm1.weight ?? null, g?.norm1.bias ?? null, dh, s.x, s.mean1, s.rstd1, w.norm1.weight, N, C);
    }
    let dEmbedded = dx;
    if (this.weights.preNorm && tape.preMean && tape.preRstd) {
      dEmbedded = new Float32Array(N * C);
      layerNormBackward(dEmbedded, grads?.preNorm?.weight ?? null, grads?.preNorm?.bias ?? null, dx, tape.embedded, tape.preMean, tape.preRstd, this.weights.preNorm.weight, N, C);
    }
    if (grads) {
      for (let i = 0; i < N * C; i++) grads.positionEmbedding[i] += dEmbedded[i];
      if (grads.classEmbedding) for (let c = 0; c < C; c++) grads.classEmbedding[c] += dEmbedded[c];
    }
    const offset = N - this.numPatches;
    const P = this.weights.patchEmbedding.weight.cols;
    const dPatches = new Float32Array(this.numPatches * P);
    linearBackward(kernels, dPatches, false, grads?.patchEmbedding ?? null, dEmbedded.subarray(offset * C), tape.patches, this.weights.patchEmbedding, this.numPatches);
    return this.scatterPatches(dPatches);
  }

  newGrads(): VisionGrads { return newVisionGrads(this.weights); }

  /** The transpose of extractPatches: patch rows back into [channels, S, S] (pixels outside every patch get 0). */
  private scatterPatches(patches: Float32Array): Float32Array {
    const { patchSize: p, numChannels: channels, imageSize: S } = this.config;
    const side = this.patchesPerSide;
    const out = new Float32Array(channels * S * S);
    const P = channels * p * p;
    for (let py = 0; py < side; py++) {
      for (let px = 0; px < side; px++) {
        let o = (py * side + px) * P;
        for (let c = 0; c < channels; c++) {
          for (let ky = 0; ky < p; ky++) {
            const row = (c * S + py * p + ky) * S + px * p;
            for (let kx = 0; kx < p; kx++) out[row + kx] += patches[o++];
          }
        }
      }
    }
    return out;
  }
}

export function newVisionGrads(weights: VisionWeights): VisionGrads {
  const linear = (layer: Linear): LinearGrads => ({
    weight: new Float32Array(layer.weight.rows * layer.weight.cols),
    bias: layer.bias ? new Float32Array(layer.bias.length) : null,
  });
  const norm = (n: LayerNormWeights): LayerNormGrads => ({ weight: new Float32Array(n.weight.length), bias: new Float32Array(n.bias.length) });
  return {
    patchEmbedding: linear(weights.patchEmbedding),
    classEmbedding: weights.classEmbedding ? new Float32Array(weights.classEmbedding.length) : null,
    positionEmbedding: new Float32Array(weights.positionEmbedding.length),
    preNorm: weights.preNorm ? norm(weights.preNorm) : null,
    layers: weights.layers.map((w) => ({
      norm1: norm(w.norm1), q: linear(w.q), k: linear(w.k), v: linear(w.v), o: linear(w.o),
      norm2: norm(w.norm2), fc1: linear(w.fc1), fc2: linear(w.fc2),
    })),
  };
}
