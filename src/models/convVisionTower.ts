/**
 * yollava's own vision tower: a small convolutional network, because on a from-scratch,
 * minutes-long budget a CNN learns to see attributes and a ViT does not
 * (shared/notes/world-facts.md).
 *
 *   stem:     conv k×k (stride stem_stride)            → norm → act
 *   stage i:  h   = act(norm1(conv1 k×k, stride s_i)(x))
 *             out = h + act(norm2(conv2 k×k, stride 1)(h))      (a residual around conv2)
 *   tokens:   the last stage's map [H'·W', C] row-major + a learned position embedding
 *
 * Maps are channels-last [N, H, W, C] throughout, so a map of one image already is a token
 * matrix and the per-position norms work on rows. Convolutions are im2col + one product for
 * the whole batch (layers/conv2d.ts). Convolutions have no bias: the norm right after each
 * one shifts per channel anyway.
 *
 * Normalisation: GroupNorm (default) or LayerNorm over the channels of each position; both
 * use statistics of the image itself, never running averages, so a batch of one (LLaVA,
 * personalisation) computes exactly what training computed — BatchNorm would behave
 * differently in training and inference and couple the images of a batch. GroupNorm keeps
 * the contrast between positions (a subject's tokens stay louder than the background's);
 * the per-position LayerNorm gives every position the same scale.
 *
 * Hidden states: [0] the stem's map, [i] stage i's map ([N·H_i·W_i, C_i] each); the last one
 * (after every stage) has the position embedding added and is the token matrix LLaVA reads
 * (vision_feature_layer −1, select "full": there is no class token).
 */
import type { Kernels } from '../engine/kernels.ts';
import type { TensorToWrite } from '../engine/safetensors.ts';
import { activationBackward, activationForward, type ActivationName } from './layers/activations.ts';
import { conv2dBackward, conv2dForward, conv2dOutputRows, convOutputSize, convWeightFromTorch, convWeightToTorch, im2colSize, type Conv2dShape } from './layers/conv2d.ts';
import { groupNormBackward, groupNormForward } from './layers/groupNorm.ts';
import type { Linear, LinearGrads } from './layers/linear.ts';
import { layerNormBackward, layerNormForward } from './layers/norms.ts';
import type { VisionEncoder, VisionForwardOptions } from './visionEncoder.ts';
import { WrittenTokens, writtenHeadRows, writtenTokensConfigProblem, type WrittenTokensConfig, type WrittenTokensGrads, type WrittenTokensTape, type WrittenTokensWeights } from './writtenTokens.ts';

export type ConvNormKind = 'group_norm' | 'layer_norm';

export interface ConvStageConfig {
  readonly channels: number;
  /** Stride of the stage's first convolution (2 halves the map). */
  readonly stride: number;
}

export interface ConvVisionConfig {
  readonly kind: 'conv';
  readonly imageSize: number;
  readonly numChannels: number;
  /** Every convolution is kernelSize × kernelSize (odd), padded by kernelSize >> 1. */
  readonly kernelSize: number;
  readonly stemChannels: number;
  readonly stemStride: number;
  readonly stages: readonly ConvStageConfig[];
  /** Token width: the last stage's channels. */
  readonly hiddenSize: number;
  /** Hidden states after the stem's: one per stage (= stages.length). */
  readonly numLayers: number;
  readonly norm: ConvNormKind;
  /** GroupNorm's groups (divides every channel count); ignored by layer_norm. */
  readonly numGroups: number;
  readonly hiddenAct: ActivationName;
  readonly layerNormEps: number;
  /** Tokens written as soft words after the map tokens (writtenTokens.ts); none when absent. */
  readonly writtenTokens?: WrittenTokensConfig | null;
}

export interface ConvNormWeights { readonly weight: Float32Array; readonly bias: Float32Array }
/** Gradients of a norm; null where frozen. */
export interface ConvNormGrads { weight: Float32Array | null; bias: Float32Array | null }

