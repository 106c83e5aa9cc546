/**
 * LLaVA: vision tower → projector → decoder. This class only wires the three together:
 * image features, the merge of features into the token sequence, logits (only where they are
 * needed), generation with a KV cache, and the loss and gradients of "extra" token rows —
 * input-embedding rows for token ids ≥ vocabSize and extra lm_head rows — that a concept
 * learns while every weight stays frozen.
 */
import type { Kernels } from '../engine/kernels.ts';
import type { LlavaConfig } from './config.ts';
import { Decoder, type DecoderLayerGrads, type DecoderTape } from './decoder.ts';
import { KVCache } from './kvCache.ts';
import { elementwiseOf } from '../engine/jsKernels.ts';
import { Projector } from './projector.ts';
import { argmax, sampleToken, seededRandom, type SamplingOptions } from './sampling.ts';
import type { VisionEncoder } from './visionEncoder.ts';

/**
 * Token rows beyond the base vocabulary V. Token id V + i is embedded as `inputRows[i]`;
 * logits get one extra column per `outputRows` row, predicting token `outputIds[j]`.
 */
export interface ExtraTokens {
  readonly inputRows: Float32Array; // [n, C]
  readonly outputRows: Float32Array; // [m, C]
  readonly outputIds: readonly number[]; // [m]
}

export const NO_EXTRA_TOKENS: ExtraTokens = { inputRows: new Float32Array(0), outputRows: new Float32Array(0), outputIds: [] };

export interface SequenceInput {
  /** Token ids; image tokens appear expanded (one per feature row). */
  readonly ids: ArrayLike<number>;
  /** Projected features [rows, C] of each image, in order of appearance. */
  readonly images?: readonly Float32Array[];
  readonly extra?: ExtraTokens;
}

export interface LossInput extends SequenceInput {
  /** Aligned with ids (HF convention): labels[t] is predicted from position t − 1; −100 = ignored. */
  readonly labels: ArrayLike<number>;
  /** A prefix already run (system prompt, image…): ids continue after it. Left as it was. */
  readonly cache?: KVCache;
  /**
   * Several training sequences packed into `ids`: the index of each one's first token (the
   * first is 0). Each sees only itself (attention and positions restart); no cache then.
   */
  readonly segments?: readonly number[];
  /**
   * With `segments`: token ids (text only, e.g. BOS and the system prompt) that every packed
   * sequence begins with, left out of `ids` and run once — each sequence sees them and its
   * positions continue after them, and its gradients flow back through them. The same sums
   * as packing every sequence with its own copy, for fewer tokens.
   */
  readonly sharedPrefix?: readonly number[];
  /** Weight of each label (aligned with labels; default 1): loss = Σ w·CE / Σ w. */
  readonly labelWeights?: ArrayLike<number>;
}

/**
 * Float32 gradients of the frozen-by-default weights, for pretraining. Null members are not
 * formed. With tied embeddings, pass the same array as `embedTokens` and `lmHead`.
 */
export interface LlavaWeightGrads {
  layers: DecoderLayerGrads[] | null;
  embedTokens: Float32Array | null; // [V, C]
  norm: Float32Array | null; // [C]
  lmHead: Float32Array | null; // [V, C]
}

export interface LossOptions {
  readonly keepLogits?: boolean;
  /** Adds weight gradients into these arrays. */
  readonly weightGrads?: LlavaWeightGrads;
  /** Also return d loss / d image features, per image (to continue into the projector). */
  readonly imageGrads?: boolean;
}

export interface LossResult {
  readonly loss: number;
  /** Positions whose label counted. */
  readonly count: number;
  /** d loss / d extra.inputRows [n, C] */
  readonly inputRowGrads: Float32Array;
  /** d loss / d extra.outputRows [m, C] */
  readonly outputRowGrads: Float32Array;
  /** Logits [count, V + m] at the positions that predict a label, when asked. */
  readonly logits: Float32Array | null;
  /** d loss / d image features [rows, C] per image, when asked. */
  readonly imageGrads: Float32Array[] | null;
}

