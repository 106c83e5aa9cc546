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
import { AdamW, type Parameter } from '../engine/adamw.ts';
import { writeSafetensors } from '../engine/safetensors.ts';
import type { LlavaModel } from '../models/llava.ts';
import type { Tokenizer } from '../models/Tokenizer.ts';
import type { CorpusOptions, CorpusTask } from '../world/index.ts';
import { addTally, DEFAULT_MICRO_TOKENS, emptyTally, InstructMicroStep, MicroBatchPacker, type EncodedCorpusSample } from './instructMicroStep.ts';
import { formatDuration, progressLine, secondsLeft, Smoothed, type TrainingLog } from './progress.ts';
import { Stage2WorkerPool } from './stage2Workers.ts';
import {
  clippedScheduledStep,
  findCheckpoint,
  optimizerTensors,
  restoreOptimizer,
  savedRewarmFrom,
  writeCheckpoint,
  type StageSittingOptions,
} from './trainingState.ts';

export interface Stage2Options extends StageSittingOptions {
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
  /**
   * A curriculum instead: the task mix of each phase, used for the steps before its `untilStep`
   * (the last phase to the end). Replaces `corpus.mix` and the recognition focus.
   */
  readonly phases?: readonly Stage2Phase[];
  readonly log: TrainingLog;
  readonly quiet?: boolean;
  /** Called every `evalEvery` steps (and at the end) to measure and log held-out metrics. */
  readonly evaluate?: (step: number) => Record<string, unknown>;
  readonly evalEvery?: number;
  /** Decoder layers from `fromLayer` on learn at `scale` times the rate (layers added by growDecoder). */
  readonly layerLrScale?: { readonly fromLayer: number; readonly scale: number };
  /** Where to begin when there is no checkpoint (a warm start from saved weights). */
  readonly start?: { readonly step: number; readonly nextSample: number };
  /**
   * Worker processes that share each step's micro-batches (stage2Workers.ts; default 1: all in
   * this process). Needs `tokenizerDir`, where the workers read the tokenizer.
   */
  readonly workers?: number;
  readonly tokenizerDir?: string;
  /** End the sitting at this step (checkpointed, as at the time budget) even if the schedule goes on. */
  readonly stopAtStep?: number;
}

/** Recognition's weight in the late mix (the other tasks keep their default weights, which sum to 0.75). */
export const RECOGNITION_FOCUS_WEIGHT = 0.9;

export interface Stage2Result {
  readonly step: number;
  readonly samples: number;
  readonly done: boolean;
}

