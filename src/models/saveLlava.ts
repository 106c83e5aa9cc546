/**
 * Writes a LLaVA model as a Hugging Face checkpoint: config.json and model.safetensors with
 * transformers ≥ 4.52 key names, so that HF and this loader read it. Writes are atomic
 * (temp file, then rename). Used for the shipped default model and for tests.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Matrix } from '../engine/kernels.ts';
import { writeSafetensors, type TensorToWrite } from '../engine/safetensors.ts';
import type { LlavaConfig } from './config.ts';
import { ConvVisionTower, convVisionConfigJson, convVisionTensors } from './convVisionTower.ts';
import type { Linear } from './layers/linear.ts';
import type { LlavaModel } from './llava.ts';
import { VisionTower } from './visionTower.ts';

/** config.json contents for a LlavaConfig (HF LlavaConfig keys). */
export function llavaConfigJson(config: LlavaConfig): Record<string, unknown> {
  const { text, vision } = config;
  return {
    architectures: ['LlavaForConditionalGeneration'],
    model_type: 'llava',
    image_token_index: config.imageTokenId,
    projector_hidden_act: config.projectorAct,
    multimodal_projector_bias: config.projectorBias,
    vision_feature_layer: config.visionFeatureLayer,
    vision_feature_select_strategy: config.visionFeatureSelect,
    ...(config.imageAspectRatio ? { image_aspect_ratio: config.imageAspectRatio } : {}),
    tie_word_embeddings: text.tieWordEmbeddings,
    text_config: {
      model_type: text.kind,
      hidden_size: text.hiddenSize,
      intermediate_size: text.intermediateSize,
      num_hidden_layers: text.numLayers,
      num_attention_heads: text.numHeads,
      num_key_value_heads: text.numKvHeads,
      head_dim: text.headDim,
      vocab_size: text.vocabSize,
      rope_theta: text.ropeTheta,
      rms_norm_eps: text.rmsNormEps,
      hidden_act: 'silu',
      tie_word_embeddings: text.tieWordEmbeddings,
      ...(text.kind === 'qwen2' ? {} : { attention_bias: false }),
      ...(text.kind === 'mistral' ? { sliding_window: text.slidingWindow ?? null } : {}),
    },
    vision_config: vision.kind === 'conv' ? convVisionConfigJson(vision) : {
      model_type: vision.kind === 'clip' ? 'clip_vision_model' : 'siglip_vision_model',
      hidden_size: vision.hiddenSize,
      intermediate_size: vision.intermediateSize,
      num_hidden_layers: vision.numLayers,
      num_attention_heads: vision.numHeads,
      image_size: vision.imageSize,
      patch_size: vision.patchSize,
      num_channels: vision.numChannels,
      layer_norm_eps: vision.layerNormEps,
      hidden_act: vision.hiddenAct,
    },
  };
}

function matrixTensor(matrix: Matrix, shape: readonly number[] = [matrix.rows, matrix.cols]): TensorToWrite {
  if (matrix.dtype === 'f32') return { shape, data: matrix.data as Float32Array };
  return { shape, data: matrix.data as Uint16Array, dtype: matrix.dtype === 'bf16' ? 'BF16' : 'F16' };
}

export function llavaTensors(model: LlavaModel): Record<string, TensorToWrite> {
  const tensors: Record<string, TensorToWrite> = {};
  const vector = (name: string, data: Float32Array) => { tensors[name] = { shape: [data.length], data }; };
  const linear = (prefix: string, layer: Linear) => {
    tensors[`${prefix}.weight`] = matrixTensor(layer.weight);
    if (layer.bias) vector(`${prefix}.bias`, layer.bias);
  };
  const tower = model.visionTower;
  if (tower instanceof ConvVisionTower) {
    Object.assign(tensors, convVisionTensors(tower.config, tower.weights, 'model.vision_tower'));
  } else if (tower instanceof VisionTower) {
    const v = tower.weights;
    const vc = tower.config;
    const vp = 'model.vision_tower.vision_model';
    tensors[`${vp}.embeddings.patch_embedding.weight`] = matrixTensor(v.patchEmbedding.weight, [vc.hiddenSize, vc.numChannels, vc.patchSize, vc.patchSize]);
    if (v.patchEmbedding.bias) vector(`${vp}.embeddings.patch_embedding.bias`, v.patchEmbedding.bias);
    if (v.classEmbedding) vector(`${vp}.embeddings.class_embedding`, v.classEmbedding);
    tensors[`${vp}.embeddings.position_embedding.weight`] = { shape: [v.positionEmbedding.length / vc.hiddenSize, vc.hiddenSize], data: v.positionEmbedding };
    if (v.preNorm) { vector(`${vp}.pre_layrnorm.weight`, v.preNorm.weight); vector(`${vp}.pre_layrnorm.bias`, v.preNorm.bias); }
    v.layers.forEach((layer, l) => {
      const p = `${vp}.encoder.layers.${l}`;
      vector(`${p}.layer_norm1.weight`, layer.norm1.weight); vector(`${p}.layer_norm1.bias`, layer.norm1.bias);
      linear(`${p}.self_attn.q_proj`, layer.q); linear(`${p}.self_attn.k_proj`, layer.k);
      linear(`${p}.self_attn.v_proj`, layer.v); linear(`${p}.self_attn.out_proj`, layer.o);
      vector(`${p}.layer_norm2.weight`, layer.norm2.weight); vector(`${p}.layer_norm2.bias`, layer.norm2.bias);
      linear(`${p}.mlp.fc1`, layer.fc1); linear(`${p}.mlp.fc2`, layer.fc2);
    });
    if (v.postNorm) { vector(`${vp}.post_layernorm.weight`, v.postNorm.weight); vector(`${vp}.post_layernorm.bias`, v.postNorm.bias); }
  } else {
    throw new TypeError('saveLlava: the vision tower is neither a VisionTower nor a ConvVisionTower');
  }
  linear('model.multi_modal_projector.linear_1', model.projector.weights.linear1);
  linear('model.multi_modal_projector.linear_2', model.projector.weights.linear2);
  const d = model.decoder.weights;
  tensors['model.language_model.embed_tokens.weight'] = matrixTensor(d.embedTokens);
  d.layers.forEach((layer, l) => {
    const p = `model.language_model.layers.${l}`;
    vector(`${p}.input_layernorm.weight`, layer.inputNorm);
    linear(`${p}.self_attn.q_proj`, layer.q); linear(`${p}.self_attn.k_proj`, layer.k);
    linear(`${p}.self_attn.v_proj`, layer.v); linear(`${p}.self_attn.o_proj`, layer.o);
    vector(`${p}.post_attention_layernorm.weight`, layer.postNorm);
    linear(`${p}.mlp.gate_proj`, layer.gate); linear(`${p}.mlp.up_proj`, layer.up); linear(`${p}.mlp.down_proj`, layer.down);
  });
  vector('model.language_model.norm.weight', d.norm);
  if (!model.config.text.tieWordEmbeddings) tensors['lm_head.weight'] = matrixTensor(d.lmHead);
  return tensors;
}

function writeJsonAtomic(file: string, value: unknown): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(value, null, 2) + '\n');
  renameSync(temp, file);
}

/** Writes config.json and model.safetensors into `dir` (which must exist). */
export function saveLlava(model: LlavaModel, dir: string, metadata: Record<string, string> = {}): void {
  writeSafetensors(join(dir, 'model.safetensors'), llavaTensors(model), { format: 'pt', ...metadata });
  writeJsonAtomic(join(dir, 'config.json'), llavaConfigJson(model.config));
}

export { writeJsonAtomic };
