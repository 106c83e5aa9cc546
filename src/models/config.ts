/**
 * LLaVA checkpoint configuration: config.json (`model_type: "llava"` with `text_config` and
 * `vision_config`) parsed into typed configs, with Hugging Face's defaults where a key is
 * absent (llava-hf configs rely on them) and a ModelLoadError naming the file otherwise.
 */
import { parseActivation, type ActivationName } from './layers/activations.ts';
import { CONV_VISION_MODEL_TYPE, convVisionConfigProblem, type ConvVisionConfig } from './convVisionTower.ts';
import type { DecoderConfig } from './decoder.ts';
import type { VisionEncoderConfig } from './visionEncoder.ts';
import type { WrittenTokensConfig } from './writtenTokens.ts';

export class ModelLoadError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'ModelLoadError';
  }
}

export interface LlavaConfig {
  readonly vision: VisionEncoderConfig;
  readonly text: DecoderConfig;
  readonly imageTokenId: number;
  readonly projectorAct: ActivationName;
  readonly projectorBias: boolean;
  /** Index into the vision hidden states (negative counts from the end). */
  readonly visionFeatureLayer: number;
  readonly visionFeatureSelect: 'default' | 'full';
  /** Original LLaVA's `image_aspect_ratio: "pad"` when present. */
  readonly imageAspectRatio: string | null;
}

type Json = Record<string, unknown>;

const LLAMA_DEFAULTS = {
  vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
  rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu', attention_bias: false,
};
// transformers' MistralConfig (Mistral-7B-v0.1, BakLLaVA's language model).
const MISTRAL_DEFAULTS = {
  vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8,
  rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu', attention_bias: false, sliding_window: 4096,
};
const QWEN2_DEFAULTS = {
  vocab_size: 151936, hidden_size: 4096, intermediate_size: 22016, num_hidden_layers: 32, num_attention_heads: 32,
  rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu', attention_bias: true,
};
const CLIP_DEFAULTS = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224,
  patch_size: 32, num_channels: 3, layer_norm_eps: 1e-5, hidden_act: 'quick_gelu',
};
const SIGLIP_DEFAULTS = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224,
  patch_size: 16, num_channels: 3, layer_norm_eps: 1e-6, hidden_act: 'gelu_pytorch_tanh',
};

function positiveInt(file: string, section: string, json: Json, key: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (!Number.isInteger(value) || (value as number) <= 0) {
    throw new ModelLoadError(file, `${section}.${key} must be a positive integer, got ${JSON.stringify(json[key])}`);
  }
  return value as number;
}

function positiveNumber(file: string, section: string, json: Json, key: string, fallback: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !(value > 0)) throw new ModelLoadError(file, `${section}.${key} must be a positive number, got ${JSON.stringify(json[key])}`);
  return value;
}