export async function trainInstructStage(model: LlavaModel, tokenizer: Tokenizer, options: Stage2Options): Promise<Stage2Result> {
  const tokensPerStep = options.tokensPerStep ?? 1024;
  const peak = options.lr ?? 1e-3;
  const micro = new InstructMicroStep(model, tokenizer, options.promptLoss ?? 0);
  const params = withLayerLrScale(micro.params, options.layerLrScale);
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
  // A pool's next step is gathered while the workers compute: those samples are not trained yet.
  let prepared: GatheredStep | null = null;
  // One sample that did not fit the previous step starts the next one (the packer carries it); it is not trained on yet either.
  const packer = new MicroBatchPacker<StreamItem>();
  const firstUntrained = () => prepared?.batches[0][0].index ?? packer.carried?.index ?? nextSample;
  const save = () => writeCheckpoint(options.checkpointDir, { stage: 2, step, nextSample: firstUntrained(), seed: options.seed, totalSteps: options.totalSteps, tokensPerStep, rewarmFrom, decoderLayers: model.decoder.weights.layers.length }, (dir) => {
    writeSafetensors(join(dir, 'optimizer.safetensors'), optimizerTensors(optimizer));
  });
  const corpus: StreamCorpus = { ...options.corpus, seed: options.seed };
  // The corpus of each phase; without a curriculum, the mix and then the recognition-focused mix.
  const focusFrom = Math.round((options.recognitionFocusFrom ?? 0.3) * options.totalSteps);
  const phases: readonly Stage2Phase[] = options.phases ?? [
    { mix: { ...options.corpus?.mix }, untilStep: focusFrom },
    { mix: { ...options.corpus?.mix, recognition: RECOGNITION_FOCUS_WEIGHT } },
  ];
  const corpora: StreamCorpus[] = phases.map((phase) => ({ ...corpus, mix: { ...phase.mix } }));
  const phaseAt = (forStep: number): number => {
    const i = phases.findIndex((phase) => forStep < (phase.untilStep ?? Infinity));
    return i < 0 ? phases.length - 1 : i;
  };
  const deadline = Date.now() + options.minutes * 60_000;
  const warmup = options.warmupSteps ?? Math.min(100, Math.ceil(options.totalSteps / 10));
  const smoothed = new Smoothed(0.95);
  /** The next samples up to `budget` tokens (at least one). */
  const nextMicroBatch = (budget: number, forStep: number): { batch: StreamItem[]; tokens: number } => {
    const phase = phaseAt(forStep);
    // A sample carried over a phase boundary is drawn again from the new phase's mix, as a sitting
    // that stopped at the boundary would draw it.
    const carried = packer.carried;
    if (carried && carried.phase !== phase) packer.carried = { ...micro.sample(corpora[phase], carried.index), index: carried.index, phase };
    return packer.take(budget, () => {
      const item = { ...micro.sample(corpora[phase], nextSample), index: nextSample, phase };
      nextSample++;
      return item;
    });
  };
  // Attention over a packed sequence costs T² per head, so a step is several micro-batches
  // of ≤ microTokens tokens whose gradients add up (the loss is their mean).
  const microTokens = Math.min(tokensPerStep, options.microTokens ?? DEFAULT_MICRO_TOKENS);
  const gatherStep = (forStep: number): GatheredStep => {
    const batches: StreamItem[][] = [];
    let tokens = 0;
    let samples = 0;
    while (tokens < tokensPerStep) {
      const next = nextMicroBatch(Math.min(microTokens, Math.max(1, tokensPerStep - tokens)), forStep);
      batches.push(next.batch);
      tokens += next.tokens;
      samples += next.batch.length;
    }
    return { batches, tokens, samples };
  };
  const workers = options.workers ?? 1;
  if (workers > 1 && !options.tokenizerDir) throw new Error('stage 2 on worker processes needs tokenizerDir');
  const pool = workers > 1
    ? await Stage2WorkerPool.start({ workers, model, tokenizerDir: options.tokenizerDir!, corpora, promptLoss: options.promptLoss ?? 0, params })
    : null;
  if (pool) progressLine(options.quiet ?? false, `[stage 2] ${pool.size} worker processes`);
  const started = Date.now();
  const samplesAtStart = nextSample;
  const stepsAtStart = step;
  try {
    const lastStep = Math.min(options.totalSteps, options.stopAtStep ?? Infinity);
    while (step < lastStep && Date.now() < deadline && !options.stopRequested?.()) {
      // Let signal handlers (Ctrl-C) run between steps.
      await new Promise((resolve) => setImmediate(resolve));
      const { batches, tokens, samples: stepSamples } = prepared ?? gatherStep(step);
      prepared = null;
      let loss = 0;
      if (pool) {
        const pending = pool.step(batches.map((batch) => batch.map(({ index, phase }) => ({ index, phase }))));
        // The next step's samples do not depend on the weights: gather them while the workers compute.
        if (step + 1 < options.totalSteps) prepared = gatherStep(step + 1);
        const result = await pending;
        loss = result.loss;
        addTally(micro.tally, result.tally);
      } else {
        optimizer.zeroGrad();
        for (const batch of batches) loss += micro.run(batch);
        // The pool's workers divide their slices themselves.
        if (batches.length > 1) for (const p of params) for (let i = 0; i < p.grad.length; i++) p.grad[i] /= batches.length;
      }
      loss /= batches.length;
      const gradNorm = clippedScheduledStep(params, optimizer, step, { totalSteps: options.totalSteps, peak, warmup, rewarmFrom });
      step++;
      const smooth = smoothed.add(loss);
      const seconds = (Date.now() - started) / 1000;
      const rate = (firstUntrained() - samplesAtStart) / seconds;
      const tally = micro.tally;
      if (step % 10 === 0 || step === options.totalSteps) {
        const left = secondsLeft(options.totalSteps - step, (step - stepsAtStart) / seconds, deadline);
        progressLine(options.quiet ?? false, `[stage 2] step ${step}/${options.totalSteps}  loss ${smooth.toFixed(3)}  decisions ${(tally.right / Math.max(1, tally.count)).toFixed(2)}  letters ${tally.letterCount > 0 ? (tally.letterRight / tally.letterCount).toFixed(2) : '-'}  ${stepSamples} samples/${tokens} tokens  ${rate.toFixed(1)} samples/s  left ${formatDuration(left)}`);
        options.log.record({ stage: 2, step, samples: firstUntrained(), loss, decisionLoss: tally.loss / Math.max(1, tally.count), decisionAccuracy: tally.right / Math.max(1, tally.count), letterAccuracy: tally.letterCount > 0 ? tally.letterRight / tally.letterCount : null, letterCount: tally.letterCount, smoothedLoss: smooth, gradNorm, lr: optimizer.lr, samplesPerSecond: rate, tokens, ...(pool ? { workers: pool.size } : {}), ...(options.phases ? { phase: phaseAt(step - 1) } : {}) });
      }
      if (step % 10 === 0) micro.tally = emptyTally();
      if (step % (options.checkpointEvery ?? 50) === 0) save();
      if (options.evaluate && options.evalEvery && step % options.evalEvery === 0) {
        const metrics = options.evaluate(step);
        options.log.record({ stage: 2, step, samples: firstUntrained(), heldOut: metrics });
      }
    }
  } finally {
    pool?.close();
  }
  save();
  return { step, samples: firstUntrained(), done: step >= options.totalSteps };
}

/** One phase of a stage-2 curriculum: its task mix, for the steps before `untilStep`. */
export interface Stage2Phase {
  readonly mix: Readonly<Partial<Record<CorpusTask, number>>>;
  /** Absent (or Infinity) for the last phase. */
  readonly untilStep?: number;
  /** At `untilStep` the tower gets written tokens (main.ts; `written` in --phases), before the next phase. */
  readonly thenWrittenTokens?: boolean;
}

interface GatheredStep {
  readonly batches: StreamItem[][];
  readonly tokens: number;
  readonly samples: number;
}

/** A corpus sample as the step sees it, with its place in the stream (what workers are sent). */
interface StreamItem extends EncodedCorpusSample {
  readonly index: number;
  readonly phase: number;
}

type StreamCorpus = Omit<CorpusOptions, 'count'>;

/** `params` with decoder layers from `fromLayer` on at `scale` times the rate (the same arrays). */
export function withLayerLrScale(params: readonly Parameter[], layerLrScale: Stage2Options['layerLrScale']): Parameter[] {
  if (!layerLrScale || layerLrScale.scale === 1) return [...params];
  return params.map((p) => {
    const layer = /^decoder\.layers\.(\d+)\./.exec(p.name);
    return layer && Number(layer[1]) >= layerLrScale.fromLayer ? { ...p, lrScale: layerLrScale.scale } : p;
  });
}