/** Convolution weights are Linear [out, k·k·in], columns tap-major (ky, kx, c): see layers/conv2d.ts. */
export interface ConvStageWeights {
  readonly conv1: Linear; readonly norm1: ConvNormWeights;
  readonly conv2: Linear; readonly norm2: ConvNormWeights;
}

export interface ConvVisionWeights {
  readonly stem: Linear;
  readonly stemNorm: ConvNormWeights;
  readonly stages: readonly ConvStageWeights[];
  readonly positionEmbedding: Float32Array; // [map tokens, hiddenSize]
  readonly written?: WrittenTokensWeights | null;
}

export interface ConvStageGrads { conv1: LinearGrads; norm1: ConvNormGrads; conv2: LinearGrads; norm2: ConvNormGrads }

export interface ConvVisionGrads {
  stem: LinearGrads;
  stemNorm: ConvNormGrads;
  stages: ConvStageGrads[];
  positionEmbedding: Float32Array | null;
  written?: WrittenTokensGrads | null;
}

/** What one conv → norm → act unit keeps for its backward. */
interface ConvUnitTape {
  readonly input: Float32Array; // [N, H, W, in]
  readonly conv: Float32Array; // [rows, out] before the norm
  readonly mean: Float32Array;
  readonly rstd: Float32Array;
  readonly normed: Float32Array; // before the activation
}

export interface ConvVisionTape {
  readonly batch: number;
  /** Stages run (the hidden state the tape reached). */
  readonly layers: number;
  readonly units: readonly ConvUnitTape[]; // stem, then conv1 and conv2 of each stage run
  /** The written tokens' tape when they were written. */
  readonly written: WrittenTokensTape | null;
}

export interface ConvForwardOptions extends VisionForwardOptions {
  /** false: the map tokens alone, without the written ones (stage 1 pools and trains on the map). */
  readonly written?: boolean;
}

/** A reason the configuration cannot build a tower, or null. */
export function convVisionConfigProblem(config: ConvVisionConfig): string | null {
  const { kernelSize: k, stages, numGroups: G } = config;
  if (k % 2 !== 1) return `kernel_size ${k} must be odd (padding keeps the map centred)`;
  if (stages.length === 0) return 'needs at least one stage';
  if (config.numLayers !== stages.length) return `num_hidden_layers ${config.numLayers} differs from the ${stages.length} stages`;
  const last = stages[stages.length - 1].channels;
  if (config.hiddenSize !== last) return `hidden_size ${config.hiddenSize} differs from the last stage's ${last} channels`;
  if (config.norm === 'group_norm') {
    for (const channels of [config.stemChannels, ...stages.map((s) => s.channels)]) {
      if (channels % G !== 0) return `num_groups ${G} does not divide ${channels} channels`;
    }
  }
  let side = convOutputSize(config.imageSize, k, config.stemStride, k >> 1);
  for (const stage of stages) side = convOutputSize(side, k, stage.stride, k >> 1);
  if (!(side >= 1)) return `a ${config.imageSize}×${config.imageSize} image leaves no feature map after the strides`;
  if (config.writtenTokens) {
    const written = writtenTokensConfigProblem(config.writtenTokens);
    if (written) return `written_tokens: ${written}`;
  }
  return null;
}

export class ConvVisionTower implements VisionEncoder<ConvVisionTape, ConvVisionGrads> {
  /** Side of each hidden state's map: [stem, stage 0, …]. */
  readonly sides: readonly number[];
  /** The written tokens' layer, when the tower has one. */
  readonly written: WrittenTokens | null;

