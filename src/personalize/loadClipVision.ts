/**
 * Loads the image half of a CLIP checkpoint in Hugging Face layout, for retrieval: a
 * `CLIPVisionModelWithProjection` (config.json `model_type: "clip_vision_model"`) or a full
 * `CLIPModel` (`model_type: "clip"`, the vision settings under `vision_config`, text weights
 * ignored). Weights: `vision_model.*` and `visual_projection.weight` in model.safetensors or
 * shards listed by model.safetensors.index.json; F32, F16 or BF16 (16-bit matrices stay
 * compact). The tower is the engine's VisionTower; every problem is a ModelLoadError naming
 * the file.
 *
 * The image embedding is CLIP's: post_layernorm of the class token of the last hidden state
 * (HF's `pooler_output`), times visual_projection (no bias) — what CLIP retrieval indexes hold.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getKernels } from '../engine/backend.ts';
import { bf16ToFloat32, f16ToFloat32 } from '../engine/dtypes.ts';
import type { Kernels, Matrix } from '../engine/kernels.ts';
import { SafetensorsError, SafetensorsFile, type SafetensorsHeader } from '../engine/safetensors.ts';
import { ModelLoadError } from '../models/config.ts';
import { ImageProcessor } from '../models/image/ImageProcessor.ts';
import { readWeightHeaders } from '../models/loadLlava.ts';
import { parseActivation } from '../models/layers/activations.ts';
import type { Linear } from '../models/layers/linear.ts';
import { VisionTower, type LayerNormWeights, type VisionConfig, type VisionLayerWeights } from '../models/visionTower.ts';

export interface ClipVisionModel {
  /** The checkpoint folder, resolved. */
  readonly dir: string;
  readonly config: VisionConfig;
  /** Length of the image embedding (visual_projection's output). */
  readonly projectionDim: number;
  readonly tower: VisionTower;
  /** visual_projection.weight [projectionDim, hidden]. */
  readonly projection: Matrix;
  readonly imageProcessor: ImageProcessor;
  /** sha256 (hex) over config.json and the preprocessing settings: identifies the model's behaviour. */
  readonly configHash: string;
  readonly files: readonly string[];
  readonly kernels: () => Kernels;
}

export interface LoadClipOptions {
  readonly kernels?: () => Kernels;
}

// HF's CLIPVisionConfig defaults (what a config.json may leave out).
const CLIP_VISION_DEFAULTS = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, image_size: 224,
  patch_size: 32, num_channels: 3, layer_norm_eps: 1e-5, hidden_act: 'quick_gelu', projection_dim: 512,
};

type Json = Record<string, unknown>;

function readJson(file: string): unknown {
  if (!existsSync(file)) throw new ModelLoadError(file, 'is missing (a CLIP checkpoint folder needs its config.json)');
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ModelLoadError(file, `is not valid JSON (${(error as Error).message})`);
  }
}

function positiveInt(file: string, json: Json, key: string, fallback: number, section: string): number {
  const value = json[key] ?? fallback;
  if (!Number.isInteger(value) || (value as number) <= 0) throw new ModelLoadError(file, `${section}${key} must be a positive integer, got ${JSON.stringify(json[key])}`);
  return value as number;
}

