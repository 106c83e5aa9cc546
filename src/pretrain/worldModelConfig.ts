/**
 * The shape of yollava's own base model, "yollava-world": LLaVA's structure — vision tower →
 * GELU projector → Llama decoder — at a size that pretrains on 2 CPU cores in ≤ 3 hours and
 * ships inside the package.
 *
 * Why these sizes (base):
 * - Tower: a 4-stage CNN (stem 16 ch stride 2, then 32/64/128 channels, each stride 2) turns a
 *   64×64 picture into a 4×4 map = 16 image tokens of width 128 (~0.29M parameters).
 *   world-facts.md: a ~0.6M CNN reached 0.96 held-out attribute accuracy in ~4 min of direct
 *   labels; the stem at full resolution is the costly part, so it is kept narrow. 16 tokens keep
 *   stage-2 sequences short (~75 tokens with the system prompt).
 * - Decoder: width 256, 4 layers, 8 heads of 32 with 4 KV heads (GQA halves K/V), SwiGLU 704,
 *   vocabulary ~1.5k (BPE on the world's closed vocabulary: nearly every word one token).
 *   ~3.7M parameters: about the 2.5M that learned the tasks in world-facts.md plus headroom for
 *   recognition against look-alikes, while a packed step of ~1k tokens stays ~1 s on 2 cores.
 * - All in: ~4.1M parameters ≈ 16.5 MB of float32 safetensors (≤ 25 MB).
 */
import type { LlavaConfig } from '../models/config.ts';
import type { ConvVisionConfig } from '../models/convVisionTower.ts';
import { IMAGE_SIZE } from '../world/index.ts';

export type WorldModelSize = 'base' | 'tiny';

function towerConfig(size: WorldModelSize): ConvVisionConfig {
  const common = { kind: 'conv', imageSize: IMAGE_SIZE, numChannels: 3, kernelSize: 3, norm: 'group_norm', hiddenAct: 'gelu', layerNormEps: 1e-5 } as const;
  if (size === 'tiny') {
    return { ...common, stemChannels: 8, stemStride: 2, stages: [{ channels: 8, stride: 2 }, { channels: 16, stride: 2 }, { channels: 16, stride: 2 }], hiddenSize: 16, numLayers: 3, numGroups: 4 };
  }
  return {
    ...common,
    stemChannels: 16,
    stemStride: 2,
    stages: [{ channels: 32, stride: 2 }, { channels: 64, stride: 2 }, { channels: 128, stride: 2 }],
    hiddenSize: 128,
    numLayers: 3,
    numGroups: 8,
  };
}

/** The model configuration for a tokenizer of `vocabSize` tokens whose `<image>` is `imageTokenId`. */
export function worldModelConfig(size: WorldModelSize, vocabSize: number, imageTokenId: number, decoderLayers?: number): LlavaConfig {
  const vision = towerConfig(size);
  const text = size === 'tiny'
    ? { kind: 'llama', hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8 } as const
    : { kind: 'llama', hiddenSize: 256, intermediateSize: 704, numLayers: 4, numHeads: 8, numKvHeads: 4, headDim: 32 } as const;
  return {
    vision,
    text: { ...text, ...(decoderLayers === undefined ? {} : { numLayers: decoderLayers }), vocabSize, ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: false },
    imageTokenId,
    projectorAct: 'gelu',
    projectorBias: true,
    visionFeatureLayer: -1,
    visionFeatureSelect: 'full',
    imageAspectRatio: null,
  };
}

/** preprocessor_config.json: SigLIP-style square resize to 64×64, pixels mapped to [−1, 1]. */
export function worldPreprocessorConfig(): Record<string, unknown> {
  return {
    image_processor_type: 'SiglipImageProcessor',
    processor_class: 'LlavaProcessor',
    do_resize: true,
    size: { height: IMAGE_SIZE, width: IMAGE_SIZE },
    resample: 3,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    do_convert_rgb: true,
  };
}

/**
 * Pixel values [3, 64, 64] of a rendered 64×64 RGB (HWC) picture, as the preprocessor makes
 * them ((v / 255 − 0.5) / 0.5; the resize is the identity at 64×64), written into `out` at `offset`.
 */
export function scenePixelValues(rgb: Uint8Array, out: Float32Array = new Float32Array(3 * IMAGE_SIZE * IMAGE_SIZE), offset = 0): Float32Array {
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[offset + c * plane + i] = (rgb[i * 3 + c] / 255 - 0.5) / 0.5;
  }
  return out;
}