  constructor(readonly config: ConvVisionConfig, readonly weights: ConvVisionWeights, private readonly kernels: () => Kernels) {
    const problem = convVisionConfigProblem(config);
    if (problem) throw new RangeError(`conv vision config: ${problem}`);
    const pad = config.kernelSize >> 1;
    const sides = [convOutputSize(config.imageSize, config.kernelSize, config.stemStride, pad)];
    for (const stage of config.stages) sides.push(convOutputSize(sides[sides.length - 1], config.kernelSize, stage.stride, pad));
    this.sides = sides;
    if (weights.stages.length !== config.stages.length) throw new RangeError(`${weights.stages.length} stage weights for ${config.stages.length} stages`);
    if (weights.positionEmbedding.length !== this.mapTokens * config.hiddenSize) {
      throw new RangeError(`position embedding holds ${weights.positionEmbedding.length} values, expected ${this.mapTokens}×${config.hiddenSize}`);
    }
    if (Boolean(config.writtenTokens) !== Boolean(weights.written)) throw new RangeError(`written tokens: the config ${config.writtenTokens ? 'has' : 'has none'} but the weights ${weights.written ? 'have' : 'have none'}`);
    this.written = config.writtenTokens && weights.written ? new WrittenTokens(config.writtenTokens, weights.written, config.hiddenSize) : null;
  }

  get featureMapSide(): number { return this.sides[this.sides.length - 1]; }
  /** Tokens of the feature map (one per position). */
  get mapTokens(): number { return this.featureMapSide ** 2; }
  /** Tokens of the last hidden state: the map's, then the written ones. */
  get numTokens(): number { return this.mapTokens + (this.written?.count ?? 0); }

  /** Every weight value. */
  get parameterCount(): number {
    const w = this.weights;
    const norm = (n: ConvNormWeights) => n.weight.length + n.bias.length;
    const conv = (l: Linear) => l.weight.rows * l.weight.cols + (l.bias?.length ?? 0);
    let total = conv(w.stem) + norm(w.stemNorm) + w.positionEmbedding.length;
    for (const s of w.stages) total += conv(s.conv1) + norm(s.norm1) + conv(s.conv2) + norm(s.norm2);
    return total + (this.written?.parameterCount ?? 0);
  }

  /** The convolution shapes of every unit (stem, conv1 and conv2 of each stage) for a batch. */
  private unitShapes(batch: number): Conv2dShape[] {
    const { kernelSize: kernel, imageSize, numChannels, stemChannels, stemStride, stages } = this.config;
    const padding = kernel >> 1;
    const shapes: Conv2dShape[] = [{ batch, height: imageSize, width: imageSize, inChannels: numChannels, outChannels: stemChannels, kernel, stride: stemStride, padding }];
    let channels = stemChannels;
    stages.forEach((stage, i) => {
      const side = this.sides[i];
      shapes.push({ batch, height: side, width: side, inChannels: channels, outChannels: stage.channels, kernel, stride: stage.stride, padding });
      const next = this.sides[i + 1];
      shapes.push({ batch, height: next, width: next, inChannels: stage.channels, outChannels: stage.channels, kernel, stride: 1, padding });
      channels = stage.channels;
    });
    return shapes;
  }

  private unitWeights(u: number): { conv: Linear; norm: ConvNormWeights } {
    if (u === 0) return { conv: this.weights.stem, norm: this.weights.stemNorm };
    const stage = this.weights.stages[(u - 1) >> 1];
    return u % 2 === 1 ? { conv: stage.conv1, norm: stage.norm1 } : { conv: stage.conv2, norm: stage.norm2 };
  }

  private static unitGrads(grads: ConvVisionGrads | null, u: number): { conv: LinearGrads | null; norm: ConvNormGrads | null } {
    if (!grads) return { conv: null, norm: null };
    if (u === 0) return { conv: grads.stem, norm: grads.stemNorm };
    const stage = grads.stages[(u - 1) >> 1];
    return u % 2 === 1 ? { conv: stage.conv1, norm: stage.norm1 } : { conv: stage.conv2, norm: stage.norm2 };
  }

  private statsLength(shape: Conv2dShape): number {
    return this.config.norm === 'layer_norm' ? conv2dOutputRows(shape) : shape.batch * this.config.numGroups;
  }

  private normForward(out: Float32Array, mean: Float32Array, rstd: Float32Array, x: Float32Array, norm: ConvNormWeights, shape: Conv2dShape): void {
    const rows = conv2dOutputRows(shape);
    const C = shape.outChannels;
    const eps = this.config.layerNormEps;
    if (this.config.norm === 'layer_norm') layerNormForward(out, mean, rstd, x, norm.weight, norm.bias, rows, C, eps);
    else (this.kernels().groupNormForward ?? groupNormForward)(out, mean, rstd, x, norm.weight, norm.bias, shape.batch, rows / shape.batch, C, this.config.numGroups, eps);
  }

