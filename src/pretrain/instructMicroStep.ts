/**
 * One micro-batch of stage 2: corpus samples packed into one sequence, their pictures through
 * the frozen tower and the projector, the decoder's loss, and gradients added into the
 * projector's and decoder's buffers. The same code runs in the training process and in each
 * worker process of a parallel sitting (stage2Workers.ts), so both compute the same sums.
 */
import type { Parameter } from '../engine/adamw.ts';
import type { ConvVisionTower } from '../models/convVisionTower.ts';
import type { LlavaModel, LlavaWeightGrads } from '../models/llava.ts';
import type { ProjectorGrads } from '../models/projector.ts';
import type { Tokenizer } from '../models/Tokenizer.ts';
import { IMAGE_SIZE, instructionSample, renderScene, type CorpusOptions, type CorpusSample, type SceneSpec } from '../world/index.ts';
import { encodeTurns, LETTER_DECISION, packSamples, sharedPromptPrefix, type EncodedSample } from './encodeSample.ts';
import { decoderParameters, newDecoderGrads, newProjectorGrads, projectorParameters } from './trainingState.ts';
import { scenePixelValues } from './worldModelConfig.ts';

export interface EncodedCorpusSample {
  readonly sample: CorpusSample;
  readonly encoded: EncodedSample;
}

/** Decision tokens (first answer token of a turn): cross-entropy and argmax accuracy, for the log. */
export interface DecisionTally {
  loss: number;
  right: number;
  count: number;
  /** Two-option questions alone: the form mcq and text QA are scored in. */
  letterRight: number;
  letterCount: number;
}

export function emptyTally(): DecisionTally {
  return { loss: 0, right: 0, count: 0, letterRight: 0, letterCount: 0 };
}

export function addTally(into: DecisionTally, from: DecisionTally): void {
  into.loss += from.loss;
  into.right += from.right;
  into.count += from.count;
  into.letterRight += from.letterRight;
  into.letterCount += from.letterCount;
}

/** Most tokens in one packed forward by default: attention costs T² per sequence. */
export const DEFAULT_MICRO_TOKENS = 512;

/**
 * Whole samples into micro-batches of at most a token budget, in stream order: a sample that
 * does not fit is carried into the next micro-batch, and a micro-batch always takes at least one
 * sample (one longer than the budget goes alone).
 */
export class MicroBatchPacker<T extends { readonly encoded: { readonly ids: ArrayLike<number> } }> {
  /** The sample drawn but not yet packed (it opens the next micro-batch). */
  carried: T | null = null;

  take(budgetTokens: number, next: () => T): { batch: T[]; tokens: number } {
    const batch: T[] = [];
    let tokens = 0;
    for (;;) {
      const item = this.carried ?? next();
      this.carried = null;
      if (batch.length > 0 && tokens + item.encoded.ids.length > budgetTokens) {
        this.carried = item;
        return { batch, tokens };
      }
      batch.push(item);
      tokens += item.encoded.ids.length;
    }
  }
}

export class InstructMicroStep {
  readonly projectorGrads: ProjectorGrads;
  readonly decoderGrads: LlavaWeightGrads;
  /** Projector then decoder parameters, in the order checkpoints and workers exchange them. */
  readonly params: Parameter[];
  tally: DecisionTally = emptyTally();

  /** `<s>` and the system prompt, run once per micro-batch instead of once per sample. */
  readonly sharedPrefix: readonly number[];

  /** The tower's output rows for a batch of pictures, [n × imageTokens × tower width]; default: the frozen tower on the rendered pictures. */
  private readonly towerFeatures: (scenes: readonly SceneSpec[]) => Float32Array;
  /** When given, the decoder's image rows themselves, [n × imageTokens × width] (no tower, no projector: bench/boundTokensOracle.ts). */
  private readonly imageRows: ((scenes: readonly SceneSpec[]) => Float32Array) | null;

  constructor(
    readonly model: LlavaModel,
    readonly tokenizer: Tokenizer,
    readonly promptLoss = 0,
    options: {
      sharePrefix?: boolean;
      towerFeatures?: (scenes: readonly SceneSpec[]) => Float32Array;
      imageRows?: (scenes: readonly SceneSpec[]) => Float32Array;
    } = {},
  ) {
    this.imageRows = options.imageRows ?? null;
    this.sharedPrefix = options.sharePrefix === false ? [] : sharedPromptPrefix(tokenizer);
    this.towerFeatures = options.towerFeatures ?? ((scenes) => renderedTowerFeatures(model, scenes));
    this.projectorGrads = newProjectorGrads(model.projector);
    this.decoderGrads = newDecoderGrads(model.decoder);
    this.params = [...projectorParameters(model.projector, this.projectorGrads), ...decoderParameters(model.decoder, this.decoderGrads)];
  }