/** Parses a CLIPModel or CLIPVisionModelWithProjection config.json into the tower's config and the projection size. */
export function parseClipVisionConfig(file: string, json: unknown): { vision: VisionConfig; projectionDim: number } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ModelLoadError(file, 'is not a JSON object');
  const root = json as Json;
  let vision: Json;
  let section: string;
  let projectionDim: unknown;
  if (root.model_type === 'clip') {
    const nested = root.vision_config ?? {};
    if (typeof nested !== 'object' || nested === null) throw new ModelLoadError(file, 'vision_config is not an object');
    vision = nested as Json;
    section = 'vision_config.';
    projectionDim = root.projection_dim ?? vision.projection_dim ?? CLIP_VISION_DEFAULTS.projection_dim;
  } else if (root.model_type === 'clip_vision_model') {
    vision = root;
    section = '';
    projectionDim = root.projection_dim ?? CLIP_VISION_DEFAULTS.projection_dim;
  } else {
    throw new ModelLoadError(file, `model_type ${JSON.stringify(root.model_type)} is not a CLIP checkpoint (expected "clip" for CLIPModel or "clip_vision_model" for CLIPVisionModelWithProjection)`);
  }
  const d = CLIP_VISION_DEFAULTS;
  const hiddenSize = positiveInt(file, vision, 'hidden_size', d.hidden_size, section);
  const numHeads = positiveInt(file, vision, 'num_attention_heads', d.num_attention_heads, section);
  if (hiddenSize % numHeads !== 0) throw new ModelLoadError(file, `${section}hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  const eps = vision.layer_norm_eps ?? d.layer_norm_eps;
  if (typeof eps !== 'number' || !(eps > 0)) throw new ModelLoadError(file, `${section}layer_norm_eps must be a positive number, got ${JSON.stringify(vision.layer_norm_eps)}`);
  let hiddenAct;
  try {
    hiddenAct = parseActivation(vision.hidden_act ?? d.hidden_act, `${section}hidden_act`);
  } catch (error) {
    throw new ModelLoadError(file, (error as Error).message);
  }
  if (!Number.isInteger(projectionDim) || (projectionDim as number) <= 0) throw new ModelLoadError(file, `projection_dim must be a positive integer, got ${JSON.stringify(projectionDim)}`);
  return {
    vision: {
      kind: 'clip',
      hiddenSize,
      intermediateSize: positiveInt(file, vision, 'intermediate_size', d.intermediate_size, section),
      numLayers: positiveInt(file, vision, 'num_hidden_layers', d.num_hidden_layers, section),
      numHeads,
      imageSize: positiveInt(file, vision, 'image_size', d.image_size, section),
      patchSize: positiveInt(file, vision, 'patch_size', d.patch_size, section),
      numChannels: positiveInt(file, vision, 'num_channels', d.num_channels, section),
      layerNormEps: eps,
      hiddenAct,
    },
    projectionDim: projectionDim as number,
  };
}

/** The tensors of one or more shards by name, read with shape checks; vectors widened to float32. */
class ClipTensors {
  private readonly where = new Map<string, SafetensorsFile>();

  constructor(headers: readonly SafetensorsHeader[]) {
    for (const header of headers) {
      const file = new SafetensorsFile(header);
      for (const name of header.tensors.keys()) {
        const previous = this.where.get(name);
        if (previous) throw new ModelLoadError(header.file, `tensor "${name}" is also in ${previous.file}`);
        this.where.set(name, file);
      }
    }
  }

  has(name: string): boolean { return this.where.has(name); }

  private read(name: string, shape: readonly number[]) {
    const file = this.where.get(name);
    if (!file) throw new ModelLoadError(this.describeFiles(), `tensor "${name}" is missing`);
    const info = file.header.tensors.get(name)!;
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(file.file, `tensor "${name}" has shape ${JSON.stringify(info.shape)} but config.json implies ${JSON.stringify(shape)}`);
    }
    if (!['F32', 'F16', 'BF16'].includes(info.dtype)) throw new ModelLoadError(file.file, `tensor "${name}" has dtype ${info.dtype}; weights must be F32, F16 or BF16`);
    return file.read(name);
  }

  vector(name: string, shape: readonly number[]): Float32Array {
    const tensor = this.read(name, shape);
    if (tensor.dtype === 'F32') return tensor.data as Float32Array;
    const bits = tensor.data as Uint16Array;
    const widen = tensor.dtype === 'BF16' ? bf16ToFloat32 : f16ToFloat32;
    const out = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = widen(bits[i]);
    return out;
  }

  matrix(name: string, rows: number, cols: number, shape: readonly number[] = [rows, cols]): Matrix {
    const tensor = this.read(name, shape);
    if (tensor.dtype === 'F32') return { dtype: 'f32', rows, cols, data: tensor.data as Float32Array };
    return { dtype: tensor.dtype === 'BF16' ? 'bf16' : 'f16', rows, cols, data: tensor.data as Uint16Array };
  }

  linear(prefix: string, out: number, inp: number): Linear {
    return { weight: this.matrix(`${prefix}.weight`, out, inp), bias: this.vector(`${prefix}.bias`, [out]) };
  }

  norm(prefix: string, size: number): LayerNormWeights {
    return { weight: this.vector(`${prefix}.weight`, [size]), bias: this.vector(`${prefix}.bias`, [size]) };
  }

  describeFiles(): string {
    return [...new Set([...this.where.values()].map((file) => file.file))].join(', ') || '(no weight files)';
  }

  close(): void {
    for (const file of new Set(this.where.values())) file.close();
  }
}

/** Loads a CLIP checkpoint's vision tower, visual projection and image preprocessing. */
export function loadClipVision(dir: string, options: LoadClipOptions = {}): ClipVisionModel {
  const folder = resolve(dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new ModelLoadError(folder, 'is not a folder (expected a CLIP checkpoint folder in Hugging Face layout)');
  const configFile = join(folder, 'config.json');
  const configText = existsSync(configFile) ? readFileSync(configFile, 'utf8') : '';
  const { vision: config, projectionDim } = parseClipVisionConfig(configFile, readJson(configFile));
  const { files, headers } = readWeightHeaders(folder);
  const tensors = new ClipTensors(headers);
  const kernels = options.kernels ?? getKernels;
  try {
    if (!tensors.has('visual_projection.weight')) {
      throw new ModelLoadError(tensors.describeFiles(), 'has no tensor "visual_projection.weight": this is a CLIPVisionModel without projection; use a CLIPVisionModelWithProjection or CLIPModel checkpoint');
    }
    const C = config.hiddenSize;
    const F = config.intermediateSize;
    const side = Math.floor(config.imageSize / config.patchSize);
    const p = 'vision_model';
    const layers: VisionLayerWeights[] = [];
    for (let l = 0; l < config.numLayers; l++) {
      const lp = `${p}.encoder.layers.${l}`;
      layers.push({
        norm1: tensors.norm(`${lp}.layer_norm1`, C),
        q: tensors.linear(`${lp}.self_attn.q_proj`, C, C),
        k: tensors.linear(`${lp}.self_attn.k_proj`, C, C),
        v: tensors.linear(`${lp}.self_attn.v_proj`, C, C),
        o: tensors.linear(`${lp}.self_attn.out_proj`, C, C),
        norm2: tensors.norm(`${lp}.layer_norm2`, C),
        fc1: tensors.linear(`${lp}.mlp.fc1`, F, C),
        fc2: tensors.linear(`${lp}.mlp.fc2`, C, F),
      });
    }
    const P = config.numChannels * config.patchSize * config.patchSize;
    const tower = new VisionTower(config, {
      patchEmbedding: { weight: tensors.matrix(`${p}.embeddings.patch_embedding.weight`, C, P, [C, config.numChannels, config.patchSize, config.patchSize]), bias: null },
      classEmbedding: tensors.vector(`${p}.embeddings.class_embedding`, [C]),
      positionEmbedding: tensors.vector(`${p}.embeddings.position_embedding.weight`, [side * side + 1, C]),
      preNorm: tensors.norm(`${p}.pre_layrnorm`, C),
      layers,
      postNorm: tensors.norm(`${p}.post_layernorm`, C),
    }, kernels);
    const projection = tensors.matrix('visual_projection.weight', projectionDim, C);
    const preprocessorFile = join(folder, 'preprocessor_config.json');
    const imageProcessor = existsSync(preprocessorFile)
      ? ImageProcessor.fromConfigFile(preprocessorFile)
      : new ImageProcessor({ kind: 'clip', size: { shortestEdge: config.imageSize }, cropSize: { height: config.imageSize, width: config.imageSize } }, configFile);
    const configHash = createHash('sha256').update(configText).update('\0').update(JSON.stringify(imageProcessor.options)).digest('hex');
    return { dir: folder, config, projectionDim, tower, projection, imageProcessor, configHash, files, kernels };
  } catch (error) {
    if (error instanceof SafetensorsError) throw new ModelLoadError(error.file, error.message.slice(error.file.length + 2));
    throw error;
  } finally {
    tensors.close();
  }
}

/** CLIP's image embedding of preprocessed pixel values [3, S, S]: visual_projection(post_layernorm(class token)), not normalised. */
export function clipImageEmbedding(model: ClipVisionModel, pixelValues: Float32Array): Float32Array {
  const { hiddenStates } = model.tower.forward(pixelValues);
  const last = hiddenStates[hiddenStates.length - 1];
  const pooled = model.tower.postNorm(last, 1); // the class token is row 0
  const embedding = new Float32Array(model.projectionDim);
  model.kernels().linear(pooled, 1, model.projection, embedding, false);
  return embedding;
}
