/**
 * Learns a concept (Yo'LLaVA): the k+1 input rows of `<name>`, `<name_0>`…`<name_{k−1}>` and
 * the lm_head row of `<name>`, by backpropagating through the frozen model. AdamW (lr 1e-3,
 * weight decay 0.01), batch 1, shuffled, random horizontal flips, up to 5 epochs (the paper: 15,
 * PAPER_EPOCHS; rows that start from a description overfit the photos in longer runs); after each
 * epoch the recognition accuracy on the training photos is measured and the best epoch's rows
 * are kept — the starting rows (epoch 0) included. Beyond the paper: the latent rows start from
 * the token embeddings of the data's `description` when it has one; negatives are weighted so
 * that they count as much as positives in all, hard negatives a quarter of that; half the photos
 * are seen through a shifted window; after training, the Yes/No boundary is set on negatives kept
 * out of training (see the options). The system prompt + photo prefix of every
 * sample is run once and cached: the gradients equal a full recompute. An AbortSignal ends
 * training with the best epoch so far; `checkpointFile` makes an interrupted run resumable.
 */
import { existsSync, rmSync } from 'node:fs';
import { AdamW } from '../engine/adamw.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../engine/safetensors.ts';
import type { CropWindow } from '../models/image/cropRegion.ts';
import type { KVCache } from '../models/kvCache.ts';
import { seededNormal } from '../models/randomLlava.ts';
import { seededRandom } from '../models/sampling.ts';
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import { Concept, ConceptError, type EpochMetrics, type OperatingPoint } from './Concept.ts';
import type { ConceptData, TrainingSample } from './conceptData.ts';
import { assertTrainablePromptFormat, encodeQuestion, encodeTrainingSample, yesNoTokenIds, type SplitPrompt } from './conceptPrompts.ts';
import { ConceptSet } from './ConceptSet.ts';
import { PrefixCache } from './PrefixCache.ts';
import { recognitionEvalPrompt } from './recognitionTemplates.ts';
import { VocabularyRows } from './vocabularyRows.ts';

export interface TrainConceptOptions {
  /** Latent tokens (default 16). */
  readonly latentCount?: number;
  /** At most this many epochs (default DEFAULT_EPOCHS, 5; the paper's recipe: PAPER_EPOCHS, 15). */
  readonly epochs?: number;
  readonly learningRate?: number; // 1e-3
  readonly weightDecay?: number; // 0.01
  /**
   * Pulls the input rows back towards where they started, each step (decoupled, like weight
   * decay: rows -= learningRate × anchorDecay × (rows − start)). Default 0 (off).
   */
  readonly anchorDecay?: number;
  /**
   * The latent rows stay where they start (a description start stays the words it was); only
   * <name>'s input row and its output row learn. Default false.
   */
  readonly freezeLatentRows?: boolean;
  readonly flipProbability?: number; // 0.5
  /**
   * Chance that a training photo is seen through a window of 80 % of its side, shifted (default
   * DEFAULT_CROP_PROBABILITY; the paper: 0, flips only).
   */
  readonly cropProbability?: number;
  readonly seed?: number; // 0
  /**
   * Loss weight of negative recognition samples relative to positives. Default: balanced
   * (positives ÷ negatives, at most 1), so that ~130 negatives against ~80 positive Q/A do not
   * teach the rows that the answer is mostly No; 1 is the paper's plain mean.
   */
  readonly negativeWeight?: number;
  /** Loss weight of hard negatives (default: negativeWeight × HARD_NEGATIVE_SHARE; the paper: 1). */
  readonly hardNegativeWeight?: number;
  /**
   * After training, move the concept's Yes/No boundary until it accepts at most this share of the
   * data's held-out negatives (default DEFAULT_FALSE_POSITIVE_RATE; null: keep the best epoch's
   * rows as they are, the paper's). Needs `data.heldOutNegatives`; without them nothing moves.
   */
  readonly targetFalsePositiveRate?: number | null;
  /**
   * Which way the boundary step moves the rows: 'photos' (default), the way that makes the
   * training photos more "Yes"; 'mean', the mean gradient of the Yes−No logit margin over every
   * training photo, negative and held-out image; 'uniform', the way that raises that margin by
   * the same amount on all of them (a ridge fit to their margin gradients), so that the step acts
   * like a lower threshold on P(Yes). On the shipped model 'photos' scored best (docs/results.md,
   * session 11); the others cost one backward pass per image.
   */
  readonly boundaryDirection?: 'photos' | 'uniform' | 'mean';
  /** The largest boundary step, as a fraction of the rows' norm (default MAX_SHIFT). */
  readonly maxBoundaryShift?: number;
  readonly onProgress?: (progress: TrainProgress) => void;
  /** Called after each epoch's check (epoch 0: the starting rows) with copies of that epoch's rows; for benches. */
  readonly onEpochRows?: (epoch: number, rows: { readonly input: Float32Array; readonly output: Float32Array }, metrics: EpochMetrics) => void;
  readonly signal?: AbortSignal;
  /** Written after every epoch (atomically); with `resume`, training continues from it. */
  readonly checkpointFile?: string;
  readonly resume?: boolean;
  /** Start from these rows instead of a fresh initialisation (continuing a concept with more data). */
  readonly initialConcept?: Concept;
  /** Memory for cached prefixes (default 1 GiB). */
  readonly prefixCacheBytes?: number;
  /**
   * Where the latent rows start (latentCount × hidden size values, e.g. photoStartRows: a
   * photo's image tokens), instead of the description's token embeddings or random rows.
   */
  readonly latentStart?: Float32Array;
  /**
   * 'free' (default): the latent rows are trained as they are. 'vocabulary': each latent row is
   * kept a softmax-weighted mix of the base model's token embeddings (VocabularyRows), the
   * weights trained instead, so that the rows stay words. Starts from the description's tokens;
   * excludes initialConcept, latentStart and checkpoints. Measured no better than 'free' on
   * recognition or questions (docs/results.md, session 12).
   */
  readonly latentRows?: 'free' | 'vocabulary';
  /** Learning rate of the vocabulary weights (latentRows 'vocabulary'; default 0.05). */
  readonly vocabularyLearningRate?: number;
  /**
   * The data's description also written as words in the concept's personalization text ("<bo> is
   * <bo_0>…<bo_15>. <bo> is {description}."; ConceptInfo.text), in training and after: the rows
   * learn what the words do not say. Default false.
   */
  readonly descriptionInPrompt?: boolean;
}