  private normBackward(dx: Float32Array, grads: ConvNormGrads | null, dOut: Float32Array, tape: ConvUnitTape, norm: ConvNormWeights, shape: Conv2dShape): void {
    const rows = conv2dOutputRows(shape);
    const C = shape.outChannels;
    const dWeight = grads?.weight ?? null;
    const dBias = grads?.bias ?? null;
    if (this.config.norm === 'layer_norm') layerNormBackward(dx, dWeight, dBias, dOut, tape.conv, tape.mean, tape.rstd, norm.weight, rows, C);
    else (this.kernels().groupNormBackward ?? groupNormBackward)(dx, dWeight, dBias, dOut, tape.conv, tape.mean, tape.rstd, norm.weight, shape.batch, rows / shape.batch, C, this.config.numGroups);
  }

  /** One image: pixel values [channels, S, S]. */
  forward(pixelValues: Float32Array, options: ConvForwardOptions = {}): { hiddenStates: Float32Array[]; tape: ConvVisionTape | null } {
    return this.forwardBatch(pixelValues, 1, options);
  }

  /**
   * `batch` images at once, pixel values [batch, channels, S, S]: every convolution is one
   * im2col and one product over the whole batch. Hidden states are [batch, H_i·W_i, C_i];
   * `layers` stops after that many stages (the position embedding is added and the written tokens
   * follow the map tokens, [batch, numTokens, C], only after the last; `written: false` leaves them out).
   */
  forwardBatch(pixelValues: Float32Array, batch: number, options: ConvForwardOptions = {}): { hiddenStates: Float32Array[]; tape: ConvVisionTape | null } {
    const { numChannels, imageSize: S, hiddenAct } = this.config;
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    if (pixelValues.length !== batch * numChannels * S * S) {
      throw new RangeError(`pixel values hold ${pixelValues.length} values, the conv vision tower expects ${batch}×${numChannels}×${S}×${S}`);
    }
    const layers = options.layers ?? this.config.numLayers;
    if (!Number.isInteger(layers) || layers < 0 || layers > this.config.numLayers) throw new RangeError(`layers ${layers} is outside 0..${this.config.numLayers}`);
    const keep = options.tape === true;
    const kernels = this.kernels();
    const shapes = this.unitShapes(batch).slice(0, 1 + 2 * layers);
    const col = new Float32Array(Math.max(...shapes.map(im2colSize)));
    const units: ConvUnitTape[] = [];
    const runUnit = (u: number, input: Float32Array): Float32Array => {
      const shape = shapes[u];
      const { conv: convWeights, norm } = this.unitWeights(u);
      const size = conv2dOutputRows(shape) * shape.outChannels;
      const conv = new Float32Array(size);
      conv2dForward(kernels, conv, input, convWeights, shape, col);
      const mean = new Float32Array(this.statsLength(shape));
      const rstd = new Float32Array(mean.length);
      if (!keep) {
        // Nothing kept for a backward: norm and activation in place (both are elementwise after their statistics).
        this.normForward(conv, mean, rstd, conv, norm, shape);
        activationForward(hiddenAct, conv, conv, conv.length, kernels);
        return conv;
      }
      const normed = new Float32Array(size);
      this.normForward(normed, mean, rstd, conv, norm, shape);
      const out = new Float32Array(size);
      activationForward(hiddenAct, out, normed, normed.length, kernels);
      units.push({ input, conv, mean, rstd, normed });
      return out;
    };
    let x = runUnit(0, toChannelsLast(pixelValues, batch, numChannels, S));
    const hiddenStates = [x];
    for (let s = 0; s < layers; s++) {
      const h = runUnit(1 + 2 * s, x);
      const out = runUnit(2 + 2 * s, h);
      for (let i = 0; i < out.length; i++) out[i] += h[i];
      hiddenStates.push(out);
      x = out;
    }
    if (layers === this.config.numLayers) {
      const tokens = x.slice();
      const position = this.weights.positionEmbedding;
      const perImage = position.length;
      for (let n = 0; n < batch; n++) {
        const base = n * perImage;
        for (let i = 0; i < perImage; i++) tokens[base + i] += position[i];
      }
      hiddenStates[hiddenStates.length - 1] = tokens;
      if (this.written && options.written !== false) {
        const written = this.written.forward(tokens, batch, this.mapTokens);
        hiddenStates[hiddenStates.length - 1] = interleave(tokens, written.tokens, batch, this.mapTokens, this.written.count, this.config.hiddenSize);
        return { hiddenStates, tape: keep ? { batch, layers, units, written: written.tape } : null };
      }
    }
    return { hiddenStates, tape: keep ? { batch, layers, units, written: null } : null };
  }

