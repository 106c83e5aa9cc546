/**
 * Loads a LLaVA checkpoint from a local folder in Hugging Face layout: config.json, and
 * model.safetensors or shards listed by model.safetensors.index.json. Names are mapped to one
 * canonical form (`sanitizeName`); every tensor's shape is checked against the config; f16 and
 * bf16 matrices stay compact unless `dtype: 'float32'` asks for float32 (training all weights).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getKernels } from '../engine/backend.ts';
import type { Kernels, Matrix, WeightDType } from '../engine/kernels.ts';
import { elementCount, readSafetensorsHeader, SafetensorsError, SafetensorsFile, type SafetensorsHeader, type StoredTensor } from '../engine/safetensors.ts';
import { ModelLoadError, parseLlavaConfig, type LlavaConfig } from './config.ts';
import { ConvVisionTower, readConvVisionWeights } from './convVisionTower.ts';
import { Decoder, type DecoderLayerWeights, type DecoderWeights } from './decoder.ts';
import type { Linear } from './layers/linear.ts';
import { LlavaModel } from './llava.ts';
import { Projector, type ProjectorWeights } from './projector.ts';
import type { VisionEncoder } from './visionEncoder.ts';
import { VisionTower, type LayerNormWeights, type VisionConfig, type VisionLayerWeights, type VisionWeights } from './visionTower.ts';

export interface LoadProgress {
  readonly file: string;
  readonly loadedBytes: number;
  readonly totalBytes: number;
}

export interface LoadOptions {
  /** 'auto' (default) keeps f16/bf16 matrices compact; 'float32' widens everything. */
  readonly dtype?: 'auto' | 'float32';
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Kernels to run on (default: the best available). */
  readonly kernels?: () => Kernels;
}

/**
 * Checkpoint names come in three conventions (see the fixtures README): old llava-hf
 * (`language_model.model.*`, `language_model.lm_head.*`), new transformers ≥ 4.52
 * (`model.language_model.*`, `model.vision_tower.*`, top-level `lm_head.*`), and a mixed one
 * without `vision_model.`. All map to: `vision_tower.*`, `multi_modal_projector.*`,
 * `language_model.*` (no `model.`), `lm_head.*`.
 */
export function sanitizeName(name: string): string {
  let n = name.startsWith('model.') ? name.slice('model.'.length) : name;
  if (n.startsWith('language_model.model.')) n = 'language_model.' + n.slice('language_model.model.'.length);
  else if (n.startsWith('language_model.lm_head.')) n = 'lm_head.' + n.slice('language_model.lm_head.'.length);
  if (n.startsWith('vision_tower.vision_model.')) n = 'vision_tower.' + n.slice('vision_tower.vision_model.'.length);
  return n;
}

/** Tensors a loader may meet and LLaVA does not use. */
const IGNORED = [/^vision_tower\.head\./, /rotary_emb\.inv_freq$/, /position_ids$/];

/** Finds the weight files: the index's shards, else model.safetensors, else every *.safetensors. */
function weightFiles(dir: string): string[] {
  const indexFile = join(dir, 'model.safetensors.index.json');
  if (existsSync(indexFile)) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(readFileSync(indexFile, 'utf8'));
    } catch (error) {
      throw new ModelLoadError(indexFile, `is not valid JSON (${(error as Error).message})`);
    }
    if (!index.weight_map || typeof index.weight_map !== 'object') throw new ModelLoadError(indexFile, 'has no weight_map');
    const files = [...new Set(Object.values(index.weight_map))].sort();
    for (const file of files) {
      if (!existsSync(join(dir, file))) throw new ModelLoadError(join(dir, file), `is listed in ${indexFile} but does not exist`);
    }
    return files.map((file) => join(dir, file));
  }
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  const all = readdirSync(dir).filter((f) => f.endsWith('.safetensors') && f !== 'reference.safetensors').sort();
  if (all.length === 0) {
    const hint = existsSync(join(dir, 'pytorch_model.bin')) ? ' (pytorch_model.bin is not read: convert the checkpoint to safetensors)' : '';
    throw new ModelLoadError(dir, `holds no model.safetensors, no model.safetensors.index.json and no *.safetensors weights${hint}`);
  }
  return all.map((file) => join(dir, file));
}