export interface TrainProgress {
  readonly phase: 'preparing' | 'training' | 'evaluating' | 'calibrating' | 'done';
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly steps: number;
  /** Mean loss of this epoch so far. */
  readonly loss: number;
  /** Weighted recognition accuracy of the last evaluated epoch. */
  readonly lastAccuracy: number | null;
  readonly bestAccuracy: number | null;
  readonly elapsedSeconds: number;
  readonly remainingSeconds: number | null;
}

export interface TrainConceptResult {
  readonly concept: Concept;
  readonly epochs: readonly EpochMetrics[];
  /** True when stopped by the signal before the last epoch. */
  readonly interrupted: boolean;
}

interface EncodedSample {
  readonly sample: TrainingSample;
  readonly prompt: SplitPrompt;
}

/** Fresh rows drawn around the base embeddings' per-dimension mean and spread, so that new tokens start in distribution. */
function initialRows(vlm: VisionLanguageModel, count: number, seed: number): { input: Float32Array; output: Float32Array } {
  const model = vlm.model;
  const C = model.hiddenSize;
  const V = model.vocabSize;
  const kernels = model.kernels();
  const stats = (table: typeof model.decoder.weights.embedTokens) => {
    const sampleRows = Math.min(V, 4096);
    const row = new Float32Array(C);
    const mean = new Float64Array(C);
    const square = new Float64Array(C);
    for (let s = 0; s < sampleRows; s++) {
      const r = Math.floor((s * V) / sampleRows);
      kernels.toFloat32(table.data.subarray(r * C, (r + 1) * C), table.dtype, row);
      for (let c = 0; c < C; c++) { mean[c] += row[c]; square[c] += row[c] * row[c]; }
    }
    const std = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      mean[c] /= sampleRows;
      std[c] = Math.sqrt(Math.max(square[c] / sampleRows - mean[c] * mean[c], 0));
    }
    return { mean, std };
  };
  const normal = seededNormal(seed);
  const embed = stats(model.decoder.weights.embedTokens);
  const input = new Float32Array(count * C);
  for (let i = 0; i < count; i++) for (let c = 0; c < C; c++) input[i * C + c] = embed.mean[c] + embed.std[c] * normal();
  const head = stats(model.decoder.weights.lmHead);
  const output = new Float32Array(C);
  for (let c = 0; c < C; c++) output[c] = head.mean[c];
  return { input, output };
}

/**
 * Puts the token embeddings of `description` into the latent rows (rows 1…k of `input`; row 0 is
 * `<name>`), one token per row, in order; rows past the description's tokens keep their values.
 * Returns how many rows were set.
 */
export function setDescriptionRows(vlm: VisionLanguageModel, input: Float32Array, latentCount: number, description: string): number {
  const model = vlm.model;
  const C = model.hiddenSize;
  const ids = vlm.tokenizer.encode(description, { addSpecialTokens: false }).slice(0, latentCount);
  const table = model.decoder.weights.embedTokens;
  const kernels = model.kernels();
  ids.forEach((id, i) => kernels.toFloat32(table.data.subarray(id * C, (id + 1) * C), table.dtype, input.subarray((i + 1) * C, (i + 2) * C)));
  return ids.length;
}

/**
 * Start rows for the latent tokens from a photo: its image tokens as the projector writes them
 * (the rows the decoder reads for a picture), averaged down to `latentCount` rows — square grid
 * blocks when both counts are squares that divide (LLaVA-1.5's 24 × 24 tokens → 4 × 4 blocks of
 * 6 × 6 for k = 16), else consecutive groups.
 */
export async function photoStartRows(vlm: VisionLanguageModel, photo: string, latentCount: number): Promise<Float32Array> {
  const C = vlm.model.hiddenSize;
  const features = await vlm.imageFeatures(photo);
  const tokens = features.length / C;
  if (latentCount < 1 || tokens < latentCount) throw new ConceptError(`${photo}: ${tokens} image tokens cannot start ${latentCount} latent rows`);
  const out = new Float32Array(latentCount * C);
  const counts = new Float32Array(latentCount);
  const side = Math.round(Math.sqrt(tokens));
  const grid = Math.round(Math.sqrt(latentCount));
  const square = side * side === tokens && grid * grid === latentCount && side % grid === 0;
  for (let t = 0; t < tokens; t++) {
    const row = square ? Math.floor(Math.floor(t / side) / (side / grid)) * grid + Math.floor((t % side) / (side / grid)) : Math.floor((t * latentCount) / tokens);
    counts[row]++;
    for (let c = 0; c < C; c++) out[row * C + c] += features[t * C + c];
  }
  for (let r = 0; r < latentCount; r++) for (let c = 0; c < C; c++) out[r * C + c] /= counts[r];
  return out;
}