  /**
   * From d loss / d (the last hidden state the tape reached) [batch, tokens, C] to the weights
   * (added into `grads`; null members are skipped) and to the pixels [batch, channels, S, S].
   */
  backward(tape: ConvVisionTape, dLast: Float32Array, grads: ConvVisionGrads | null): Float32Array {
    const { batch, layers } = tape;
    const { numChannels, imageSize: S, hiddenAct, hiddenSize } = this.config;
    const kernels = this.kernels();
    const shapes = this.unitShapes(batch).slice(0, 1 + 2 * layers);
    const lastShape = shapes[shapes.length - 1];
    const lastSize = conv2dOutputRows(lastShape) * lastShape.outChannels;
    if (dLast.length < lastSize) throw new RangeError(`dLast holds ${dLast.length} values, the last hidden state has ${lastSize}`);
    const col = new Float32Array(Math.max(...shapes.map(im2colSize)));
    const unitBackward = (u: number, dOut: Float32Array, dInput: Float32Array): void => {
      const shape = shapes[u];
      const unit = tape.units[u];
      const { conv, norm } = this.unitWeights(u);
      const g = ConvVisionTower.unitGrads(grads, u);
      const dNormed = new Float32Array(dOut.length);
      activationBackward(hiddenAct, dNormed, dOut, unit.normed, unit.normed.length, kernels);
      const dConv = new Float32Array(dOut.length);
      this.normBackward(dConv, g.norm, dNormed, unit, norm, shape);
      conv2dBackward(kernels, dInput, g.conv, dConv, unit.input, conv, shape, col);
    };
    let d = dLast.subarray(0, lastSize);
    if (tape.written && this.written) {
      // The written tokens follow each image's map tokens; their mean-token share joins the map's gradient.
      const map = this.mapTokens;
      const count = this.written.count;
      if (dLast.length < batch * (map + count) * hiddenSize) throw new RangeError(`dLast holds ${dLast.length} values, the last hidden state with its written tokens has ${batch * (map + count) * hiddenSize}`);
      const dMap = new Float32Array(lastSize);
      const dWritten = new Float32Array(batch * count * hiddenSize);
      for (let n = 0; n < batch; n++) {
        const base = n * (map + count) * hiddenSize;
        dMap.set(dLast.subarray(base, base + map * hiddenSize), n * map * hiddenSize);
        dWritten.set(dLast.subarray(base + map * hiddenSize, base + (map + count) * hiddenSize), n * count * hiddenSize);
      }
      this.written.backward(tape.written, dWritten, batch, map, grads?.written ?? null, dMap);
      d = dMap;
    }
    if (layers === this.config.numLayers && grads?.positionEmbedding) {
      const dPosition = grads.positionEmbedding;
      const perImage = this.mapTokens * hiddenSize;
      for (let n = 0; n < batch; n++) {
        const base = n * perImage;
        for (let i = 0; i < perImage; i++) dPosition[i] += d[base + i];
      }
    }
    for (let s = layers - 1; s >= 0; s--) {
      // out = h + act(norm2(conv2(h))): h gets the identity path plus the branch.
      const dh = d.slice();
      unitBackward(2 + 2 * s, d, dh);
      const input = shapes[1 + 2 * s];
      const dx = new Float32Array(batch * input.height * input.width * input.inChannels);
      unitBackward(1 + 2 * s, dh, dx);
      d = dx;
    }
    const dPixels = new Float32Array(batch * S * S * numChannels);
    unitBackward(0, d, dPixels);
    return toChannelsFirst(dPixels, batch, numChannels, S);
  }