/** The weight files of a checkpoint folder and their parsed headers (errors name the file). */
export function readWeightHeaders(dir: string): { files: string[]; headers: SafetensorsHeader[] } {
  const files = weightFiles(dir);
  const headers = files.map((file) => {
    try {
      return readSafetensorsHeader(file);
    } catch (error) {
      if (error instanceof SafetensorsError) throw new ModelLoadError(file, error.message.slice(file.length + 2));
      throw error;
    }
  });
  return { files, headers };
}

export function readLlavaConfig(dir: string): LlavaConfig {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelLoadError(dir, 'is not a folder (expected a checkpoint folder in Hugging Face layout)');
  const configFile = join(dir, 'config.json');
  if (!existsSync(configFile)) throw new ModelLoadError(configFile, 'is missing (every checkpoint folder needs its config.json)');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (error) {
    throw new ModelLoadError(configFile, `is not valid JSON (${(error as Error).message})`);
  }
  return parseLlavaConfig(configFile, json);
}

/** Reads tensors by canonical name from several shards, checking shapes and converting dtypes. */
class TensorSource {
  private readonly where = new Map<string, { file: SafetensorsFile; original: string }>();
  private readonly used = new Set<string>();
  private loadedBytes = 0;
  readonly totalBytes: number;

  constructor(headers: SafetensorsHeader[], private readonly dtype: 'auto' | 'float32', private readonly onProgress?: (p: LoadProgress) => void) {
    let total = 0;
    for (const header of headers) {
      const file = new SafetensorsFile(header);
      for (const [name, info] of header.tensors) {
        const canonical = sanitizeName(name);
        const previous = this.where.get(canonical);
        if (previous) throw new ModelLoadError(header.file, `tensor "${name}" is also in ${previous.file.file} as "${previous.original}"`);
        this.where.set(canonical, { file, original: name });
        total += info.end - info.begin;
      }
    }
    this.totalBytes = total;
  }

  has(name: string): boolean { return this.where.has(name); }

  /** Finds a tensor and checks its shape and dtype. */
  private locate(name: string, shape: readonly number[]) {
    const entry = this.where.get(name);
    if (!entry) throw new ModelLoadError(this.describeFiles(), `tensor "${name}" is missing (checked all key conventions)`);
    const info = entry.file.header.tensors.get(entry.original)!;
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(entry.file.file, `tensor "${entry.original}" has shape ${JSON.stringify(info.shape)} but config.json implies ${JSON.stringify(shape)}`);
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) throw new ModelLoadError(entry.file.file, `tensor "${entry.original}" has dtype ${info.dtype}; weights must be F32, F16 or BF16`);
    return { entry, info };
  }

  private progress(name: string, bytes: number, file: string): void {
    this.used.add(name);
    this.loadedBytes += bytes;
    this.onProgress?.({ file, loadedBytes: this.loadedBytes, totalBytes: this.totalBytes });
  }

  private read(name: string, shape: readonly number[]): { tensor: StoredTensor; file: string } {
    const { entry, info } = this.locate(name, shape);
    const tensor = entry.file.read(entry.original);
    this.progress(name, info.end - info.begin, entry.file.file);
    return { tensor, file: entry.file.file };
  }

  /**
   * Several matrices of the same width read into ONE buffer, as consecutive row blocks, so
   * that the model can run them as one fused product (q/k/v, gate/up) with no copy. Falls
   * back to separate buffers when their dtypes differ.
   */
  stackedMatrices(names: readonly string[], rows: readonly number[], cols: number): Matrix[] {
    const located = names.map((name, i) => this.locate(name, [rows[i], cols]));
    const dtypes = new Set(located.map(({ info }) => info.dtype));
    if (dtypes.size !== 1 || dtypes.has('F64')) return names.map((name, i) => this.matrix(name, rows[i], cols));
    const stored = located[0].info.dtype;
    const dtype: WeightDType = stored === 'F32' || this.dtype === 'float32' ? 'f32' : stored === 'BF16' ? 'bf16' : 'f16';
    const total = rows.reduce((sum, r) => sum + r * cols, 0);
    const buffer = dtype === 'f32' ? new Float32Array(total) : new Uint16Array(total);
    let offset = 0;
    return located.map(({ entry, info }, i) => {
      const view = buffer.subarray(offset, offset + rows[i] * cols);
      offset += rows[i] * cols;
      if (stored === 'F32' || dtype !== 'f32') {
        entry.file.readInto(entry.original, view);
      } else {
        const bits = entry.file.read(entry.original).data as Uint16Array;
        getKernels().toFloat32(bits, stored === 'BF16' ? 'bf16' : 'f16', view as Float32Array);
      }
      this.progress(names[i], info.end - info.begin, entry.file.file);
      return { dtype, rows: rows[i], cols, data: view };
    });
  }

  matrix(name: string, rows: number, cols: number, shape: readonly number[] = [rows, cols]): Matrix {
    const { tensor } = this.read(name, shape);
    if (tensor.dtype === 'F32') return { dtype: 'f32', rows, cols, data: tensor.data as Float32Array };
    if (tensor.dtype === 'F64') return { dtype: 'f32', rows, cols, data: Float32Array.from(tensor.data as Float64Array) };
    const dtype = tensor.dtype === 'BF16' ? 'bf16' : 'f16';
    if (this.dtype === 'auto') return { dtype, rows, cols, data: tensor.data as Uint16Array };
    const widened = new Float32Array(rows * cols);
    getKernels().toFloat32(tensor.data as Uint16Array, dtype, widened);
    return { dtype: 'f32', rows, cols, data: widened };
  }

  vector(name: string, shape: readonly number[]): Float32Array {
    const length = elementCount(shape);
    const { tensor } = this.read(name, shape);
    if (tensor.dtype === 'F32') return tensor.data as Float32Array;
    if (tensor.dtype === 'F64') return Float32Array.from(tensor.data as Float64Array);
    const out = new Float32Array(length);
    getKernels().toFloat32(tensor.data as Uint16Array, tensor.dtype === 'BF16' ? 'bf16' : 'f16', out);
    return out;
  }

  linear(prefix: string, out: number, inp: number, bias: boolean): Linear {
    return { weight: this.matrix(`${prefix}.weight`, out, inp), bias: bias ? this.vector(`${prefix}.bias`, [out]) : null };
  }

  norm(prefix: string, size: number): LayerNormWeights {
    return { weight: this.vector(`${prefix}.weight`, [size]), bias: this.vector(`${prefix}.bias`, [size]) };
  }

  unused(): string[] {
    return [...this.where.keys()].filter((name) => !this.used.has(name) && !IGNORED.some((pattern) => pattern.test(name)));
  }

  describeFiles(): string {
    return [...new Set([...this.where.values()].map((entry) => entry.file.file))].join(', ') || '(no weight files)';
  }

  close(): void {
    for (const { file } of this.where.values()) file.close();
  }
}