export interface GenerateOptions extends SamplingOptions {
  readonly maxNewTokens?: number;
  readonly seed?: number;
  /** Generation stops after emitting one of these (it is included in the output). */
  readonly stopTokenIds?: readonly number[];
  /** Checked after each token with every generated id so far: true stops (e.g. a stop string). */
  readonly shouldStop?: (generated: readonly number[]) => boolean;
  readonly onToken?: (id: number) => void;
  readonly signal?: AbortSignal;
  /** Keep each step's logits row (for tests and verification). */
  readonly keepLogits?: boolean;
  /** A prefix already run; the prompt ids continue after it. It is extended, not copied. */
  readonly cache?: KVCache;
}

/** What generateJointly takes: greedy only, no cache given (each input gets its own). */
export type JointGenerateOptions = Pick<GenerateOptions, 'maxNewTokens' | 'stopTokenIds' | 'shouldStop' | 'onToken' | 'signal'>;

export interface GenerateResult {
  readonly ids: number[];
  readonly logits: Float32Array[];
  readonly stoppedBy: 'stop-token' | 'stop-condition' | 'max-tokens' | 'aborted';
}

export class LlavaModel {
  constructor(
    readonly config: LlavaConfig,
    readonly visionTower: VisionEncoder,
    readonly projector: Projector,
    readonly decoder: Decoder,
    readonly kernels: () => Kernels,
  ) {}

  /** Vocabulary-wide buffers of lossAndGradients (12 MB each for 20 loss rows), reused across steps. */
  private readonly lossBuffers = new Map<string, Float32Array>();

  private lossBuffer(name: string, length: number): Float32Array {
    let buffer = this.lossBuffers.get(name);
    if (!buffer || buffer.length !== length) this.lossBuffers.set(name, (buffer = new Float32Array(length)));
    return buffer;
  }

  get hiddenSize(): number { return this.config.text.hiddenSize; }
  get vocabSize(): number { return this.config.text.vocabSize; }

  /** Vision hidden-state index LLaVA reads its features from. */
  get featureLayerIndex(): number {
    const layer = this.config.visionFeatureLayer;
    return layer < 0 ? this.config.vision.numLayers + 1 + layer : layer;
  }

  /** Feature rows one image becomes (= image tokens per image). */
  get imageTokenCount(): number {
    // 'default' drops the first token (CLIP's class token), as HF does for any tower.
    return this.visionTower.numTokens - (this.config.visionFeatureSelect === 'default' ? 1 : 0);
  }

  /** The selected vision hidden state, without CLS for 'default' [rows, Cv]. */
  selectImageFeatures(hiddenStates: readonly Float32Array[]): Float32Array {
    const state = hiddenStates[this.featureLayerIndex];
    if (this.config.visionFeatureSelect === 'full') return state;
    return state.subarray(this.config.vision.hiddenSize); // drop the first (class) token
  }

  /** pixel values [channels, S, S] → projected image features [imageTokenCount, C]. */
  encodeImage(pixelValues: Float32Array): Float32Array {
    const { hiddenStates } = this.visionTower.forward(pixelValues, { layers: this.featureLayerIndex });
    const selected = this.selectImageFeatures(hiddenStates);
    return this.projector.forward(selected, this.imageTokenCount).output;
  }

  /** Input embeddings [T, C]: token rows, image features at image tokens, extra rows for ids ≥ V. */
  embed(input: SequenceInput): Float32Array {
    const { ids } = input;
    const C = this.hiddenSize;
    const V = this.vocabSize;
    const T = ids.length;
    const out = new Float32Array(T * C);
    const images = input.images ?? [];
    const extra = input.extra ?? NO_EXTRA_TOKENS;
    const extraCount = extra.inputRows.length / C;
    const imageTokenId = this.config.imageTokenId;
    let imageTokens = 0;
    for (let t = 0; t < T; t++) if (ids[t] === imageTokenId) imageTokens++;
    const featureRows = images.reduce((sum, features) => sum + features.length / C, 0);
    if (imageTokens !== featureRows) {
      throw new Error(`the prompt has ${imageTokens} image tokens but ${images.length} image(s) give ${featureRows} feature rows (each image needs ${this.imageTokenCount} image tokens)`);
    }
    const kernels = this.kernels();
    const table = this.decoder.weights.embedTokens;
    let image = 0;
    let imageRow = 0;
    for (let t = 0; t < T; t++) {
      const id = ids[t];
      const row = out.subarray(t * C, (t + 1) * C);
      if (id === imageTokenId) {
        row.set(images[image].subarray(imageRow * C, (imageRow + 1) * C));
        if (++imageRow * C === images[image].length) { image++; imageRow = 0; }
      } else if (id >= 0 && id < V) {
        kernels.toFloat32(table.data.subarray(id * C, (id + 1) * C), table.dtype, row);
      } else if (id >= V && id < V + extraCount) {
        row.set(extra.inputRows.subarray((id - V) * C, (id - V + 1) * C));
      } else {
        throw new RangeError(`token id ${id} at position ${t} is outside the vocabulary (${V} base tokens + ${extraCount} extra)`);
      }
    }
    return out;
  }