/** One of 9 windows of 80 % of the side (few, so that their prefixes stay cached). */
function cropWindow(random: () => number): CropWindow {
  const offset = () => [0, 0.1, 0.2][Math.floor(random() * 3)]!;
  return { left: offset(), top: offset(), width: 0.8, height: 0.8 };
}

export const DEFAULT_EPOCHS = 5;
export const PAPER_EPOCHS = 15;

/**
 * Hard negatives' loss weight relative to the other negatives. They are look-alikes, some of which
 * the base model cannot tell from the subject: at full weight (the paper) concepts on the world
 * model answered "No" to many new photos of their own subject; at a quarter they rejected the
 * subject's own kind as often and said "Yes" to more of its photos (docs/results.md).
 */
export const HARD_NEGATIVE_SHARE = 0.25;

/**
 * Shifted windows teach the rows the subject off-centre and larger: the paper's flips alone left
 * new photos with the subject at the side or among others mostly unrecognized (docs/results.md).
 */
export const DEFAULT_CROP_PROBABILITY = 0.5;

/**
 * The share of held-out negatives a concept may accept. Trained on a few photos of the subject
 * alone and centred, concepts ranked new photos of it well but answered "No" to many (the
 * boundary hugged the training photos); a boundary set on negatives the concept never saw
 * trades a few false "Yes" for many true ones (docs/results.md).
 */
export const DEFAULT_FALSE_POSITIVE_RATE = 0.08;

/** Negatives' loss weight that gives positives and negatives the same total weight (never above 1). */
export function balancedNegativeWeight(data: ConceptData): number {
  const positives = data.samples.filter((s) => s.kind === 'positive').length;
  const negatives = data.samples.filter((s) => s.kind === 'easy-negative' || s.kind === 'hard-negative').length;
  return negatives === 0 ? 1 : Math.min(1, positives / negatives);
}