  newGrads(): ConvVisionGrads {
    const conv = (l: Linear): LinearGrads => ({ weight: new Float32Array(l.weight.rows * l.weight.cols), bias: l.bias ? new Float32Array(l.bias.length) : null });
    const norm = (n: ConvNormWeights): ConvNormGrads => ({ weight: new Float32Array(n.weight.length), bias: new Float32Array(n.bias.length) });
    const w = this.weights;
    return {
      stem: conv(w.stem),
      stemNorm: norm(w.stemNorm),
      stages: w.stages.map((s) => ({ conv1: conv(s.conv1), norm1: norm(s.norm1), conv2: conv(s.conv2), norm2: norm(s.norm2) })),
      positionEmbedding: new Float32Array(w.positionEmbedding.length),
      written: this.written?.newGrads() ?? null,
    };
  }

  /** No final norm: the tokens as they are (a copy). */
  postNorm(x: Float32Array, rows: number): Float32Array {
    return x.slice(0, rows * this.config.hiddenSize);
  }
}

/** Each image's map tokens, then its written tokens: [batch, map + written, C]. */
function interleave(map: Float32Array, written: Float32Array, batch: number, mapCount: number, writtenCount: number, C: number): Float32Array {
  const out = new Float32Array(batch * (mapCount + writtenCount) * C);
  for (let n = 0; n < batch; n++) {
    const base = n * (mapCount + writtenCount) * C;
    out.set(map.subarray(n * mapCount * C, (n + 1) * mapCount * C), base);
    out.set(written.subarray(n * writtenCount * C, (n + 1) * writtenCount * C), base + mapCount * C);
  }
  return out;
}

/** [N, C, S, S] → [N, S, S, C]. */
function toChannelsLast(pixels: Float32Array, batch: number, channels: number, S: number): Float32Array {
  const out = new Float32Array(pixels.length);
  const plane = S * S;
  for (let n = 0; n < batch; n++) {
    const base = n * channels * plane;
    for (let c = 0; c < channels; c++) {
      const src = base + c * plane;
      for (let i = 0; i < plane; i++) out[base + i * channels + c] = pixels[src + i];
    }
  }
  return out;
}

/** [N, S, S, C] → [N, C, S, S]. */
function toChannelsFirst(maps: Float32Array, batch: number, channels: number, S: number): Float32Array {
  const out = new Float32Array(maps.length);
  const plane = S * S;
  for (let n = 0; n < batch; n++) {
    const base = n * channels * plane;
    for (let c = 0; c < channels; c++) {
      const dst = base + c * plane;
      for (let i = 0; i < plane; i++) out[dst + i] = maps[base + i * channels + c];
    }
  }
  return out;
}

// ---- Checkpoint layout: config.json keys and tensor names -------------------------------

export const CONV_VISION_MODEL_TYPE = 'yollava_conv_vision';

/** vision_config for config.json (HF-style snake_case keys). */
export function convVisionConfigJson(config: ConvVisionConfig): Record<string, unknown> {
  return {
    model_type: CONV_VISION_MODEL_TYPE,
    image_size: config.imageSize,
    num_channels: config.numChannels,
    kernel_size: config.kernelSize,
    stem_channels: config.stemChannels,
    stem_stride: config.stemStride,
    stage_channels: config.stages.map((s) => s.channels),
    stage_strides: config.stages.map((s) => s.stride),
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numLayers,
    norm_type: config.norm,
    num_groups: config.numGroups,
    hidden_act: config.hiddenAct,
    layer_norm_eps: config.layerNormEps,
    ...(config.writtenTokens ? { written_tokens: { gate_values: config.writtenTokens.gateValues, group_values: config.writtenTokens.groupValues } } : {}),
  };
}