  /**
   * Logits [rows, V + m] for rows of the decoder output (pre-norm) `hidden` [*, C]:
   * final norm, then the lm_head and the extra output rows.
   */
  logitsAt(hidden: Float32Array, rows: readonly number[], extra: ExtraTokens = NO_EXTRA_TOKENS): Float32Array {
    const C = this.hiddenSize;
    const selected = new Float32Array(rows.length * C);
    rows.forEach((row, i) => selected.set(hidden.subarray(row * C, (row + 1) * C), i * C));
    const normed = new Float32Array(rows.length * C);
    elementwiseOf(this.kernels()).rmsNormForward(normed, null, selected, this.decoder.weights.norm, rows.length, C, this.config.text.rmsNormEps);
    return this.headLogits(normed, rows.length, extra);
  }

  private headLogits(normed: Float32Array, R: number, extra: ExtraTokens, out?: Float32Array): Float32Array {
    const kernels = this.kernels();
    const V = this.vocabSize;
    const m = extra.outputIds.length;
    const width = V + m;
    const logits = out ?? new Float32Array(R * width);
    kernels.linear(normed, R, this.decoder.weights.lmHead, logits, false, this.hiddenSize, width);
    if (m > 0) kernels.gemm(false, true, R, m, this.hiddenSize, 1, normed, this.hiddenSize, extra.outputRows, this.hiddenSize, 0, logits.subarray(V), width);
    return logits;
  }

  /** Runs a sequence through the decoder, appending to `cache`; returns the pre-norm output [T, C]. */
  forward(input: SequenceInput, cache: KVCache, onLayerOutput?: (layer: number, x: Float32Array) => void): Float32Array {
    const embeds = this.embed(input);
    return this.decoder.forward(embeds, input.ids.length, cache, { onLayerOutput }).hidden;
  }

  /** Runs a prefix (e.g. system prompt + image) once, for reuse by many steps. */
  prefill(input: SequenceInput, capacityExtra = 128): KVCache {
    const cache = this.decoder.newCache(input.ids.length + capacityExtra);
    this.forward(input, cache);
    return cache;
  }

  /** Column of the logits that predicts token `id`. */
  private columnOf(id: number, extra: ExtraTokens): number {
    if (id >= 0 && id < this.vocabSize) {
      const j = extra.outputIds.indexOf(id);
      return j >= 0 ? this.vocabSize + j : id;
    }
    const j = extra.outputIds.indexOf(id);
    if (j < 0) throw new RangeError(`label ${id} is not a base token and has no extra output row`);
    return this.vocabSize + j;
  }

  private tokenOfColumn(column: number, extra: ExtraTokens): number {
    return column < this.vocabSize ? column : extra.outputIds[column - this.vocabSize];
  }