export async function trainConcept(vlm: VisionLanguageModel, data: ConceptData, options: TrainConceptOptions = {}): Promise<TrainConceptResult> {
  assertTrainablePromptFormat(vlm);
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const k = options.latentCount ?? options.initialConcept?.info.latentCount ?? 16;
  const epochs = options.epochs ?? DEFAULT_EPOCHS;
  const seed = options.seed ?? 0;
  const flipProbability = options.flipProbability ?? 0.5;
  const cropProbability = options.cropProbability ?? DEFAULT_CROP_PROBABILITY;
  const negativeWeight = options.negativeWeight ?? balancedNegativeWeight(data);
  const hardNegativeWeight = options.hardNegativeWeight ?? negativeWeight * HARD_NEGATIVE_SHARE;
  const targetFalsePositiveRate = options.targetFalsePositiveRate === undefined ? DEFAULT_FALSE_POSITIVE_RATE : options.targetFalsePositiveRate;
  if (targetFalsePositiveRate !== null && !(targetFalsePositiveRate >= 0 && targetFalsePositiveRate < 1)) throw new ConceptError(`targetFalsePositiveRate must be in [0, 1) or null, got ${targetFalsePositiveRate}`);
  const boundaryDirection = options.boundaryDirection ?? 'photos';
  const maxBoundaryShift = options.maxBoundaryShift ?? MAX_SHIFT;
  if (!(maxBoundaryShift > 0 && maxBoundaryShift <= 4)) throw new ConceptError(`maxBoundaryShift must be in (0, 4], got ${maxBoundaryShift}`);
  if (data.samples.length === 0) throw new ConceptError(`concept ${data.name}: no training samples`);
  if (!Number.isInteger(k) || k < 0 || k > 256) throw new ConceptError(`latent token count ${k} must be an integer in 0…256`);
  const model = vlm.model;
  const C = model.hiddenSize;
  const V = model.vocabSize;

  const concepts = new ConceptSet(vlm);
  const rows = options.initialConcept
    ? { input: options.initialConcept.inputRows.slice(), output: options.initialConcept.outputRow.slice() }
    : initialRows(vlm, k + 1, seed);
  if (options.latentStart && (options.initialConcept || options.latentStart.length !== k * C)) {
    throw new ConceptError(options.initialConcept ? 'latentStart and initialConcept exclude each other' : `latentStart has ${options.latentStart.length} values, not ${k} × ${C}`);
  }
  if (options.latentStart) rows.input.set(options.latentStart, C);
  const descriptionTokens = !options.initialConcept && !options.latentStart && data.description ? setDescriptionRows(vlm, rows.input, k, data.description) : 0;
  if (options.initialConcept && options.initialConcept.info.latentCount !== k) throw new ConceptError(`the concept to continue has ${options.initialConcept.info.latentCount} latent tokens, not ${k}`);
  const vocabularyLearningRate = options.vocabularyLearningRate ?? 0.05;
  // The latent rows' mixing weights and their own optimizer (latentRows 'vocabulary').
  let vocabulary: { rows: VocabularyRows; optimizer: AdamW } | null = null;
  if (options.latentRows === 'vocabulary') {
    if (options.initialConcept || options.latentStart || options.checkpointFile) throw new ConceptError('latentRows "vocabulary" excludes initialConcept, latentStart and checkpointFile');
    const mixes = new VocabularyRows(model.kernels(), model.decoder.weights.embedTokens, k);
    mixes.startFrom(data.description ? vlm.tokenizer.encode(data.description, { addSpecialTokens: false }) : []);
    mixes.write(rows.input.subarray(C));
    vocabulary = { rows: mixes, optimizer: new AdamW([{ name: 'latent vocabulary weights', value: mixes.logits, grad: new Float32Array(mixes.logits.length) }], { lr: vocabularyLearningRate, weightDecay: 0 }) };
  }
  if (options.descriptionInPrompt && !data.description) throw new ConceptError(`concept ${data.name}: descriptionInPrompt needs a description in the data`);
  const conceptText = options.descriptionInPrompt ? data.description!.replace(/\s+/g, ' ').replace(/[.\s]+$/, '').trim() : null;
  const startInput = rows.input.slice();
  const training = { ...(vocabulary ? { vocabularyRows: 1, vocabularyLearningRate } : {}), latentCount: k, epochs, learningRate: options.learningRate ?? 1e-3, weightDecay: options.weightDecay ?? 0.01, anchorDecay: options.anchorDecay ?? 0, freezeLatentRows: options.freezeLatentRows ? 1 : 0, flipProbability, cropProbability, seed, negativeWeight, hardNegativeWeight, batchSize: 1, descriptionTokens, targetFalsePositiveRate, ...(options.latentStart ? { givenLatentStart: 1 } : {}), ...(conceptText ? { descriptionInPrompt: 1 } : {}) };
  const makeConcept = (input: Float32Array, output: Float32Array, epochMetrics: EpochMetrics[], bestEpoch: number | null, operatingPoint?: OperatingPoint) => new Concept({
    name: data.name, latentCount: k,
    baseModel: { ...concepts.modelIdentity, source: vlm.source },
    training, data: { ...data.summary, samples: data.samples.length },
    epochs: epochMetrics, bestEpoch, createdAt: new Date().toISOString(),
    ...(operatingPoint ? { operatingPoint } : {}),
    ...(conceptText ? { text: conceptText } : {}),
  }, input, output);
  const working = makeConcept(rows.input, rows.output, [], null);
  concepts.add(working);
  try {
    const identifierId = concepts.identifierId(data.name);
    const rowOffset = (identifierId - V) * C;
    const { yes, no } = yesNoTokenIds(vlm);
    const report = (progress: Omit<TrainProgress, 'elapsedSeconds' | 'epochs'>) => options.onProgress?.({ ...progress, epochs, elapsedSeconds: elapsed() });
    report({ phase: 'preparing', epoch: 0, step: 0, steps: 0, loss: NaN, lastAccuracy: null, bestAccuracy: null, remainingSeconds: null });

    const encoded: EncodedSample[] = data.samples.map((sample) => ({
      sample,
      prompt: encodeTrainingSample(vlm, working, identifierId, sample.question, sample.answer, sample.image !== null),
    }));
    // Recognition check on the training photos: positives against every negative.
    // Only recognition samples say whether a photo shows the subject (a conversation may be shown with its photo too).
    const evaluationPhotos = [...new Map(data.samples.filter((s) => s.image !== null && s.kind !== 'conversation').map((s) => [s.image!, s.kind === 'positive'])).entries()];
    const evaluationPrompt = encodeQuestion(vlm, working, identifierId, recognitionEvalPrompt(working.identifier), true);

    const prefixes = new PrefixCache(options.prefixCacheBytes);
    const prefixFor = async (prompt: SplitPrompt, image: string | null, flip: boolean, crop?: CropWindow): Promise<KVCache> => {
      const window = crop ? `${crop.left},${crop.top}` : '';
      const key = `${image ?? ''}|${flip}|${window}|${prompt.prefixIds.length}|${prompt.prefixIds.slice(-4).join(',')}`;
      // The photo is run through the vision tower only when its prefix is not cached (windows outnumber the feature cache).
      const features = image && !prefixes.has(key) ? [await vlm.imageFeatures(image, { flip, crop })] : [];
      return prefixes.get(key, () => model.prefill({ ids: prompt.prefixIds, images: features }, 256));
    };

    const optimizer = new AdamW([
      { name: 'input rows', value: rows.input, grad: new Float32Array(rows.input.length) },
      { name: 'output row', value: rows.output, grad: new Float32Array(C) },
    ], { lr: training.learningRate, weightDecay: training.weightDecay });
    const metrics: EpochMetrics[] = [];
    let best: { input: Float32Array; output: Float32Array; accuracy: number; epoch: number } | null = null;
    let firstEpoch = 1;
    if (options.resume && options.checkpointFile && existsSync(options.checkpointFile)) {
      const restored = readCheckpoint(options.checkpointFile, data, training, rows, optimizer);
      metrics.push(...restored.metrics);
      best = restored.best;
      firstEpoch = restored.epoch + 1;
    }

    /**
     * The recognition question's answer on a photo: `yes` when "Yes" outscores "No" (as yollava
     * eval's P(Yes) reads it); `offFormat` when the most likely first token is neither, so that a
     * greedy answer would not be Yes/No at all.
     */
    const answerOn = async (photo: string): Promise<{ yes: boolean; offFormat: boolean }> => {
      const prefix = await prefixFor(evaluationPrompt, photo, false);
      const past = prefix.length;
      try {
        const extra = concepts.extraTokens();
        const hidden = model.forward({ ids: evaluationPrompt.suffixIds, extra }, prefix);
        const logits = model.logitsAt(hidden, [evaluationPrompt.suffixIds.length - 1], extra);
        const answerLogit = Math.max(logits[yes], logits[no]);
        let offFormat = false;
        for (let i = 0; i < logits.length; i++) if (logits[i] > answerLogit) { offFormat = true; break; }
        return { yes: logits[yes] > logits[no], offFormat };
      } finally {
        prefix.truncate(past);
      }
    };
    const saysYes = async (photo: string): Promise<boolean> => (await answerOn(photo)).yes;
    const evaluate = async (): Promise<{ positive: number; negative: number; weighted: number }> => {
      let positiveRight = 0, positives = 0, negativeRight = 0, negatives = 0;
      for (const [photo, isPositive] of evaluationPhotos) {
        const yesSaid = await saysYes(photo);
        if (isPositive) { positives++; if (yesSaid) positiveRight++; } else { negatives++; if (!yesSaid) negativeRight++; }
      }
      const positive = positives ? positiveRight / positives : 1;
      const negative = negatives ? negativeRight / negatives : 1;
      return { positive, negative, weighted: (positive + negative) / 2 };
    };

    const steps = encoded.length;
    if (firstEpoch === 1 && !options.initialConcept) {
      // The starting rows are a candidate too: with a good description they can beat every epoch.
      const t0 = performance.now();
      report({ phase: 'evaluating', epoch: 0, step: 0, steps, loss: NaN, lastAccuracy: null, bestAccuracy: null, remainingSeconds: null });
      const accuracy = await evaluate();
      metrics.push({ epoch: 0, loss: null, positiveAccuracy: accuracy.positive, negativeAccuracy: accuracy.negative, weightedAccuracy: accuracy.weighted, seconds: (performance.now() - t0) / 1000 });
      best = { input: rows.input.slice(), output: rows.output.slice(), accuracy: accuracy.weighted, epoch: 0 };
      options.onEpochRows?.(0, { input: rows.input.slice(), output: rows.output.slice() }, metrics.at(-1)!);
    }
    let interrupted = false;
    let secondsPerStep: number | null = null;
    for (let epoch = firstEpoch; epoch <= epochs; epoch++) {
      if (options.signal?.aborted) { interrupted = true; break; }
      const epochStarted = performance.now();
      const random = seededRandom(seed * 1000 + epoch); // per epoch: a resumed run shuffles the same way
      const order = encoded.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
      let lossSum = 0;
      for (let step = 0; step < steps; step++) {
        if (options.signal?.aborted) { interrupted = true; break; }
        const { sample, prompt } = encoded[order[step]];
        const flip = sample.image !== null && random() < flipProbability;
        const crop = sample.image !== null && cropProbability > 0 && random() < cropProbability ? cropWindow(random) : undefined;
        const prefix = await prefixFor(prompt, sample.image, flip, crop);
        const result = model.lossAndGradients({ ids: prompt.suffixIds, labels: prompt.suffixLabels, extra: concepts.extraTokens(), cache: prefix });
        const weight = sample.kind === 'hard-negative' ? hardNegativeWeight : sample.kind === 'easy-negative' ? negativeWeight : 1;
        optimizer.zeroGrad();
        const [inputParam, outputParam] = optimizer.parameters;
        const gradIn = result.inputRowGrads.subarray(rowOffset, rowOffset + (k + 1) * C);
        for (let i = 0; i < gradIn.length; i++) inputParam.grad[i] = weight * gradIn[i];
        const column = concepts.extraTokens().outputIds.indexOf(identifierId);
        const gradOut = result.outputRowGrads.subarray(column * C, (column + 1) * C);
        for (let i = 0; i < C; i++) outputParam.grad[i] = weight * gradOut[i];
        optimizer.step(); // updates rows in place: they are the working concept's rows
        if (vocabulary) {
          vocabulary.rows.backward(inputParam.grad.subarray(C), vocabulary.optimizer.parameters[0].grad);
          vocabulary.optimizer.step();
          vocabulary.rows.write(rows.input.subarray(C)); // replaces the free update of the latent rows
        }
        if (training.anchorDecay > 0) {
          const pull = training.learningRate * training.anchorDecay;
          for (let i = 0; i < rows.input.length; i++) rows.input[i] -= pull * (rows.input[i] - startInput[i]);
        }
        if (training.freezeLatentRows) rows.input.set(startInput.subarray(C), C);
        concepts.invalidate();
        lossSum += result.loss;
        const done = (epoch - firstEpoch) * steps + step + 1;
        const total = (epochs - firstEpoch + 1) * steps;
        secondsPerStep = (performance.now() - started) / 1000 / done;
        if (step % 8 === 0 || step === steps - 1) {
          report({ phase: 'training', epoch, step: step + 1, steps, loss: lossSum / (step + 1), lastAccuracy: metrics.at(-1)?.weightedAccuracy ?? null, bestAccuracy: best?.accuracy ?? null, remainingSeconds: secondsPerStep * (total - done) });
          await new Promise<void>((resolve) => setImmediate(resolve)); // let a signal or output through
        }
      }
      if (interrupted && best) break; // keep the best completed epoch
      report({ phase: 'evaluating', epoch, step: steps, steps, loss: lossSum / steps, lastAccuracy: metrics.at(-1)?.weightedAccuracy ?? null, bestAccuracy: best?.accuracy ?? null, remainingSeconds: null });
      const accuracy = await evaluate();
      metrics.push({
        epoch, loss: lossSum / Math.max(1, steps), positiveAccuracy: accuracy.positive, negativeAccuracy: accuracy.negative,
        weightedAccuracy: accuracy.weighted, seconds: (performance.now() - epochStarted) / 1000,
      });
      if (!best || accuracy.weighted > best.accuracy) best = { input: rows.input.slice(), output: rows.output.slice(), accuracy: accuracy.weighted, epoch };
      options.onEpochRows?.(epoch, { input: rows.input.slice(), output: rows.output.slice() }, metrics.at(-1)!);
      if (options.checkpointFile && !interrupted) writeCheckpoint(options.checkpointFile, data, training, rows, optimizer, metrics, best, epoch);
      if (interrupted) break;
    }
    /**
     * d(logit Yes − logit No)/d(input rows) on each photo, from the loss of the less likely of the
     * two answers (its gradient is ±(1 − p) times the margin's when Yes and No hold the mass),
     * then the direction: 'mean', their mean; 'uniform', the minimum-norm d with ⟨g, d⟩ ≈ 1 on
     * every photo (ridge, solved in the photos' dual).
     */
    const marginDirection = async (kind: 'uniform' | 'mean', photos: readonly string[], yesAnswer: SplitPrompt): Promise<Float32Array> => {
      const noAnswer = encodeTrainingSample(vlm, working, identifierId, recognitionEvalPrompt(working.identifier), 'No', true);
      const D = (k + 1) * C;
      const gradients: Float32Array[] = [];
      // The answer token alone counts, not the end-of-answer token after it.
      const onlyAnswer = (prompt: SplitPrompt) => {
        const first = prompt.suffixLabels.findIndex((label) => label !== -100);
        return prompt.suffixLabels.map((_, i) => (i === first ? 1 : 0));
      };
      const yesWeights = onlyAnswer(yesAnswer), noWeights = onlyAnswer(noAnswer);
      for (const photo of photos) {
        const yesSaid = await saysYes(photo);
        const prompt = yesSaid ? noAnswer : yesAnswer;
        const result = model.lossAndGradients({ ids: prompt.suffixIds, labels: prompt.suffixLabels, labelWeights: yesSaid ? noWeights : yesWeights, extra: concepts.extraTokens(), cache: await prefixFor(prompt, photo, false) });
        const p = Math.exp(-result.loss);
        // label Yes: grad = −(1 − p)·∇margin; label No: grad = +(1 − p)·∇margin
        const scale = (yesSaid ? 1 : -1) / Math.max(1e-3, 1 - p);
        const g = new Float32Array(D);
        const grad = result.inputRowGrads.subarray(rowOffset, rowOffset + D);
        for (let i = 0; i < D; i++) g[i] = scale * grad[i];
        gradients.push(g);
      }
      const N = gradients.length;
      const d = new Float32Array(D);
      if (kind === 'mean') {
        for (const g of gradients) for (let i = 0; i < D; i++) d[i] += g[i] / N;
        return d;
      }
      const gram = new Float64Array(N * N);
      let trace = 0;
      for (let a = 0; a < N; a++) for (let b = 0; b <= a; b++) {
        let dot = 0;
        const ga = gradients[a], gb = gradients[b];
        for (let i = 0; i < D; i++) dot += ga[i] * gb[i];
        gram[a * N + b] = dot; gram[b * N + a] = dot;
        if (a === b) trace += dot;
      }
      const ridge = 0.1 * trace / N;
      for (let a = 0; a < N; a++) gram[a * N + a] += ridge;
      const alpha = choleskySolve(gram, N, new Float64Array(N).fill(1));
      for (let a = 0; a < N; a++) for (let i = 0; i < D; i++) d[i] += alpha[a] * gradients[a][i];
      return d;
    };
    const final = best ?? { input: rows.input.slice(), output: rows.output.slice(), epoch: null };
    let operatingPoint: OperatingPoint | undefined;
    const heldOut = data.heldOutNegatives ?? [];
    if (targetFalsePositiveRate !== null && heldOut.length > 0 && !interrupted) {
      report({ phase: 'calibrating', epoch: metrics.at(-1)?.epoch ?? 0, step: steps, steps, loss: metrics.at(-1)?.loss ?? NaN, lastAccuracy: metrics.at(-1)?.weightedAccuracy ?? null, bestAccuracy: best?.accuracy ?? null, remainingSeconds: null });
      // The direction that makes the training photos more "Yes": along it, photos like them gain most.
      const yesPrompt = encodeTrainingSample(vlm, working, identifierId, recognitionEvalPrompt(working.identifier), 'Yes', true);
      rows.input.set(final.input);
      concepts.invalidate();
      const photosDirection = async (): Promise<Float32Array> => {
        const sum = new Float32Array(final.input.length);
        for (const [photo, isPositive] of evaluationPhotos) {
          if (!isPositive) continue;
          const result = model.lossAndGradients({ ids: yesPrompt.suffixIds, labels: yesPrompt.suffixLabels, extra: concepts.extraTokens(), cache: await prefixFor(yesPrompt, photo, false) });
          const grad = result.inputRowGrads.subarray(rowOffset, rowOffset + (k + 1) * C);
          for (let i = 0; i < sum.length; i++) sum[i] -= grad[i];
        }
        return sum;
      };
      const direction = boundaryDirection === 'photos'
        ? await photosDirection()
        : await marginDirection(boundaryDirection, [...evaluationPhotos.map(([photo]) => photo), ...heldOut], yesPrompt);
      if (training.freezeLatentRows) direction.fill(0, C); // the boundary moves <name>'s row alone too
      const directionNorm = norm(direction);
      const rowsNorm = norm(final.input);
      if (directionNorm > 0 && rowsNorm > 0) {
        const stopped = new Error('stopped');
        const trainingPositives = evaluationPhotos.filter(([, isPositive]) => isPositive).map(([photo]) => photo);
        /**
         * Shares of the held-out images answered "Yes" and answered neither Yes nor No, and how
         * many of the training photos are answered "Yes", with the rows moved by `shift`.
         */
        const answersAt = async (shift: number): Promise<BoundaryAnswers> => {
          const step = (shift * rowsNorm) / directionNorm;
          for (let i = 0; i < rows.input.length; i++) rows.input[i] = final.input[i] + step * direction[i];
          concepts.invalidate();
          let accepted = 0, offFormat = 0, ownYes = 0;
          for (const photo of heldOut) {
            if (options.signal?.aborted) throw stopped;
            const answer = await answerOn(photo);
            if (answer.yes) accepted++;
            if (answer.offFormat) offFormat++;
          }
          for (const photo of trainingPositives) {
            if (options.signal?.aborted) throw stopped;
            if ((await answerOn(photo)).yes) ownYes++;
          }
          await new Promise<void>((resolve) => setImmediate(resolve)); // let a signal through
          return { accepted: accepted / heldOut.length, offFormat: offFormat / heldOut.length, ownYes };
        };
        try {
          const atZero = await answersAt(0);
          const before = atZero.accepted;
          const acceptedShare = async (shift: number): Promise<number> => boundaryShare(await answersAt(shift), atZero, shift);
          const found = await searchShift(acceptedShare, targetFalsePositiveRate, before, maxBoundaryShift);
          const step = (found.shift * rowsNorm) / directionNorm;
          for (let i = 0; i < final.input.length; i++) final.input[i] += step * direction[i];
          operatingPoint = { targetFalsePositiveRate, heldOutNegatives: heldOut.length, falsePositiveRateBefore: before, falsePositiveRate: found.acceptedShare, shift: found.shift, direction: boundaryDirection };
        } catch (error) {
          if (error !== stopped) throw error;
          interrupted = true; // stopped while setting the boundary: the best epoch's rows as trained
        }
      }
    }
    report({ phase: 'done', epoch: metrics.at(-1)?.epoch ?? 0, step: steps, steps, loss: metrics.at(-1)?.loss ?? NaN, lastAccuracy: metrics.at(-1)?.weightedAccuracy ?? null, bestAccuracy: best?.accuracy ?? null, remainingSeconds: 0 });
    return { concept: makeConcept(final.input, final.output, metrics, final.epoch, operatingPoint), epochs: metrics, interrupted };
  } finally {
    concepts.remove(data.name);
  }
}