export interface LoadedLlava {
  readonly model: LlavaModel;
  readonly config: LlavaConfig;
  readonly files: readonly string[];
  /** Checkpoint tensors the model does not use (reported, not an error). */
  readonly unusedTensors: readonly string[];
}

export function loadLlava(dir: string, options: LoadOptions = {}): LoadedLlava {
  const config = readLlavaConfig(dir);
  const { files, headers } = readWeightHeaders(dir);
  const source = new TensorSource(headers, options.dtype ?? 'auto', options.onProgress);
  const kernels = options.kernels ?? getKernels;
  try {
    const vision: VisionEncoder = config.vision.kind === 'conv'
      ? new ConvVisionTower(config.vision, readConvVisionWeights(source, config.vision), kernels)
      : new VisionTower(config.vision, readVisionWeights(source, config.vision), kernels);
    const projector = readProjectorWeights(source, config);
    const text = readDecoderWeights(source, config);
    const model = new LlavaModel(
      config,
      vision,
      new Projector(projector, config.projectorAct, kernels),
      new Decoder(config.text, text, kernels),
      kernels,
    );
    return { model, config, files, unusedTensors: source.unused() };
  } catch (error) {
    if (error instanceof SafetensorsError) throw new ModelLoadError(error.file, error.message.slice(error.file.length + 2));
    throw error;
  } finally {
    source.close();
  }
}