  /**
   * Mean cross-entropy of the labels and its gradients with respect to the extra input and
   * output rows, all weights frozen. Only positions that predict a label get logits. With a
   * `cache`, only the new ids run forward and backward: the prefix does not depend on the
   * extra rows (causal attention), so the gradients equal a full recompute.
   */
  lossAndGradients(input: LossInput, options: LossOptions = {}): LossResult {
    const { ids, labels } = input;
    const T = ids.length;
    const C = this.hiddenSize;
    const V = this.vocabSize;
    const extra = input.extra ?? NO_EXTRA_TOKENS;
    const m = extra.outputIds.length;
    const width = V + m;
    if (labels.length !== T) throw new RangeError(`labels (${labels.length}) and ids (${T}) differ in length`);
    const prefixIds = input.sharedPrefix ?? [];
    if (prefixIds.length > 0 && (input.cache || !input.segments)) throw new Error('a shared prefix goes with packed sequences (segments) and no cache');
    const cache = input.cache ?? this.decoder.newCache(prefixIds.length + T);
    const past = cache.length;
    if (past > 0 && labels[0] !== -100) throw new Error('with a cached prefix, the first label must be −100 (it would be predicted from the prefix)');
    for (const start of input.segments ?? []) {
      if (labels[start] !== -100) throw new Error(`packed sequence starting at token ${start} has a label on its first token (it would be predicted from the previous sequence)`);
    }
    const rows: number[] = [];
    const targets: number[] = [];
    const weights: number[] = [];
    let weightSum = 0;
    for (let t = 0; t + 1 < T; t++) {
      if (labels[t + 1] === -100) continue;
      const weight = input.labelWeights ? input.labelWeights[t + 1] : 1;
      if (!(weight >= 0)) throw new RangeError(`label weight ${weight} at token ${t + 1} is not a non-negative number`);
      rows.push(t);
      targets.push(this.columnOf(labels[t + 1], extra));
      weights.push(weight);
      weightSum += weight;
    }
    const R = rows.length;
    const kernels = this.kernels();
    let prefixTape: DecoderTape | null = null;
    let tape: DecoderTape | null = null;
    try {
      if (prefixIds.length > 0) {
        for (const id of prefixIds) if (id >= this.vocabSize || id === this.config.imageTokenId) throw new Error(`shared prefix token ${id} is not a text token`);
        prefixTape = this.decoder.forward(this.embed({ ids: prefixIds }), prefixIds.length, cache, { tape: true }).tape!;
      }
      const embeds = this.embed(input);
      const forward = this.decoder.forward(embeds, T, cache, { tape: true, segmentStarts: input.segments });
      tape = forward.tape!;
      const hidden = forward.hidden;
      // Final norm and head on the loss rows only.
      const selected = new Float32Array(R * C);
      rows.forEach((row, i) => selected.set(hidden.subarray(row * C, (row + 1) * C), i * C));
      const rstd = new Float32Array(R);
      const normed = new Float32Array(R * C);
      elementwiseOf(kernels).rmsNormForward(normed, rstd, selected, this.decoder.weights.norm, R, C, this.config.text.rmsNormEps);
      // logits the caller keeps are its own; otherwise they live in a reused buffer
      const logits = this.headLogits(normed, R, extra, options.keepLogits ? undefined : this.lossBuffer('logits', R * width));
      // Cross-entropy: softmax rows by the kernels (on a copy: the logits may be kept), then the
      // weighted mean's gradient d loss / d logits = w·(softmax − onehot) / Σw.
      const ew = elementwiseOf(kernels);
      const probs = this.lossBuffer('probs', R * width);
      probs.set(logits);
      ew.softmaxRows(probs, R, width, new Int32Array(R), new Int32Array(R).fill(width));
      const dBase = this.lossBuffer('dBase', R * V); // every element is written below
      const dExtra = new Float32Array(R * m);
      let loss = 0;
      for (let i = 0; i < R; i++) {
        const row = probs.subarray(i * width, (i + 1) * width);
        const target = targets[i];
        const share = weightSum > 0 ? weights[i] / weightSum : 0;
        loss += share * targetLoss(row, logits.subarray(i * width, (i + 1) * width), target);
        const baseRow = dBase.subarray(i * V, (i + 1) * V);
        for (let j = 0; j < V; j++) baseRow[j] = row[j] * share;
        for (let j = 0; j < m; j++) dExtra[i * m + j] = row[V + j] * share;
        if (target < V) baseRow[target] -= share;
        else dExtra[i * m + target - V] -= share;
      }
      // Back through the head and the extra output rows.
      const dNormed = new Float32Array(R * C);
      const outputRowGrads = new Float32Array(m * C);
      const weightGrads = options.weightGrads;
      if (R > 0) {
        kernels.linearBackwardInput(dBase, R, this.decoder.weights.lmHead, dNormed, false);
        if (weightGrads?.lmHead) kernels.gemm(true, false, V, C, R, 1, dBase, V, normed, C, 1, weightGrads.lmHead, C);
        if (m > 0) {
          kernels.gemm(false, false, R, C, m, 1, dExtra, m, extra.outputRows, C, 1, dNormed, C);
          kernels.gemm(true, false, m, C, R, 1, dExtra, m, normed, C, 0, outputRowGrads, C);
        }
      }
      const dSelected = new Float32Array(R * C);
      elementwiseOf(kernels).rmsNormBackward(dSelected, weightGrads?.norm ?? null, dNormed, selected, rstd, this.decoder.weights.norm, R, C);
      const dHidden = new Float32Array(T * C);
      rows.forEach((row, i) => {
        for (let c = 0; c < C; c++) dHidden[row * C + c] += dSelected[i * C + c];
      });
      const { numKvHeads, headDim } = this.config.text;
      // Only weights change what the shared prefix computes: without weight gradients it is a constant.
      const prefixKeyValueGrads = prefixTape && weightGrads ? {
        keys: this.decoder.weights.layers.map(() => new Float32Array(numKvHeads * prefixIds.length * headDim)),
        values: this.decoder.weights.layers.map(() => new Float32Array(numKvHeads * prefixIds.length * headDim)),
      } : undefined;
      const dEmbeds = this.decoder.backward(tape, dHidden, weightGrads?.layers ?? null, { pastKeyValueGrads: prefixKeyValueGrads });
      if (prefixTape && weightGrads) {
        // The prefix's outputs carry no loss; its keys and values do, for every sequence.
        const dPrefix = this.decoder.backward(prefixTape, new Float32Array(prefixIds.length * C), weightGrads.layers, { keyValueGrads: prefixKeyValueGrads });
        if (weightGrads.embedTokens) {
          prefixIds.forEach((id, t) => {
            for (let c = 0; c < C; c++) weightGrads.embedTokens![id * C + c] += dPrefix[t * C + c];
          });
        }
      }
      const inputRowGrads = new Float32Array(extra.inputRows.length);
      const embedGrads = weightGrads?.embedTokens ?? null;
      const imageGrads = options.imageGrads ? (input.images ?? []).map((features) => new Float32Array(features.length)) : null;
      let image = 0;
      let imageRow = 0;
      for (let t = 0; t < T; t++) {
        const id = ids[t];
        const row = dEmbeds.subarray(t * C, (t + 1) * C);
        if (id === this.config.imageTokenId) {
          if (imageGrads) imageGrads[image].set(row, imageRow * C);
          if (++imageRow * C === input.images![image].length) { image++; imageRow = 0; }
        } else if (id >= V) {
          const base = (id - V) * C;
          for (let c = 0; c < C; c++) inputRowGrads[base + c] += row[c];
        } else if (embedGrads) {
          const base = id * C;
          for (let c = 0; c < C; c++) embedGrads[base + c] += row[c];
        }
      }
      return { loss, count: R, inputRowGrads, outputRowGrads, logits: options.keepLogits ? logits : null, imageGrads };
    } finally {
      if (tape) this.decoder.releaseTape(tape);
      if (prefixTape) this.decoder.releaseTape(prefixTape);
      cache.truncate(past);
    }
  }