function parseText(file: string, json: Json): DecoderConfig {
  const modelType = json.model_type ?? 'llama';
  if (modelType !== 'llama' && modelType !== 'qwen2' && modelType !== 'mistral') {
    throw new ModelLoadError(file, `text_config.model_type ${JSON.stringify(modelType)} is not supported (supported: llama, qwen2, mistral)`);
  }
  const defaults = modelType === 'qwen2' ? QWEN2_DEFAULTS : modelType === 'mistral' ? MISTRAL_DEFAULTS : LLAMA_DEFAULTS;
  const section = 'text_config';
  const hiddenSize = positiveInt(file, section, json, 'hidden_size', defaults.hidden_size);
  const numHeads = positiveInt(file, section, json, 'num_attention_heads', defaults.num_attention_heads);
  const numKvHeads = positiveInt(file, section, json, 'num_key_value_heads', 'num_key_value_heads' in defaults ? defaults.num_key_value_heads as number : numHeads);
  const headDim = positiveInt(file, section, json, 'head_dim', Math.floor(hiddenSize / numHeads));
  if (numHeads % numKvHeads !== 0) throw new ModelLoadError(file, `${section}: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  if (headDim % 2 !== 0) throw new ModelLoadError(file, `${section}: head_dim ${headDim} must be even for rotary embeddings`);
  const act = json.hidden_act ?? defaults.hidden_act;
  if (act !== 'silu') throw new ModelLoadError(file, `${section}.hidden_act ${JSON.stringify(act)} is not supported (only silu)`);
  const ropeScaling = json.rope_scaling as Json | null | undefined;
  if (ropeScaling && ropeScaling.rope_type !== 'default' && ropeScaling.type !== 'default') {
    throw new ModelLoadError(file, `${section}.rope_scaling ${JSON.stringify(ropeScaling)} is not supported yet`);
  }
  const ropeParameters = json.rope_parameters as Json | undefined;
  const ropeTheta = positiveNumber(file, section, json, 'rope_theta', (ropeParameters?.rope_theta as number | undefined) ?? defaults.rope_theta);
  if (json.attention_bias !== undefined && modelType !== 'qwen2' && json.attention_bias !== false) {
    throw new ModelLoadError(file, `${section}.attention_bias true is not supported for ${modelType}`);
  }
  const window = modelType === 'mistral' ? (json.sliding_window === undefined ? MISTRAL_DEFAULTS.sliding_window : json.sliding_window) : null;
  if (window !== null && !(Number.isInteger(window) && (window as number) > 0)) {
    throw new ModelLoadError(file, `${section}.sliding_window must be a positive integer or null, got ${JSON.stringify(window)}`);
  }
  return {
    kind: modelType,
    hiddenSize,
    intermediateSize: positiveInt(file, section, json, 'intermediate_size', defaults.intermediate_size),
    numLayers: positiveInt(file, section, json, 'num_hidden_layers', defaults.num_hidden_layers),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: positiveInt(file, section, json, 'vocab_size', defaults.vocab_size),
    ropeTheta,
    rmsNormEps: positiveNumber(file, section, json, 'rms_norm_eps', defaults.rms_norm_eps),
    tieWordEmbeddings: (json.tie_word_embeddings ?? defaults.tie_word_embeddings) === true,
    ...(window === null ? {} : { slidingWindow: window as number }),
  };
}

function parseVision(file: string, json: Json): VisionEncoderConfig {
  const modelType = json.model_type ?? 'clip_vision_model';
  if (modelType === CONV_VISION_MODEL_TYPE) return parseConvVision(file, json);
  const kind = modelType === 'clip_vision_model' ? 'clip' : modelType === 'siglip_vision_model' ? 'siglip' : null;
  if (!kind) throw new ModelLoadError(file, `vision_config.model_type ${JSON.stringify(modelType)} is not supported (supported: clip_vision_model, siglip_vision_model, ${CONV_VISION_MODEL_TYPE})`);
  const defaults = kind === 'clip' ? CLIP_DEFAULTS : SIGLIP_DEFAULTS;
  const section = 'vision_config';
  const hiddenSize = positiveInt(file, section, json, 'hidden_size', defaults.hidden_size);
  const numHeads = positiveInt(file, section, json, 'num_attention_heads', defaults.num_attention_heads);
  if (hiddenSize % numHeads !== 0) throw new ModelLoadError(file, `${section}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  if (kind === 'siglip' && json.vision_use_head === true) {
    // The attention-pooling head is not used by LLaVA; its weights are simply ignored.
  }
  return {
    kind,
    hiddenSize,
    intermediateSize: positiveInt(file, section, json, 'intermediate_size', defaults.intermediate_size),
    numLayers: positiveInt(file, section, json, 'num_hidden_layers', defaults.num_hidden_layers),
    numHeads,
    imageSize: positiveInt(file, section, json, 'image_size', defaults.image_size),
    patchSize: positiveInt(file, section, json, 'patch_size', defaults.patch_size),
    numChannels: positiveInt(file, section, json, 'num_channels', defaults.num_channels),
    layerNormEps: positiveNumber(file, section, json, 'layer_norm_eps', defaults.layer_norm_eps),
    hiddenAct: parseActivationOrFail(file, `${section}.hidden_act`, json.hidden_act ?? defaults.hidden_act),
  };
}

/** yollava's convolutional tower (convVisionTower.ts): no defaults for its shape, only for eps, norm and act. */
function parseConvVision(file: string, json: Json): ConvVisionConfig {
  const section = 'vision_config';
  const intList = (key: string): number[] => {
    const value = json[key];
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => Number.isInteger(v) && v > 0)) {
      throw new ModelLoadError(file, `${section}.${key} must be a non-empty list of positive integers, got ${JSON.stringify(value)}`);
    }
    return value as number[];
  };
  const channels = intList('stage_channels');
  const strides = intList('stage_strides');
  if (strides.length !== channels.length) throw new ModelLoadError(file, `${section}: stage_strides lists ${strides.length} strides for ${channels.length} stage_channels`);
  const norm = json.norm_type ?? 'group_norm';
  if (norm !== 'group_norm' && norm !== 'layer_norm') throw new ModelLoadError(file, `${section}.norm_type ${JSON.stringify(norm)} is not supported (group_norm, layer_norm)`);
  const written = parseWrittenTokens(file, json.written_tokens);
  const config: ConvVisionConfig = {
    kind: 'conv',
    imageSize: positiveInt(file, section, json, 'image_size'),
    numChannels: positiveInt(file, section, json, 'num_channels', 3),
    kernelSize: positiveInt(file, section, json, 'kernel_size', 3),
    stemChannels: positiveInt(file, section, json, 'stem_channels'),
    stemStride: positiveInt(file, section, json, 'stem_stride', 1),
    stages: channels.map((c, i) => ({ channels: c, stride: strides[i] })),
    hiddenSize: positiveInt(file, section, json, 'hidden_size', channels[channels.length - 1]),
    numLayers: positiveInt(file, section, json, 'num_hidden_layers', channels.length),
    norm,
    numGroups: positiveInt(file, section, json, 'num_groups', 8),
    hiddenAct: parseActivationOrFail(file, `${section}.hidden_act`, json.hidden_act ?? 'gelu'),
    layerNormEps: positiveNumber(file, section, json, 'layer_norm_eps', 1e-5),
    // Absent, not null, when the tower writes nothing: parsed configs of older checkpoints stay as they were.
    ...(written ? { writtenTokens: written } : {}),
  };
  const problem = convVisionConfigProblem(config);
  if (problem) throw new ModelLoadError(file, `${section} (${CONV_VISION_MODEL_TYPE}): ${problem}`);
  return config;
}

