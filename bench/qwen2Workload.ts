/**
 * The benchmark workload, mirrored exactly by bench/peer/torch_qwen2.py: a randomly
 * initialised Qwen2-0.5B-shaped decoder (float32) and a soft-prompt training step.
 *
 * - prefix: 600 tokens, run once (KV cache kept);
 * - suffix: 64 tokens at positions 600..663; suffix positions 2..18 are 17 trainable input
 *   rows (a concept: `<name>` + 16 latent tokens); one extra lm_head row (`<name>`, column V);
 * - labels at suffix positions 44..63 (20 answer tokens, one of them `<name>`), so logits are
 *   needed at suffix positions 43..62 only.
 */
import type { LlavaConfig } from '../src/models/config.ts';
import type { DecoderConfig } from '../src/models/decoder.ts';
import type { ExtraTokens, LlavaModel } from '../src/models/llava.ts';
import { createRandomLlava } from '../src/models/randomLlava.ts';
import type { KVCache } from '../src/models/kvCache.ts';

export const QWEN2_05B: DecoderConfig = {
  kind: 'qwen2', hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2, headDim: 64,
  vocabSize: 151936, ropeTheta: 1e6, rmsNormEps: 1e-6, tieWordEmbeddings: false,
};

export const WORKLOAD = { prefixTokens: 600, suffixTokens: 64, trainableStart: 2, trainableRows: 17, labelStart: 44 } as const;

/** The language model alone matters here; the vision side is a token-sized placeholder. */
export function qwen2Llava(seed = 0): LlavaModel {
  const config: LlavaConfig = {
    text: QWEN2_05B,
    vision: { kind: 'siglip', hiddenSize: 8, intermediateSize: 8, numLayers: 1, numHeads: 1, imageSize: 8, patchSize: 8, numChannels: 3, layerNormEps: 1e-6, hiddenAct: 'gelu_pytorch_tanh' },
    imageTokenId: 151646, projectorAct: 'gelu', projectorBias: true, visionFeatureLayer: -1, visionFeatureSelect: 'full', imageAspectRatio: null,
  };
  // Tiled initialisation: drawing 630M normals would take longer than the benchmark itself.
  return createRandomLlava(config, { seed, tiled: true });
}

function ids(count: number, seed: number): number[] {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % 151000;
  });
}

export interface SoftStepInputs {
  readonly prefixIds: number[];
  readonly suffixIds: number[];
  readonly suffixLabels: number[];
  readonly extra: ExtraTokens;
}

export function softStepInputs(model: LlavaModel): SoftStepInputs {
  const V = model.vocabSize;
  const C = model.hiddenSize;
  const { prefixTokens, suffixTokens, trainableStart, trainableRows, labelStart } = WORKLOAD;
  const suffixIds = ids(suffixTokens, 2);
  for (let i = 0; i < trainableRows; i++) suffixIds[trainableStart + i] = V + i;
  const suffixLabels = suffixIds.map((id, t) => (t >= labelStart ? id : -100));
  suffixLabels[labelStart + 5] = V; // the answer names the concept once
  const rows = (count: number) => Float32Array.from({ length: count * C }, (_, i) => 0.02 * Math.sin(i * 12.9898));
  return {
    prefixIds: ids(prefixTokens, 1),
    suffixIds,
    suffixLabels,
    extra: { inputRows: rows(trainableRows), outputRows: rows(1), outputIds: [V] },
  };
}

export function cachedSoftStep(model: LlavaModel, inputs: SoftStepInputs, prefix: KVCache) {
  return model.lossAndGradients({ ids: inputs.suffixIds, labels: inputs.suffixLabels, extra: inputs.extra, cache: prefix });
}

export function fullSoftStep(model: LlavaModel, inputs: SoftStepInputs) {
  return model.lossAndGradients({
    ids: [...inputs.prefixIds, ...inputs.suffixIds],
    labels: [...inputs.prefixIds.map(() => -100), ...inputs.suffixLabels],
    extra: inputs.extra,
  });
}

/** Analytic matmul FLOPs of a soft step (forward + backward to the inputs, no weight gradients). */
export function softStepFlops(config: DecoderConfig, newTokens: number, pastTokens: number, lossRows: number): number {
  const { hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: KVH, headDim: D, numLayers: L, vocabSize: V } = config;
  const layerWeights = C * H * D + 2 * C * KVH * D + H * D * C + 3 * C * F;
  const T = newTokens;
  const Tk = pastTokens + newTokens;
  const linear = 4 * T * layerWeights; // forward x·Wᵀ and backward dy·W
  const attention = 4 * H * T * Tk * D /* QKᵀ, PV */ + 4 * H * T * Tk * D /* dP, dQ */ + 4 * H * T * T * D; /* dK, dV of new rows */
  const head = 4 * lossRows * C * V;
  return L * (linear + attention) + head;
}