  encode(sample: CorpusSample): EncodedCorpusSample {
    const model = this.model;
    return { sample, encoded: encodeTurns(this.tokenizer, sample.turns, sample.image !== undefined, model.config.imageTokenId, model.imageTokenCount, { promptLoss: this.promptLoss }) };
  }

  /** Sample `index` of the corpus stream, encoded. */
  sample(corpus: Omit<CorpusOptions, 'count'>, index: number): EncodedCorpusSample {
    return this.encode(instructionSample(corpus, index));
  }

  /** Forward and backward of one packed micro-batch; gradients are added. Returns the loss. */
  run(batch: ReadonlyArray<EncodedCorpusSample>): number {
    const model = this.model;
    const imageTokens = model.imageTokenCount;
    const Cv = (model.visionTower as ConvVisionTower).config.hiddenSize;
    const C = model.hiddenSize;
    // Pictures through the frozen tower (one batch), then the projector with a tape.
    const pictured = batch.filter((b) => b.sample.image !== undefined);
    const n = pictured.length;
    const images: Float32Array[] = [];
    let projectorTape = null;
    if (n > 0 && this.imageRows) {
      const rows = this.imageRows(pictured.map((b) => b.sample.image!));
      if (rows.length !== n * imageTokens * C) throw new Error('unexpected image rows size');
      for (let i = 0; i < n; i++) images.push(rows.subarray(i * imageTokens * C, (i + 1) * imageTokens * C));
    } else if (n > 0) {
      const features = this.towerFeatures(pictured.map((b) => b.sample.image!));
      if (features.length !== n * imageTokens * Cv) throw new Error('unexpected tower output size');
      const projected = model.projector.forward(features, n * imageTokens, true);
      projectorTape = projected.tape!;
      for (let i = 0; i < n; i++) images.push(projected.output.subarray(i * imageTokens * C, (i + 1) * imageTokens * C));
    }
    const packed = packSamples(batch.map((b) => b.encoded), this.sharedPrefix);
    const result = model.lossAndGradients(
      { ids: packed.ids, labels: packed.labels, labelWeights: packed.weights, segments: packed.segments, images, sharedPrefix: this.sharedPrefix },
      { weightGrads: this.decoderGrads, imageGrads: n > 0, keepLogits: true },
    );
    const V = model.vocabSize;
    const tally = this.tally;
    let row = 0;
    for (let u = 1; u < packed.ids.length; u++) {
      if (packed.labels[u] === -100) continue;
      if (packed.decisions[u] && result.logits) {
        const z = result.logits.subarray(row * V, (row + 1) * V);
        let max = -Infinity;
        let best = 0;
        for (let j = 0; j < V; j++) if (z[j] > max) { max = z[j]; best = j; }
        let sum = 0;
        for (let j = 0; j < V; j++) sum += Math.exp(z[j] - max);
        tally.loss += max + Math.log(sum) - z[packed.labels[u]];
        tally.right += best === packed.labels[u] ? 1 : 0;
        tally.count++;
        if (packed.decisions[u] === LETTER_DECISION) {
          tally.letterRight += best === packed.labels[u] ? 1 : 0;
          tally.letterCount++;
        }
      }
      row++;
    }
    if (projectorTape && result.imageGrads) {
      const dProjected = new Float32Array(n * imageTokens * C);
      result.imageGrads.forEach((g, i) => dProjected.set(g, i * imageTokens * C));
      model.projector.backward(projectorTape, dProjected, this.projectorGrads);
    }
    return result.loss;
  }

  zeroGrads(): void {
    for (const p of this.params) p.grad.fill(0);
  }
}

/** The frozen conv tower's last hidden state for rendered pictures, as one batch. */
export function renderedTowerFeatures(model: LlavaModel, scenes: readonly SceneSpec[]): Float32Array {
  const n = scenes.length;
  const pixels = new Float32Array(n * 3 * IMAGE_SIZE * IMAGE_SIZE);
  scenes.forEach((scene, i) => scenePixelValues(renderScene(scene).pixels, pixels, i * 3 * IMAGE_SIZE * IMAGE_SIZE));
  const { hiddenStates } = (model.visionTower as ConvVisionTower).forwardBatch(pixels, n);
  return hiddenStates[hiddenStates.length - 1];
}