/** Solves A x = b for a symmetric positive definite A (n × n, row-major). */
function choleskySolve(A: Float64Array, n: number, b: Float64Array): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = A[i * n + j];
      for (let q = 0; q < j; q++) sum -= L[i * n + q] * L[j * n + q];
      L[i * n + j] = i === j ? Math.sqrt(Math.max(sum, 1e-300)) : sum / L[j * n + j];
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) { let sum = b[i]; for (let q = 0; q < i; q++) sum -= L[i * n + q] * y[q]; y[i] = sum / L[i * n + i]; }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) { let sum = y[i]; for (let q = i + 1; q < n; q++) sum -= L[q * n + i] * x[q]; x[i] = sum / L[i * n + i]; }
  return x;
}

function norm(values: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i] * values[i];
  return Math.sqrt(sum);
}

/**
 * The shift (a fraction of the rows' norm, along the "Yes" direction) that accepts the largest
 * share of held-out negatives that is still at most `target` — the smallest such shift; when the
 * rows already accept more, the smallest shift back towards "No" that brings it down (none found:
 * no shift). The share grows with the shift, near enough: doubling finds a bracket, bisection
 * narrows it (at most 6 + 6 evaluations).
 * Where the share falls (by more than 0.01, or below the share at no shift) as the shift grows,
 * the rows have left the region where the direction means "more Yes" (one concept moved 1.28 of
 * its norm accepted fewer negatives, not more, and ranked its photos at AUC 0.63): that counts
 * as beyond the target.
 * A share of Infinity marks a shift beyond reach (boundaryShare: answers left the Yes/No format,
 * or a training photo lost its "Yes").
 * Shifts stay within MAX_SHIFT.
 */