/** Reads tensors by canonical name, checking their shape (loadLlava's TensorSource). */
export interface TensorReader {
  vector(name: string, shape: readonly number[]): Float32Array;
}

/** Channels in and out of each convolution: stem, then conv1 and conv2 of every stage. */
function convChannels(config: ConvVisionConfig): [number, number][] {
  const pairs: [number, number][] = [[config.numChannels, config.stemChannels]];
  let channels = config.stemChannels;
  for (const stage of config.stages) {
    pairs.push([channels, stage.channels], [stage.channels, stage.channels]);
    channels = stage.channels;
  }
  return pairs;
}

function tokenCount(config: ConvVisionConfig): number {
  const pad = config.kernelSize >> 1;
  let side = convOutputSize(config.imageSize, config.kernelSize, config.stemStride, pad);
  for (const stage of config.stages) side = convOutputSize(side, config.kernelSize, stage.stride, pad);
  return side * side;
}

/**
 * Tensor names (canonical, under `prefix`), PyTorch layouts:
 *   stem.weight [stem, in, k, k]; stem_norm.weight, stem_norm.bias [stem]
 *   stages.{i}.conv1.weight [C_i, C_{i−1}, k, k]; stages.{i}.norm1.weight/.bias [C_i]
 *   stages.{i}.conv2.weight [C_i, C_i, k, k];     stages.{i}.norm2.weight/.bias [C_i]
 *   position_embedding [map tokens, hidden]
 *   written_head.weight, written_table [rows, hidden]; written_head.bias [rows]  (with written_tokens)
 */
export function readConvVisionWeights(source: TensorReader, config: ConvVisionConfig, prefix = 'vision_tower'): ConvVisionWeights {
  const k = config.kernelSize;
  const conv = (name: string, inChannels: number, out: number): Linear => {
    const torch = source.vector(name, [out, inChannels, k, k]);
    return { weight: { dtype: 'f32', rows: out, cols: k * k * inChannels, data: convWeightFromTorch(torch, out, inChannels, k) }, bias: null };
  };
  const norm = (name: string, channels: number): ConvNormWeights => ({
    weight: source.vector(`${name}.weight`, [channels]),
    bias: source.vector(`${name}.bias`, [channels]),
  });
  const pairs = convChannels(config);
  return {
    stem: conv(`${prefix}.stem.weight`, pairs[0][0], pairs[0][1]),
    stemNorm: norm(`${prefix}.stem_norm`, config.stemChannels),
    stages: config.stages.map((stage, i) => ({
      conv1: conv(`${prefix}.stages.${i}.conv1.weight`, pairs[1 + 2 * i][0], stage.channels),
      norm1: norm(`${prefix}.stages.${i}.norm1`, stage.channels),
      conv2: conv(`${prefix}.stages.${i}.conv2.weight`, stage.channels, stage.channels),
      norm2: norm(`${prefix}.stages.${i}.norm2`, stage.channels),
    })),
    positionEmbedding: source.vector(`${prefix}.position_embedding`, [tokenCount(config), config.hiddenSize]),
    written: config.writtenTokens ? readWrittenWeights(source, config.writtenTokens, config.hiddenSize, prefix) : null,
  };
}

function readWrittenWeights(source: TensorReader, config: WrittenTokensConfig, width: number, prefix: string): WrittenTokensWeights {
  const rows = writtenHeadRows(config);
  return {
    head: { weight: { dtype: 'f32', rows, cols: width, data: source.vector(`${prefix}.written_head.weight`, [rows, width]) }, bias: source.vector(`${prefix}.written_head.bias`, [rows]) },
    table: source.vector(`${prefix}.written_table`, [rows, width]),
  };
}