function readVisionWeights(source: TensorSource, v: VisionConfig): VisionWeights {
  const C = v.hiddenSize;
  const F = v.intermediateSize;
  const side = Math.floor(v.imageSize / v.patchSize);
  const tokens = side * side + (v.kind === 'clip' ? 1 : 0);
  const P = v.numChannels * v.patchSize * v.patchSize;
  const p = 'vision_tower';
  const layers: VisionLayerWeights[] = [];
  for (let l = 0; l < v.numLayers; l++) {
    const lp = `${p}.encoder.layers.${l}`;
    layers.push({
      norm1: source.norm(`${lp}.layer_norm1`, C),
      q: source.linear(`${lp}.self_attn.q_proj`, C, C, true),
      k: source.linear(`${lp}.self_attn.k_proj`, C, C, true),
      v: source.linear(`${lp}.self_attn.v_proj`, C, C, true),
      o: source.linear(`${lp}.self_attn.out_proj`, C, C, true),
      norm2: source.norm(`${lp}.layer_norm2`, C),
      fc1: source.linear(`${lp}.mlp.fc1`, F, C, true),
      fc2: source.linear(`${lp}.mlp.fc2`, C, F, true),
    });
  }
  const patchEmbedding: Linear = {
    weight: source.matrix(`${p}.embeddings.patch_embedding.weight`, C, P, [C, v.numChannels, v.patchSize, v.patchSize]),
    bias: v.kind === 'siglip' ? source.vector(`${p}.embeddings.patch_embedding.bias`, [C]) : null,
  };
  return {
    patchEmbedding,
    classEmbedding: v.kind === 'clip' ? source.vector(`${p}.embeddings.class_embedding`, [C]) : null,
    positionEmbedding: source.vector(`${p}.embeddings.position_embedding.weight`, [tokens, C]),
    preNorm: v.kind === 'clip' ? source.norm(`${p}.pre_layrnorm`, C) : null,
    layers,
    postNorm: source.has(`${p}.post_layernorm.weight`) ? source.norm(`${p}.post_layernorm`, C) : null,
  };
}

function readProjectorWeights(source: TensorSource, config: LlavaConfig): ProjectorWeights {
  const Ct = config.text.hiddenSize;
  const Cv = config.vision.hiddenSize;
  return {
    linear1: source.linear('multi_modal_projector.linear_1', Ct, Cv, config.projectorBias),
    linear2: source.linear('multi_modal_projector.linear_2', Ct, Ct, config.projectorBias),
  };
}

/** Vectors read into one buffer as consecutive blocks (fused q/k/v biases). */
function stackedVectors(source: TensorSource, names: readonly string[], lengths: readonly number[]): Float32Array[] {
  const buffer = new Float32Array(lengths.reduce((a, b) => a + b, 0));
  let offset = 0;
  return names.map((name, i) => {
    const view = buffer.subarray(offset, offset + lengths[i]);
    view.set(source.vector(name, [lengths[i]]));
    offset += lengths[i];
    return view;
  });
}

function readDecoderWeights(source: TensorSource, config: LlavaConfig): DecoderWeights {
  const t = config.text;
  const C = t.hiddenSize;
  const F = t.intermediateSize;
  const qSize = t.numHeads * t.headDim;
  const kvSize = t.numKvHeads * t.headDim;
  const bias = t.kind === 'qwen2';
  const layers: DecoderLayerWeights[] = [];
  for (let l = 0; l < t.numLayers; l++) {
    const lp = `language_model.layers.${l}`;
    const [q, k, v] = source.stackedMatrices([`${lp}.self_attn.q_proj.weight`, `${lp}.self_attn.k_proj.weight`, `${lp}.self_attn.v_proj.weight`], [qSize, kvSize, kvSize], C);
    const [gate, up] = source.stackedMatrices([`${lp}.mlp.gate_proj.weight`, `${lp}.mlp.up_proj.weight`], [F, F], C);
    const biases = bias ? stackedVectors(source, [`${lp}.self_attn.q_proj.bias`, `${lp}.self_attn.k_proj.bias`, `${lp}.self_attn.v_proj.bias`], [qSize, kvSize, kvSize]) : [null, null, null];
    layers.push({
      inputNorm: source.vector(`${lp}.input_layernorm.weight`, [C]),
      q: { weight: q, bias: biases[0] },
      k: { weight: k, bias: biases[1] },
      v: { weight: v, bias: biases[2] },
      o: source.linear(`${lp}.self_attn.o_proj`, C, qSize, false),
      postNorm: source.vector(`${lp}.post_attention_layernorm.weight`, [C]),
      gate: { weight: gate, bias: null },
      up: { weight: up, bias: null },
      down: source.linear(`${lp}.mlp.down_proj`, C, F, false),
    });
  }
  const embedTokens = source.matrix('language_model.embed_tokens.weight', t.vocabSize, C);
  const tied = t.tieWordEmbeddings && !source.has('lm_head.weight');
  const lmHead = tied ? embedTokens : source.matrix('lm_head.weight', t.vocabSize, C);
  return { embedTokens, layers, norm: source.vector('language_model.norm.weight', [C]), lmHead };
}