export const MAX_SHIFT = 0.32;
/** More held-out answers that are neither Yes nor No than at no shift, by this share, mark a shift as beyond reach. */
const OFF_FORMAT_TOLERANCE = 0.02;
/** What the recognition question gets with the rows moved by some shift. */
export interface BoundaryAnswers {
  /** Share of the held-out negatives answered "Yes". */
  readonly accepted: number;
  /** Share of the held-out negatives whose most likely first token is neither Yes nor No. */
  readonly offFormat: number;
  /** How many of the training photos of the subject are answered "Yes". */
  readonly ownYes: number;
}

/**
 * The held-out share a shift accepts, for searchShift, or Infinity where the shift is beyond
 * reach:
 * - rows moved far can make the model go on with other words instead of answering (a concept of
 *   a continued base model did, on its own photos): more such answers than the trained rows give,
 *   by OFF_FORMAT_TOLERANCE;
 * - a step forwards is meant to make the training photos more "Yes", and far along it the rows
 *   can leave the region where it does (concepts of a continued base model, moved 0.32 of their
 *   norm, answered "No" to 4 or 5 of their 5 training photos and to nearly every test photo of
 *   their subject, while accepting more held-out negatives): a training photo that loses its
 *   "Yes". A step back towards "No" may cost them; that is its price.
 */
