/**
 * Stage 2: projector + decoder on the world's instruction corpus, the tower frozen.
 *
 * Each step packs corpus samples (llava_v1 prompts, see encodeSample.ts) into one sequence of
 * about `tokensPerStep` tokens, so that every product in the decoder sees hundreds of rows; the
 * step's pictures go through the frozen tower as one batch, then through the projector with a
 * tape, and the gradient that reaches the image features continues into the projector.
 * Sample i of the stream is instructionSample(seed, i): a resumed run continues exactly where
 * the checkpoint left off.
 */
import { join } from 'node:path';
import { AdamW } from '../engine/adamw.ts';
import { writeSafetensors } from '../engine/safetensors.ts';
import type { ConvVisionTower } from '../models/convVisionTower.ts';
import type { LlavaModel } from '../models/llava.ts';
import type { Tokenizer } from '../models/Tokenizer.ts';
import { IMAGE_SIZE, instructionSample, renderScene, type CorpusOptions, type CorpusSample } from '../world/index.ts';
import { encodeTurns, LETTER_DECISION, packSamples, type EncodedSample } from './encodeSample.ts';
import { formatDuration, progressLine, Smoothed, type TrainingLog } from './progress.ts';
import {
  clipGradients,
  decoderParameters,
  findCheckpoint,
  newDecoderGrads,
  newProjectorGrads,
  optimizerTensors,
  projectorParameters,
  restoreOptimizer,
  rewarmedLearningRate,
  savedRewarmFrom,
  writeCheckpoint,
} from './trainingState.ts';
import { scenePixelValues } from './worldModelConfig.ts';

export interface Stage2Options {
  readonly seed: number;
  readonly checkpointDir: string;
  readonly resume: boolean;
  readonly totalSteps: number;
  readonly minutes: number;
  /** Checked between steps: true ends the sitting early (Ctrl-C), with a checkpoint as at the deadline. */
  readonly stopRequested?: () => boolean;
  /** Packed tokens per optimizer step (whole samples; default 1024). */
  readonly tokensPerStep?: number;
  /** Most tokens in one packed forward (default 512): attention costs T² per sequence. */
  readonly microTokens?: number;
  readonly lr?: number; // default 1e-3
  /** Weight of a language-model loss on the prompt's tokens per sample (encodeTurns; default 0). */
  readonly promptLoss?: number;
  readonly warmupSteps?: number; // default 100 (a tenth of a shorter schedule)
  readonly checkpointEvery?: number; // default 50
  /** Corpus options other than seed/count (task mix, recognition negatives). */
  readonly corpus?: Omit<CorpusOptions, 'seed' | 'count'>;
  /**
   * From this share of the schedule on (default 0.3), recognition against look-alikes gets
   * RECOGNITION_FOCUS_WEIGHT in the mix (≈ 55% of samples): world-facts.md saw recognition emerge
   * only once it dominated the mix, after the model had learned to see and to read descriptions.
   */
  readonly recognitionFocusFrom?: number;
  readonly log: TrainingLog;
  readonly quiet?: boolean;
  /** Called every `evalEvery` steps (and at the end) to measure and log held-out metrics. */
  readonly evaluate?: (step: number) => Record<string, unknown>;
  readonly evalEvery?: number;
  /** Where to begin when there is no checkpoint (a warm start from saved weights). */
  readonly start?: { readonly step: number; readonly nextSample: number };
}

/** Recognition's weight in the late mix (the other tasks keep their default weights, which sum to 0.75). */
export const RECOGNITION_FOCUS_WEIGHT = 0.9;

export interface Stage2Result {
  readonly step: number;
  readonly samples: number;
  readonly done: boolean;
}