  /**
   * Generates tokens after `input` (prompt ids with expanded image tokens). Yields control to
   * the event loop between tokens so that a signal can abort and output can stream.
   */
  async generate(input: SequenceInput, options: GenerateOptions = {}): Promise<GenerateResult> {
    const extra = input.extra ?? NO_EXTRA_TOKENS;
    const random = seededRandom(options.seed ?? 0);
    const cache = options.cache ?? this.decoder.newCache(input.ids.length + Math.min(options.maxNewTokens ?? 256, 4096) + 1);
    const keptLogits: Float32Array[] = [];
    let hidden = this.forward(input, cache);
    let lastRow = input.ids.length - 1;
    const { ids, stoppedBy } = await this.decode(extra, options, {
      scores: () => {
        const logits = this.logitsAt(hidden, [lastRow], extra);
        if (options.keepLogits) keptLogits.push(logits.slice());
        return logits;
      },
      choose: (logits) => sampleToken(logits, options, random),
      advance: (id) => { hidden = this.forward({ ids: [id], extra }, cache); lastRow = 0; },
    });
    return { ids, logits: keptLogits, stoppedBy };
  }

  /**
   * Greedy decoding of ONE continuation shared by several inputs (e.g. the same question about
   * several photos): each step takes the token whose log-probabilities, summed over the inputs,
   * are highest — the product of their distributions — and appends it to every input. A token
   * most inputs find likely wins over one that a single input is sure of, so one misread photo
   * does not decide a word. Each input keeps its own KV cache (memory grows with their number).
   */
  async generateJointly(inputs: readonly SequenceInput[], options: JointGenerateOptions = {}): Promise<GenerateResult> {
    if (inputs.length === 0) throw new RangeError('generateJointly needs at least one input');
    const extras = inputs.map((input) => input.extra ?? NO_EXTRA_TOKENS);
    if (extras.some((extra) => extra.outputIds.join() !== extras[0]!.outputIds.join())) throw new RangeError('generateJointly: every input needs the same extra output tokens');
    const caches = inputs.map((input) => this.decoder.newCache(input.ids.length + Math.min(options.maxNewTokens ?? 256, 4096) + 1));
    let hiddens = inputs.map((input, i) => this.forward(input, caches[i]!));
    let lastRows = inputs.map((input) => input.ids.length - 1);
    const { ids, stoppedBy } = await this.decode(extras[0]!, options, {
      scores: () => {
        let summed: Float64Array | null = null;
        for (const [i, extra] of extras.entries()) {
          const logits = this.logitsAt(hiddens[i]!, [lastRows[i]!], extra);
          summed ??= new Float64Array(logits.length);
          addLogSoftmax(summed, logits);
        }
        return summed!;
      },
      choose: argmax,
      advance: (id) => {
        hiddens = inputs.map((input, i) => this.forward({ ids: [id], extra: input.extra }, caches[i]!));
        lastRows = inputs.map(() => 0);
      },
    });
    return { ids, logits: [], stoppedBy };
  }