/** The tower's tensors for a checkpoint, named as readConvVisionWeights reads them. */
export function convVisionTensors(config: ConvVisionConfig, weights: ConvVisionWeights, prefix = 'model.vision_tower'): Record<string, TensorToWrite> {
  const tensors: Record<string, TensorToWrite> = {};
  const k = config.kernelSize;
  const conv = (name: string, layer: Linear) => {
    const out = layer.weight.rows;
    const inChannels = layer.weight.cols / (k * k);
    tensors[name] = { shape: [out, inChannels, k, k], data: convWeightToTorch(layer.weight.data as Float32Array, out, inChannels, k) };
  };
  const norm = (name: string, n: ConvNormWeights) => {
    tensors[`${name}.weight`] = { shape: [n.weight.length], data: n.weight };
    tensors[`${name}.bias`] = { shape: [n.bias.length], data: n.bias };
  };
  conv(`${prefix}.stem.weight`, weights.stem);
  norm(`${prefix}.stem_norm`, weights.stemNorm);
  weights.stages.forEach((stage, i) => {
    conv(`${prefix}.stages.${i}.conv1.weight`, stage.conv1);
    norm(`${prefix}.stages.${i}.norm1`, stage.norm1);
    conv(`${prefix}.stages.${i}.conv2.weight`, stage.conv2);
    norm(`${prefix}.stages.${i}.norm2`, stage.norm2);
  });
  tensors[`${prefix}.position_embedding`] = { shape: [weights.positionEmbedding.length / config.hiddenSize, config.hiddenSize], data: weights.positionEmbedding };
  if (weights.written) {
    const { head, table } = weights.written;
    tensors[`${prefix}.written_head.weight`] = { shape: [head.weight.rows, head.weight.cols], data: head.weight.data as Float32Array };
    tensors[`${prefix}.written_head.bias`] = { shape: [head.weight.rows], data: head.bias! };
    tensors[`${prefix}.written_table`] = { shape: [head.weight.rows, head.weight.cols], data: table };
  }
  return tensors;
}

/** Draws random values (randomLlava's initializer). */
export interface RandomVectors {
  /** Normal(mean, std) values; std defaults to the initializer's own. */
  vector(length: number, mean?: number, std?: number): Float32Array;
}

/**
 * Random weights: convolutions He/Kaiming normal, fan-in mode (std √(2 / (in·k·k)), the
 * gain for ReLU-like activations such as GELU), so activations keep their scale through a
 * stack before any norm; norms weight 1 ± 0.1 and bias at the initializer's std (as the other
 * random towers, so tests see non-trivial norms); position embedding at the initializer's std.
 */
export function randomConvVisionWeights(config: ConvVisionConfig, init: RandomVectors): ConvVisionWeights {
  const k = config.kernelSize;
  const conv = (inChannels: number, out: number): Linear => ({
    weight: { dtype: 'f32', rows: out, cols: k * k * inChannels, data: init.vector(out * k * k * inChannels, 0, Math.sqrt(2 / (inChannels * k * k))) },
    bias: null,
  });
  const norm = (channels: number): ConvNormWeights => ({ weight: init.vector(channels, 1, 0.1), bias: init.vector(channels) });
  const pairs = convChannels(config);
  return {
    stem: conv(pairs[0][0], pairs[0][1]),
    stemNorm: norm(config.stemChannels),
    stages: config.stages.map((stage, i) => ({
      conv1: conv(pairs[1 + 2 * i][0], stage.channels), norm1: norm(stage.channels),
      conv2: conv(stage.channels, stage.channels), norm2: norm(stage.channels),
    })),
    positionEmbedding: init.vector(tokenCount(config) * config.hiddenSize),
    written: config.writtenTokens ? randomWrittenWeights(config.writtenTokens, config.hiddenSize, init) : null,
  };
}

/** Heads at the initializer's std (bias 0), the table at unit scale: random words until fitted. */
export function randomWrittenWeights(config: WrittenTokensConfig, width: number, init: RandomVectors): WrittenTokensWeights {
  const rows = writtenHeadRows(config);
  return {
    head: { weight: { dtype: 'f32', rows, cols: width, data: init.vector(rows * width) }, bias: new Float32Array(rows) },
    table: init.vector(rows * width, 0, 1),
  };
}