/** vision_config.written_tokens: { gate_values, group_values } (writtenTokens.ts), or none. */
function parseWrittenTokens(file: string, value: unknown): WrittenTokensConfig | null {
  if (value === undefined || value === null) return null;
  const where = 'vision_config.written_tokens';
  if (typeof value !== 'object' || Array.isArray(value)) throw new ModelLoadError(file, `${where} must be an object, got ${JSON.stringify(value)}`);
  const { gate_values: gateValues, group_values: groupValues } = value as Json;
  if (!Number.isInteger(gateValues) || (gateValues as number) < 1) throw new ModelLoadError(file, `${where}.gate_values must be a positive integer, got ${JSON.stringify(gateValues)}`);
  if (!Array.isArray(groupValues) || !groupValues.every((row) => Array.isArray(row) && row.every((n) => Number.isInteger(n) && n >= 0))) {
    throw new ModelLoadError(file, `${where}.group_values must be a list of lists of non-negative integers`);
  }
  return { gateValues: gateValues as number, groupValues: groupValues as number[][] };
}

function parseActivationOrFail(file: string, where: string, value: unknown): ActivationName {
  try {
    return parseActivation(value, where);
  } catch (error) {
    throw new ModelLoadError(file, (error as Error).message);
  }
}

export function parseLlavaConfig(file: string, json: unknown): LlavaConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ModelLoadError(file, 'is not a JSON object');
  const root = json as Json;
  if (root.model_type !== 'llava') {
    throw new ModelLoadError(file, `model_type ${JSON.stringify(root.model_type)} is not supported (expected "llava": a LlavaForConditionalGeneration checkpoint in Hugging Face layout)`);
  }
  if (typeof root.text_config !== 'object' || root.text_config === null) throw new ModelLoadError(file, 'text_config is missing');
  if (typeof root.vision_config !== 'object' || root.vision_config === null) throw new ModelLoadError(file, 'vision_config is missing');
  const text = parseText(file, root.text_config as Json);
  const vision = parseVision(file, root.vision_config as Json);
  if (root.tie_word_embeddings === true && !text.tieWordEmbeddings) (text as { tieWordEmbeddings: boolean }).tieWordEmbeddings = true;
  const imageTokenId = root.image_token_index ?? root.image_token_id ?? 32000;
  if (!Number.isInteger(imageTokenId) || (imageTokenId as number) < 0) throw new ModelLoadError(file, `image_token_index ${JSON.stringify(imageTokenId)} is invalid`);
  let featureLayer = root.vision_feature_layer ?? -2;
  if (Array.isArray(featureLayer)) {
    if (featureLayer.length !== 1) throw new ModelLoadError(file, `vision_feature_layer lists ${featureLayer.length} layers; only one is supported`);
    featureLayer = featureLayer[0];
  }
  if (!Number.isInteger(featureLayer)) throw new ModelLoadError(file, `vision_feature_layer ${JSON.stringify(featureLayer)} is not an integer`);
  const layerIndex = (featureLayer as number) < 0 ? vision.numLayers + 1 + (featureLayer as number) : (featureLayer as number);
  if (layerIndex < 0 || layerIndex > vision.numLayers) throw new ModelLoadError(file, `vision_feature_layer ${featureLayer} is outside the ${vision.numLayers + 1} hidden states`);
  const select = root.vision_feature_select_strategy ?? 'default';
  if (select !== 'default' && select !== 'full') throw new ModelLoadError(file, `vision_feature_select_strategy ${JSON.stringify(select)} is not supported (default, full)`);
  if (vision.kind === 'conv') {
    // Only the conv tower's last state is a token matrix of hidden_size, and it has no class token to drop.
    if (layerIndex !== vision.numLayers) throw new ModelLoadError(file, `vision_feature_layer ${featureLayer} must select the conv tower's last hidden state (-1)`);
    if (select !== 'full') throw new ModelLoadError(file, `vision_feature_select_strategy must be "full" for the conv tower (it has no class token to drop), got ${JSON.stringify(select)}`);
  }
  return {
    vision,
    text,
    imageTokenId: imageTokenId as number,
    projectorAct: parseActivationOrFail(file, 'projector_hidden_act', root.projector_hidden_act ?? 'gelu'),
    projectorBias: root.multimodal_projector_bias !== false,
    visionFeatureLayer: featureLayer as number,
    visionFeatureSelect: select,
    imageAspectRatio: typeof root.image_aspect_ratio === 'string' ? root.image_aspect_ratio : null,
  };
}