export function boundaryShare(answers: BoundaryAnswers, atZero: BoundaryAnswers, shift: number): number {
  if (answers.offFormat > atZero.offFormat + OFF_FORMAT_TOLERANCE) return Infinity;
  if (shift > 0 && answers.ownYes < atZero.ownYes) return Infinity;
  return answers.accepted;
}

/** A drop of the accepted share larger than this, as the shift grows, marks the edge. */
const FALLING_SHARE = 0.01;

export async function searchShift(
  acceptedShare: (shift: number) => Promise<number>, target: number, atZero?: number, maxShift = MAX_SHIFT,
): Promise<{ shift: number; acceptedShare: number }> {
  const start = atZero ?? await acceptedShare(0);
  const within = (share: number) => share <= target;
  // Bracket: `low` within the target (the answer's side), `high` beyond it.
  let low: { shift: number; acceptedShare: number } | null = within(start) ? { shift: 0, acceptedShare: start } : null;
  let high: number | null = within(start) ? null : 0;
  const direction = low ? 1 : -1;
  // Forwards, the answer is the shift that accepts the most within the target, the smallest one
  // on a tie: a move that accepts no more held-out images gains nothing, and far moves along one
  // direction can cost the subject's own photos (one concept moved 0.14 of its norm, accepting 3
  // of 150 throughout, went from AUC 0.965 to 0.82 and answered "Yes" to none of its photos).
  let best = low;
  const keep = (point: { shift: number; acceptedShare: number }) => {
    low = point;
    if (!best || point.acceptedShare > best.acceptedShare) best = point;
  };
  for (let size = 0.01; size <= maxShift && (low === null || high === null); size *= 2) {
    const shift = direction * size;
    const share = await acceptedShare(shift);
    const falling = direction > 0 && low !== null && (share < low.acceptedShare - FALLING_SHARE || share < start);
    if (within(share) && !falling) keep({ shift, acceptedShare: share });
    else high = shift;
    if (direction > 0 && high !== null) break;
    if (direction < 0 && low !== null) break;
  }
  if (low === null) return { shift: 0, acceptedShare: start }; // even far back, too many accepted
  if (high === null) return best!; // the target is never exceeded within reach (forwards only)
  let beyond: number = high;
  for (let i = 0; i < 6; i++) {
    const shift: number = (low.shift + beyond) / 2;
    const share = await acceptedShare(shift);
    const falling = direction > 0 && (share < low.acceptedShare - FALLING_SHARE || share < start);
    if (within(share) && !falling) keep({ shift, acceptedShare: share });
    else beyond = shift;
  }
  return direction > 0 ? best! : low; // backwards: the smallest step back within the target
}