  /**
   * The token loop both generators share: score the next token, never the image placeholder (an
   * input-only token), choose, report, stop on a stop token / condition / the length limit /
   * an abort, yield to the event loop, run the chosen token forward.
   */
  private async decode<Row extends Float32Array | Float64Array>(
    extra: ExtraTokens, options: JointGenerateOptions,
    step: { scores: () => Row; choose: (row: Row) => number; advance: (id: number) => void },
  ): Promise<{ ids: number[]; stoppedBy: GenerateResult['stoppedBy'] }> {
    const maxNewTokens = options.maxNewTokens ?? 256;
    const stopTokens = new Set(options.stopTokenIds ?? []);
    const generated: number[] = [];
    for (let n = 0; n < maxNewTokens; n++) {
      if (options.signal?.aborted) return { ids: generated, stoppedBy: 'aborted' };
      const row = step.scores();
      const imageToken = this.config.imageTokenId;
      if (imageToken < this.vocabSize) row[imageToken] = -Infinity;
      const id = this.tokenOfColumn(step.choose(row), extra);
      generated.push(id);
      options.onToken?.(id);
      if (stopTokens.has(id)) return { ids: generated, stoppedBy: 'stop-token' };
      if (options.shouldStop?.(generated)) return { ids: generated, stoppedBy: 'stop-condition' };
      if (n + 1 === maxNewTokens) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
      step.advance(id);
    }
    return { ids: generated, stoppedBy: 'max-tokens' };
  }
}

/** total += log softmax(logits), in float64. */
function addLogSoftmax(total: Float64Array, logits: Float32Array): void {
  let max = -Infinity;
  for (let j = 0; j < logits.length; j++) if (logits[j] > max) max = logits[j];
  let sum = 0;
  for (let j = 0; j < logits.length; j++) sum += Math.exp(logits[j] - max);
  const logSum = max + Math.log(sum);
  for (let j = 0; j < logits.length; j++) total[j] += logits[j] - logSum;
}

/**
 * −log softmax(logits)[target]: from the float32 probability when it is not tiny, else exactly
 * from the logits (a probability below ~1e-38 underflows in float32).
 */
function targetLoss(probs: Float32Array, logits: Float32Array, target: number): number {
  const p = probs[target];
  if (p > 1e-30) return -Math.log(p);
  let max = -Infinity;
  for (let j = 0; j < logits.length; j++) if (logits[j] > max) max = logits[j];
  let sum = 0;
  for (let j = 0; j < logits.length; j++) sum += Math.exp(logits[j] - max);
  return max + Math.log(sum) - logits[target];
}

export { argmax };