export async function trainInstructStage(model: LlavaModel, tokenizer: Tokenizer, options: Stage2Options): Promise<Stage2Result> {
  const tower = model.visionTower as ConvVisionTower;
  const tokensPerStep = options.tokensPerStep ?? 1024;
  const peak = options.lr ?? 1e-3;
  const imageTokens = model.imageTokenCount;
  const imageTokenId = model.config.imageTokenId;
  const projectorGrads = newProjectorGrads(model.projector);
  const decoderGrads = newDecoderGrads(model.decoder);
  const params = [...projectorParameters(model.projector, projectorGrads), ...decoderParameters(model.decoder, decoderGrads)];
  const optimizer = new AdamW(params, { lr: peak, weightDecay: 0.01, beta2: 0.98 });
  let step = 0;
  let nextSample = 0;
  // A warm start (saved weights, new moments) ramps the lr up again from where it starts.
  let rewarmFrom: number | null = null;
  const found = options.resume ? findCheckpoint(options.checkpointDir) : null;
  if (found) {
    step = found.state.step as number;
    nextSample = found.state.nextSample as number;
    restoreOptimizer(optimizer, join(found.dir, 'optimizer.safetensors'), step);
    rewarmFrom = savedRewarmFrom(found.state);
    progressLine(options.quiet ?? false, `[stage 2] resumed at step ${step} (sample ${nextSample}) from ${found.dir}`);
  } else if (options.start) {
    step = options.start.step;
    nextSample = options.start.nextSample;
    rewarmFrom = step;
  }
  // One sample that did not fit the previous step starts the next one; it is not trained on yet.
  let carried: { sample: CorpusSample; encoded: EncodedSample } | null = null;
  const save = () => writeCheckpoint(options.checkpointDir, { stage: 2, step, nextSample: nextSample - (carried ? 1 : 0), seed: options.seed, totalSteps: options.totalSteps, tokensPerStep, rewarmFrom }, (dir) => {
    writeSafetensors(join(dir, 'optimizer.safetensors'), optimizerTensors(optimizer));
  });
  const corpus = { ...options.corpus, seed: options.seed };
  const focusedCorpus = { ...corpus, mix: { ...options.corpus?.mix, recognition: RECOGNITION_FOCUS_WEIGHT } };
  const focusFrom = Math.round((options.recognitionFocusFrom ?? 0.3) * options.totalSteps);
  const deadline = Date.now() + options.minutes * 60_000;
  const warmup = options.warmupSteps ?? Math.min(100, Math.ceil(options.totalSteps / 10));
  const smoothed = new Smoothed(0.95);
  const started = Date.now();
  const samplesAtStart = nextSample;
  const stepsAtStart = step;
  const Cv = tower.config.hiddenSize;
  const C = model.hiddenSize;
  /** The next samples up to `budget` tokens (at least one). */
  const nextMicroBatch = (budget: number): { batch: Array<{ sample: CorpusSample; encoded: EncodedSample }>; tokens: number } => {
    const batch: Array<{ sample: CorpusSample; encoded: EncodedSample }> = [];
    let tokens = 0;
    for (;;) {
      const item: { sample: CorpusSample; encoded: EncodedSample } = carried ?? (() => {
        const sample = instructionSample(step >= focusFrom ? focusedCorpus : corpus, nextSample);
        return { sample, encoded: encodeTurns(tokenizer, sample.turns, sample.image !== undefined, imageTokenId, imageTokens, { promptLoss: options.promptLoss }) };
      })();
      if (!carried) nextSample++;
      carried = null;
      if (batch.length > 0 && tokens + item.encoded.ids.length > budget) { carried = item; break; }
      batch.push(item);
      tokens += item.encoded.ids.length;
    }
    return { batch, tokens };
  };
  /** Forward and backward of one packed micro-batch; gradients are added. */
  // Decision tokens (first answer token of a turn): cross-entropy and argmax accuracy, for the log.
  let decisionLoss = 0;
  let decisionRight = 0;
  let decisionCount = 0;
  let letterRight = 0; // two-option questions alone: the form mcq and text QA are scored in
  let letterCount = 0;
  const microStep = (batch: ReadonlyArray<{ sample: CorpusSample; encoded: EncodedSample }>): number => {
    // Pictures through the frozen tower (one batch), then the projector with a tape.
    const pictured = batch.filter((b) => b.sample.image !== undefined);
    const n = pictured.length;
    const images: Float32Array[] = [];
    let projectorTape = null;
    if (n > 0) {
      const pixels = new Float32Array(n * 3 * IMAGE_SIZE * IMAGE_SIZE);
      pictured.forEach((b, i) => scenePixelValues(renderScene(b.sample.image!).pixels, pixels, i * 3 * IMAGE_SIZE * IMAGE_SIZE));
      const { hiddenStates } = tower.forwardBatch(pixels, n);
      const features = hiddenStates[hiddenStates.length - 1];
      if (features.length !== n * imageTokens * Cv) throw new Error('unexpected tower output size');
      const projected = model.projector.forward(features, n * imageTokens, true);
      projectorTape = projected.tape!;
      for (let i = 0; i < n; i++) images.push(projected.output.subarray(i * imageTokens * C, (i + 1) * imageTokens * C));
    }
    const packed = packSamples(batch.map((b) => b.encoded));
    const result = model.lossAndGradients(
      { ids: packed.ids, labels: packed.labels, labelWeights: packed.weights, segments: packed.segments, images },
      { weightGrads: decoderGrads, imageGrads: n > 0, keepLogits: true },
    );
    const V = model.vocabSize;
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
        decisionLoss += max + Math.log(sum) - z[packed.labels[u]];
        decisionRight += best === packed.labels[u] ? 1 : 0;
        decisionCount++;
        if (packed.decisions[u] === LETTER_DECISION) {
          letterRight += best === packed.labels[u] ? 1 : 0;
          letterCount++;
        }
      }
      row++;
    }
    if (projectorTape && result.imageGrads) {
      const dProjected = new Float32Array(n * imageTokens * C);
      result.imageGrads.forEach((g, i) => dProjected.set(g, i * imageTokens * C));
      model.projector.backward(projectorTape, dProjected, projectorGrads);
    }
    return result.loss;
  };
  // Attention over a packed sequence costs T² per head, so a step is several micro-batches
  // of ≤ microTokens tokens whose gradients add up (the loss is their mean).
  const microTokens = Math.min(tokensPerStep, options.microTokens ?? 512);
  while (step < options.totalSteps && Date.now() < deadline && !options.stopRequested?.()) {
    // Let signal handlers (Ctrl-C) run between steps.
    await new Promise((resolve) => setImmediate(resolve));
    optimizer.zeroGrad();
    let tokens = 0;
    let micro = 0;
    let stepSamples = 0;
    let loss = 0;
    while (tokens < tokensPerStep) {
      const next = nextMicroBatch(Math.min(microTokens, Math.max(1, tokensPerStep - tokens)));
      loss += microStep(next.batch);
      tokens += next.tokens;
      stepSamples += next.batch.length;
      micro++;
    }
    loss /= micro;
    if (micro > 1) for (const p of params) for (let i = 0; i < p.grad.length; i++) p.grad[i] /= micro;
    const gradNorm = clipGradients(params, 1);
    optimizer.lr = rewarmedLearningRate(step, options.totalSteps, peak, warmup, rewarmFrom);
    optimizer.step();
    step++;
    const smooth = smoothed.add(loss);
    const seconds = (Date.now() - started) / 1000;
    const rate = (nextSample - samplesAtStart) / seconds;
    if (step % 10 === 0 || step === options.totalSteps) {
      const stepsPerSecond = (step - stepsAtStart) / seconds;
      const left = Math.min((options.totalSteps - step) / stepsPerSecond, (deadline - Date.now()) / 1000);
      progressLine(options.quiet ?? false, `[stage 2] step ${step}/${options.totalSteps}  loss ${smooth.toFixed(3)}  decisions ${(decisionRight / Math.max(1, decisionCount)).toFixed(2)}  letters ${letterCount > 0 ? (letterRight / letterCount).toFixed(2) : '-'}  ${stepSamples} samples/${tokens} tokens  ${rate.toFixed(1)} samples/s  left ${formatDuration(left)}`);
      options.log.record({ stage: 2, step, samples: nextSample, loss, decisionLoss: decisionLoss / Math.max(1, decisionCount), decisionAccuracy: decisionRight / Math.max(1, decisionCount), letterAccuracy: letterCount > 0 ? letterRight / letterCount : null, letterCount, smoothedLoss: smooth, gradNorm, lr: optimizer.lr, samplesPerSecond: rate, tokens });
    }
    if (step % 10 === 0) { decisionLoss = 0; decisionRight = 0; decisionCount = 0; letterRight = 0; letterCount = 0; }
    if (step % (options.checkpointEvery ?? 50) === 0) save();
    if (options.evaluate && options.evalEvery && step % options.evalEvery === 0) {
      const metrics = options.evaluate(step);
      options.log.record({ stage: 2, step, samples: nextSample, heldOut: metrics });
    }
  }
  save();
  return { step, samples: nextSample - (carried ? 1 : 0), done: step >= options.totalSteps };
}