interface TrainingSettings { readonly [key: string]: number | null }

/** What a resumed run must share with the interrupted one (the epoch count may grow). */
function dataFingerprint(data: ConceptData, training: TrainingSettings): string {
  const { epochs: _epochs, ...settings } = training;
  return JSON.stringify({ name: data.name, samples: data.samples.map((s) => [s.kind, s.image, s.question, s.answer]), settings });
}

function writeCheckpoint(
  file: string, data: ConceptData, training: TrainingSettings, rows: { input: Float32Array; output: Float32Array }, optimizer: AdamW,
  metrics: EpochMetrics[], best: { input: Float32Array; output: Float32Array; accuracy: number; epoch: number }, epoch: number,
): void {
  const state = optimizer.state();
  writeSafetensors(file, {
    input: { shape: [rows.input.length], data: rows.input }, output: { shape: [rows.output.length], data: rows.output },
    best_input: { shape: [best.input.length], data: best.input }, best_output: { shape: [best.output.length], data: best.output },
    m_input: { shape: [state.m[0].length], data: state.m[0] }, v_input: { shape: [state.v[0].length], data: state.v[0] },
    m_output: { shape: [state.m[1].length], data: state.m[1] }, v_output: { shape: [state.v[1].length], data: state.v[1] },
  }, {
    format: 'yollava-training-checkpoint/1', fingerprint: dataFingerprint(data, training),
    state: JSON.stringify({ epoch, step: state.step, metrics, bestAccuracy: best.accuracy, bestEpoch: best.epoch }),
  });
}

function readCheckpoint(file: string, data: ConceptData, training: TrainingSettings, rows: { input: Float32Array; output: Float32Array }, optimizer: AdamW) {
  const header = readSafetensorsHeader(file);
  if (header.metadata.format !== 'yollava-training-checkpoint/1') throw new ConceptError(`${file}: not a yollava training checkpoint`);
  if (header.metadata.fingerprint !== dataFingerprint(data, training)) {
    throw new ConceptError(`${file}: was written for other training data or settings; remove it to start over`);
  }
  const tensors = readSafetensors(file);
  const get = (name: string) => tensors.get(name)!.data as Float32Array;
  const state = JSON.parse(header.metadata.state) as { epoch: number; step: number; metrics: EpochMetrics[]; bestAccuracy: number; bestEpoch: number };
  rows.input.set(get('input'));
  rows.output.set(get('output'));
  optimizer.loadState({ step: state.step, m: [get('m_input'), get('m_output')], v: [get('v_input'), get('v_output')] });
  return {
    epoch: state.epoch, metrics: state.metrics,
    best: { input: get('best_input').slice(), output: get('best_output').slice(), accuracy: state.bestAccuracy, epoch: state.bestEpoch },
  };
}

/** Removes a finished run's checkpoint. */
export function removeCheckpoint(file: string): void {
  rmSync(file, { force: true });
}
