/**
 * `npm run pretrain -- [options]`: pretrains yollava's base model, yollava-world, from a seed.
 *
 *   --seed N           everything (tokenizer text, weights, pictures, samples) follows it (default 1)
 *   --stage S          all (default) | tokenizer | 1 | 2 | eval | written
 *                      written: gives the model in --out a tower that also writes its reading as
 *                      words (writtenTokenHead.ts; heads fitted on --written-pictures pictures),
 *                      in place; stage 2 then continues it (warm start) through 16 + 11 image tokens
 *   --out DIR          the model folder (default models/yollava-world)
 *   --cache DIR        checkpoints (default .yollava-cache/pretrain), git-ignored
 *   --minutes M        budget per stage for this sitting (default: stage 1 30, stage 2 150)
 *   --no-resume        start the stages over instead of continuing their checkpoints
 *   --size base|tiny   tiny: a very small shape for tests (default base)
 *   --stage1-steps N / --stage2-steps N   schedule lengths (default 2400 / 5000)
 *   --stage1-lr LR     stage 1's peak learning rate (default 5e-3)
 *   --tokens-per-step N  packed tokens per stage-2 step (default 4096, ~58 samples)
 *   --stage2-lr LR     stage 2's peak learning rate (default 1e-3; 5e-4 to continue a trained decoder)
 *   --prompt-loss W    stage 2 also learns to predict the prompt's tokens, weight W per sample (default 0)
 *   --language-from DIR  a fresh stage 2 starts its projector and decoder from DIR's weights (a model
 *                      folder with the same shapes and tokenizer), the tower from stage 1: keeps
 *                      what a trained decoder knows when the tower is retrained
 *   --eval             measure the model in --out after training (or alone with --stage eval)
 *   --eval-items N     items per measurement (default 200)
 *   --recognition-focus-from F  share of the stage-2 schedule after which recognition dominates (default 0.6)
 *   --mix task=w,…     stage-2 task weights instead of STAGE2_MIX (others 0), e.g. description_text=1,kind_text=0.2
 *   --recognition-negatives one=w,two=w,same=w,other=w  kinds of recognition negatives (default 0.5/0.3/0.1/0.1):
 *                      one- or two-attribute look-alikes, another of the same kind, another kind
 *   --recognition-forms world|paper  recognition's other half of questions: the corpus's 10 forms
 *                      with sentence answers (default), or the paper's 33 questions answered Yes/No
 *   --phases "mix@STEP;mix@STEP;mix"  a curriculum: each --mix-style task list for the steps before
 *                      its @STEP, the last to the end (instead of --mix and the recognition focus)
 *   --look-alike-weights kind.attribute=w,…  how often a look-alike changes each attribute (others 1),
 *                      e.g. person.hairStyle=4: more recognition negatives that differ there
 *   --no-yes-no-options  yes/no checks only in words, never as two options "Yes" / "No" (the corpus before session 10)
 *   --yes-no-options-text-only  that form only in questions without a picture (from a description)
 *   --decoder-layers N  decoder depth (default 4, or what the stage-2 checkpoint has); a model
 *                      folder (warm start, --language-from) with fewer layers gets new ones on top
 *                      that start as the identity (growDecoder.ts)
 *   --layer-lr-scale L:S  decoder layers from L on learn at S times the stage-2 rate (layers just
 *                      grown start at zero and move slowly at a rate tuned for trained ones)
 *   --workers N        stage 2 on N worker processes sharing each step's micro-batches (default 1);
 *                      the same sums as one process, faster where there are cores to spare
 *   --quiet            no progress lines
 *
 * Stages resume from their last checkpoint, so a run can span several sittings: run the same
 * command again. Stage 2 writes the model folder (config.json, model.safetensors, tokenizer
 * files, preprocessor_config.json, training-summary.json) at the end of every sitting.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getKernels } from '../engine/backend.ts';
import { ConvVisionTower } from '../models/convVisionTower.ts';
import type { LlavaModel } from '../models/llava.ts';
import type { LlavaConfig } from '../models/config.ts';
import { loadLlava } from '../models/loadLlava.ts';
import { createRandomLlava } from '../models/randomLlava.ts';
import { saveLlava } from '../models/saveLlava.ts';
import { Tokenizer } from '../models/Tokenizer.ts';
import { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import { BaseModelScorer, evaluateBaseModel, scoreBaseModel, type BaseModelMetrics } from './evaluate.ts';
import { progressLine, TrainingLog } from './progress.ts';
import { trainTowerStage, type AttributeAccuracy } from './stage1Tower.ts';
import type { WrittenTokensConfig } from '../models/writtenTokens.ts';
import { fitAttributeHeads, fitWrittenTable, withWrittenTokens, writtenHeadFromAttributeHeads } from './writtenTokenHead.ts';
import { trainInstructStage, type Stage2Options, type Stage2Phase } from './stage2Instruct.ts';
import { findCheckpoint, loadTowerWeights, writeTowerOnlyCheckpoint } from './trainingState.ts';
import { growDecoder } from './growDecoder.ts';
import { bpeVocabSize } from './trainBpeTokenizer.ts';
import type { CorpusTask } from '../world/index.ts';
import { parseLookAlikeWeights, parseMix, parsePhases, parseRecognitionNegatives, type RecognitionNegatives } from './weightSpecs.ts';

export { parseLookAlikeWeights, parseMix, parsePhases, parseRecognitionNegatives };
import { worldModelConfig, worldPreprocessorConfig, type WorldModelSize } from './worldModelConfig.ts';
import { trainWorldTokenizer, writeTokenizerFiles } from './worldTokenizer.ts';

export const DEFAULT_VOCAB_SIZE = 1536;

/**
 * Stage 2's task mix before the recognition focus: answering from a description and simple
 * questions about the picture first. A PyTorch reference of the decoder's shape needed ~130k
 * description samples to answer from a description at 0.8 (bench/peer/text_decisions_reference.py),
 * and recognition against look-alikes needs both skills, so it gets a small share until
 * `recognitionFocusFrom` of the schedule.
 */
export const STAGE2_MIX = {
  caption: 0.05, attribute: 0.15, existence: 0.12, counting: 0.03, position: 0.04, mcq: 0.12,
  conversation: 0.04, recognition: 0.1, description_text: 0.25, description_image: 0.06, kind_text: 0.04,
} as const;

export interface PretrainOptions {
  readonly seed: number;
  readonly stage: 'all' | 'tokenizer' | '1' | '2' | 'eval' | 'written';
  /** Pictures the written tokens' heads are fitted on (default 12,000). */
  readonly writtenPictures?: number;
  readonly out: string;
  readonly cache: string;
  readonly minutes: number | null;
  readonly resume: boolean;
  readonly size: WorldModelSize;
  readonly stage1Steps: number;
  readonly stage2Steps: number;
  readonly tokensPerStep: number;
  readonly eval: boolean;
  readonly evalItems: number;
  readonly quiet: boolean;
  /** Checked between steps: true ends the sitting as its time budget would (checkpoint, model folder). */
  readonly stopRequested?: () => boolean;
  /** Stage 1's peak learning rate (default 5e-3). */
  readonly stage1Lr?: number;
  /** Stage 2's peak learning rate (default 1e-3). */
  readonly stage2Lr?: number;
  /** Weight per sample of a language-model loss on the prompt's tokens in stage 2 (default 0). */
  readonly promptLoss?: number;
  /** A model folder whose projector and decoder a fresh stage 2 starts from (the tower comes from stage 1). */
  readonly languageFrom?: string;
  /** Stage-1 batch (default 64) and vocabulary (default 1536), for tests. */
  readonly stage1Batch?: number;
  readonly vocabSize?: number;
  readonly evalEvery?: number;
  /** Share of the stage-2 schedule after which recognition dominates the mix (default 0.6). */
  readonly recognitionFocusFrom?: number;
  /** Stage-2 task weights instead of STAGE2_MIX (tasks not named get 0), e.g. a text-only phase. */
  readonly mix?: Partial<Record<CorpusTask, number>>;
  /** Weights of the kinds of recognition negatives (corpus default 0.5 / 0.3 / 0.1 / 0.1), e.g. an easier curriculum. */
  readonly recognitionNegatives?: RecognitionNegatives;
  readonly recognitionForms?: 'world' | 'paper';
  readonly lookAlikeWeights?: Readonly<Record<string, number>>;
  /** A stage-2 curriculum (`--phases`): each phase's mix until its step; replaces mix and the recognition focus. */
  readonly phases?: readonly Stage2Phase[];
  /** false: yes/no checks only in words, never as two options "Yes" / "No" (the corpus before session 10); 'text': that form only without a picture. Default true. */
  readonly yesNoOptions?: boolean | 'text';
  /** Stage-2 worker processes (default 1: all in this process; stage2Workers.ts). */
  readonly workers?: number;
  /** Decoder depth (default: the stage-2 checkpoint's, else the size's 4); a shallower folder is grown. */
  readonly decoderLayers?: number;
  /** Decoder layers from `fromLayer` on learn at `scale` times the stage-2 rate. */
  readonly layerLrScale?: { readonly fromLayer: number; readonly scale: number };
}

export interface PretrainReport {
  readonly stage1: { step: number; done: boolean; accuracy: AttributeAccuracy | null } | null;
  readonly stage2: { step: number; samples: number; done: boolean } | null;
  readonly metrics: BaseModelMetrics | null;
}

function tokenizerReady(dir: string): boolean {
  return existsSync(join(dir, 'tokenizer.json')) && existsSync(join(dir, 'tokenizer_config.json'));
}

/** Sets the tower's weights to those in the stage-1 checkpoint. */
function loadTowerFromCheckpoint(tower: ConvVisionTower, checkpointDir: string): void {
  const found = findCheckpoint(checkpointDir);
  if (!found) throw new Error(`no stage-1 checkpoint in ${checkpointDir}: run stage 1 first (npm run pretrain -- --stage 1)`);
  loadTowerWeights(tower, found.dir);
}

/** Where the committed model folder's training stopped, when it can be continued from. */
function warmStart(options: PretrainOptions): { step: number; nextSample: number; stage1: Record<string, unknown> } | null {
  const file = join(options.out, 'training-summary.json');
  if (!existsSync(file) || !existsSync(join(options.out, 'model.safetensors'))) return null;
  const summary = JSON.parse(readFileSync(file, 'utf8')) as { seed?: number; size?: string; stage1?: Record<string, unknown>; stage2?: { step?: number; samples?: number } };
  if (summary.seed !== options.seed || summary.size !== options.size || !summary.stage1 || !summary.stage2?.step) return null;
  return { step: summary.stage2.step, nextSample: summary.stage2.samples ?? 0, stage1: summary.stage1 };
}

/**
 * A model folder's weights as the start of a fresh stage 2 (its tower is replaced by stage 1's
 * after): refused unless its tokenizer is the one in `out` and its shapes are `config`'s.
 */
function loadLanguageSide(dir: string, out: string, config: LlavaConfig): LlavaModel {
  const tokenizerFile = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerFile)) throw new Error(`--language-from ${dir}: no tokenizer.json there`);
  if (readFileSync(tokenizerFile, 'utf8') !== readFileSync(join(out, 'tokenizer.json'), 'utf8')) {
    throw new Error(`--language-from ${dir}: its tokenizer.json differs from ${join(out, 'tokenizer.json')}; the decoder's rows would mean other tokens`);
  }
  const { model } = loadLlava(dir, { dtype: 'float32' });
  const mismatch = (['hiddenSize', 'intermediateSize', 'numHeads', 'numKvHeads', 'vocabSize'] as const).find((k) => model.decoder.config[k] !== config.text[k]);
  if (mismatch) throw new Error(`--language-from ${dir}: its decoder's ${mismatch} is ${model.decoder.config[mismatch]}, this model's ${config.text[mismatch]}`);
  // Fewer layers are grown after (growDecoder); more would be cut, which nothing here does.
  if (model.decoder.config.numLayers > config.text.numLayers) throw new Error(`--language-from ${dir}: its decoder has ${model.decoder.config.numLayers} layers, more than this run's ${config.text.numLayers} (--decoder-layers)`);
  const sorted = (o: object) => JSON.stringify(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  if (sorted(model.config.vision) !== sorted(config.vision)) throw new Error(`--language-from ${dir}: its vision tower has another shape than this model's`);
  return model;
}

/**
 * The decoder depth of this run: --decoder-layers, else what a stage-2 checkpoint to resume was
 * trained with (so a grown model resumes grown), else the size's default. A checkpoint of
 * another depth than the flag's is refused: its tensors would not match.
 */
function decoderLayersFor(options: PretrainOptions, stage2Dir: string): number | undefined {
  const found = options.resume ? findCheckpoint(stage2Dir) : null;
  const saved = found?.state.decoderLayers;
  const checkpointLayers = typeof saved === 'number' ? saved : undefined;
  if (options.decoderLayers !== undefined && checkpointLayers !== undefined && options.decoderLayers !== checkpointLayers) {
    throw new Error(`--decoder-layers ${options.decoderLayers}: the stage-2 checkpoint in ${found!.dir} has ${checkpointLayers} decoder layers (start over with --no-resume or another --cache)`);
  }
  return options.decoderLayers ?? checkpointLayers;
}

function readSummary(dir: string): Record<string, unknown> | null {
  const file = join(dir, 'training-summary.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> : null;
}

function exportModel(model: LlavaModel, options: PretrainOptions, summary: Record<string, unknown>): void {
  mkdirSync(options.out, { recursive: true });
  saveLlava(model, options.out, { yollava_world_seed: String(options.seed) });
  writeFileSync(join(options.out, 'preprocessor_config.json'), JSON.stringify(worldPreprocessorConfig(), null, 2) + '\n');
  writeFileSync(join(options.out, 'training-summary.json'), JSON.stringify(summary, null, 2) + '\n');
}

export async function pretrain(options: PretrainOptions): Promise<PretrainReport> {
  const quiet = options.quiet;
  const log = new TrainingLog(join(options.out, 'pretrain-log.jsonl'));
  const seedCache = join(options.cache, `${options.size}-seed-${options.seed}`);
  mkdirSync(seedCache, { recursive: true });
  mkdirSync(options.out, { recursive: true });
  const report: { stage1: PretrainReport['stage1']; stage2: PretrainReport['stage2']; metrics: BaseModelMetrics | null } = { stage1: null, stage2: null, metrics: null };
  const runs = (stage: '1' | '2' | 'tokenizer') => options.stage === 'all' || options.stage === stage;

  if (options.stage === 'eval') {
    report.metrics = await evaluateFolder(options, log);
    return report;
  }
  if (options.stage === 'written') {
    await addWrittenTokens(options, log);
    return report;
  }
  // Tokenizer (seconds): trained once, kept in the model folder.
  if (!tokenizerReady(options.out) || (!options.resume && runs('tokenizer'))) {
    const started = Date.now();
    const bpe = trainWorldTokenizer({ vocabSize: options.vocabSize ?? DEFAULT_VOCAB_SIZE, seed: options.seed, corpusSamples: options.size === 'tiny' ? 1500 : 6000 });
    writeTokenizerFiles(bpe, options.out);
    progressLine(quiet, `[tokenizer] ${bpeVocabSize(bpe)} tokens (${bpe.merges.length} merges) in ${((Date.now() - started) / 1000).toFixed(1)} s → ${options.out}`);
    log.record({ stage: 'tokenizer', vocabSize: bpeVocabSize(bpe), merges: bpe.merges.length, imageTokenId: bpe.imageTokenId });
  }
  if (options.stage === 'tokenizer') return report;
  const tokenizer = await Tokenizer.fromDirectory(options.out);
  const imageTokenId = tokenizer.tokenToId('<image>');
  if (imageTokenId === undefined) throw new Error(`${options.out}/tokenizer.json has no <image> token`);
  const stage1Dir = join(seedCache, 'stage1');
  const stage2Dir = join(seedCache, 'stage2');
  const baseConfig = worldModelConfig(options.size, tokenizer.vocabSize, imageTokenId, decoderLayersFor(options, stage2Dir));
  // A tower given written tokens (--stage written) keeps them in its stage-1 checkpoint.
  const writtenTokens = findCheckpoint(stage1Dir)?.state.writtenTokens as WrittenTokensConfig | undefined;
  const config: LlavaConfig = writtenTokens ? { ...baseConfig, vision: { ...baseConfig.vision, writtenTokens } as LlavaConfig['vision'] } : baseConfig;
  // A fresh clone has the committed model folder but not the git-ignored checkpoints: continue
  // from the folder's weights (fresh optimizer moments) at the steps its summary records.
  const warm = options.resume && !options.languageFrom && !findCheckpoint(stage1Dir) && !findCheckpoint(stage2Dir) ? warmStart(options) : null;
  const languageFrom = options.languageFrom && !(options.resume && findCheckpoint(stage2Dir)) ? options.languageFrom : null;
  let model = warm
    ? loadLlava(options.out, { dtype: 'float32' }).model
    : languageFrom
      ? loadLanguageSide(languageFrom, options.out, config)
      : createRandomLlava(config, { seed: options.seed, std: 0.02 });
  if (languageFrom) progressLine(quiet, `[pretrain] projector and decoder from ${languageFrom}; the tower from stage 1`);
  const trainedLayers = model.decoder.weights.layers.length;
  if (warm && options.decoderLayers !== undefined && trainedLayers > options.decoderLayers) {
    throw new Error(`--decoder-layers ${options.decoderLayers}: the model in ${options.out} already has ${trainedLayers} decoder layers`);
  }
  if ((warm || languageFrom) && trainedLayers < config.text.numLayers) {
    model = growDecoder(model, config.text.numLayers, { seed: options.seed + 7919 });
    progressLine(quiet, `[pretrain] decoder grown from ${trainedLayers} to ${config.text.numLayers} layers (the new ones on top, starting as the identity)`);
  }
  const tower = model.visionTower as ConvVisionTower;
  if (warm) {
    progressLine(quiet, `[pretrain] no checkpoints in ${seedCache}: continuing from the weights in ${options.out} (stage 2 step ${warm.step}, sample ${warm.nextSample}; optimizer moments start over)`);
    // The folder's tower becomes the stage-1 checkpoint (weights only: the attribute heads are not
    // shipped), so later sittings resume normally and stage 1 itself can go on from it.
    writeTowerOnlyCheckpoint(tower, stage1Dir, warm.stage1);
  }

  if (runs('1') && (!warm || options.stage === '1')) {
    const result = await trainTowerStage(tower, {
      seed: options.seed, checkpointDir: stage1Dir, resume: options.resume, totalSteps: options.stage1Steps,
      minutes: options.minutes ?? 30, stopRequested: options.stopRequested, batchSize: options.stage1Batch, lr: options.stage1Lr, log, quiet,
      evalImages: options.size === 'tiny' ? 50 : 500,
    });
    report.stage1 = result;
    if (!result.done) {
      progressLine(quiet, `[stage 1] stopped at step ${result.step}/${options.stage1Steps} (${options.stopRequested?.() ? 'interrupted' : 'time budget'}); run the same command again to continue`);
      return report;
    }
  }
  if (runs('2')) {
    loadTowerFromCheckpoint(tower, stage1Dir);
    const stage1State = findCheckpoint(stage1Dir)!.state;
    if ((stage1State.step as number) < (stage1State.totalSteps as number)) progressLine(quiet, `[stage 2] note: stage 1 stopped at step ${stage1State.step}/${stage1State.totalSteps}`);
    let scorer = new BaseModelScorer(model, tokenizer);
    // Only a departure from the corpus default is passed on and recorded in the summary.
    const recognition = options.recognitionNegatives || options.recognitionForms || options.lookAlikeWeights
      ? { recognition: { negatives: options.recognitionNegatives, forms: options.recognitionForms, lookAlikeWeights: options.lookAlikeWeights } }
      : {};
    const minutes = options.minutes ?? 150;
    const stage2Started = Date.now();
    const yesNoOptions = options.yesNoOptions === false || options.yesNoOptions === 'text' ? { yesNoOptions: options.yesNoOptions } : {};
    const stage2Options: Stage2Options = {
      seed: options.seed, checkpointDir: stage2Dir, resume: options.resume, totalSteps: options.stage2Steps,
      minutes, stopRequested: options.stopRequested, tokensPerStep: options.tokensPerStep, log, quiet,
      lr: options.stage2Lr, promptLoss: options.promptLoss, layerLrScale: options.layerLrScale,
      evalEvery: options.evalEvery ?? 500,
      evaluate: (step) => quickMetrics(scorer, options.seed, step, quiet),
      start: warm ?? undefined,
      workers: options.workers, tokenizerDir: options.out,
      corpus: {
        mix: options.mix ?? STAGE2_MIX,
        ...recognition,
        ...yesNoOptions,
      },
      recognitionFocusFrom: options.recognitionFocusFrom ?? 0.6,
      ...(options.phases ? { phases: options.phases } : {}),
    };
    // `written` in --phases: the sitting stops where the tower gets written tokens, and goes on through them.
    const writtenAt = options.phases?.find((phase) => phase.thenWrittenTokens)?.untilStep;
    let writtenRecord: Record<string, unknown> | null = null;
    let result = await trainInstructStage(model, tokenizer, { ...stage2Options, ...(writtenAt !== undefined && !tower.written ? { stopAtStep: writtenAt } : {}) });
    if (writtenAt !== undefined && !tower.written && result.step >= writtenAt && !options.stopRequested?.()) {
      ({ model, record: writtenRecord } = giveWrittenTokens(model, tokenizer, options, log, result.step));
      scorer = new BaseModelScorer(model, tokenizer);
      progressLine(quiet, `[stage 2] step ${result.step}: the tower now writes ${(model.visionTower as ConvVisionTower).written!.count} tokens; going on`);
      const minutesLeft = Math.max(0, minutes - (Date.now() - stage2Started) / 60_000);
      result = await trainInstructStage(model, tokenizer, { ...stage2Options, minutes: minutesLeft, resume: true });
    }
    report.stage2 = result;
    const previous = readSummary(options.out) ?? {};
    exportModel(model, options, {
      ...previous,
      ...(writtenRecord ? { writtenTokens: writtenRecord } : {}),
      model: 'yollava-world',
      seed: options.seed,
      size: options.size,
      parameters: parameterCount(model),
      vocabSize: tokenizer.vocabSize,
      imageTokens: model.imageTokenCount,
      stage1: stage1State,
      stage2: {
        step: result.step, totalSteps: options.stage2Steps, samples: result.samples, done: result.done, tokensPerStep: options.tokensPerStep,
        lr: options.stage2Lr ?? 1e-3, promptLoss: options.promptLoss ?? 0,
        ...(options.phases ? { phases: options.phases } : { mix: options.mix ?? STAGE2_MIX }),
        ...(options.layerLrScale ? { layerLrScale: options.layerLrScale } : {}),
        ...yesNoOptions,
        ...recognition,
      },
      // Where this projector and decoder came from, when not from random (kept by later sittings).
      ...(languageFrom ? { languageFrom: { folder: languageFrom, trainingSummary: readSummary(languageFrom) } } : {}),
      updated: new Date().toISOString(),
      kernels: getKernels().name,
    });
    progressLine(quiet, `[stage 2] step ${result.step}/${options.stage2Steps}, ${result.samples} samples; model written to ${options.out}${result.done ? '' : ' (run the same command again to continue)'}`);
  }
  // An interrupted sitting skips the measurement: the user asked to stop.
  if (options.eval && !options.stopRequested?.()) report.metrics = await evaluateFolder(options, log);
  return report;
}

function parameterCount(model: LlavaModel): number {
  const tower = model.visionTower as ConvVisionTower;
  const d = model.decoder.weights;
  const p = model.projector.weights;
  const linear = (l: { weight: { rows: number; cols: number }; bias: Float32Array | null }) => l.weight.rows * l.weight.cols + (l.bias?.length ?? 0);
  let n = tower.parameterCount + linear(p.linear1) + linear(p.linear2) + d.embedTokens.rows * d.embedTokens.cols + d.norm.length;
  if (d.lmHead !== d.embedTokens) n += d.lmHead.rows * d.lmHead.cols;
  for (const l of d.layers) n += l.inputNorm.length + l.postNorm.length + [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].reduce((s, x) => s + linear(x), 0);
  return n;
}

/** A fast look during training (40 items each, no captions). */
function quickMetrics(scorer: BaseModelScorer, seed: number, step: number, quiet: boolean): Record<string, unknown> {
  const m = scoreBaseModel(scorer, { seed: seed + 1000, items: 40 });
  progressLine(quiet, `[stage 2] step ${step} held-out (40 items): mcq ${m.mcq.toFixed(2)}  recognition ${m.recognition.weighted.toFixed(2)} (pos ${m.recognition.positive.toFixed(2)}, neg ${m.recognition.negative.toFixed(2)}; other kind ${m.recognition.negativeOtherKind.toFixed(2)})  text ${m.textQa.toFixed(2)}  text yes/no ${m.textQaYesNo.toFixed(2)}  unknown-name ${m.unknownName.weighted.toFixed(2)}  in words ${m.recognitionInWords.weighted.toFixed(2)} (AUC ${m.recognitionInWords.aucLookAlike.toFixed(2)})`);
  return { ...m };
}

/** --stage written: the model folder's tower gets written tokens (heads and table fitted, the rest unchanged). */
async function addWrittenTokens(options: PretrainOptions, log: TrainingLog): Promise<void> {
  const { model } = loadLlava(options.out, { dtype: 'float32' });
  const tower = model.visionTower;
  if (!(tower instanceof ConvVisionTower)) throw new Error(`${options.out}: written tokens need the conv vision tower`);
  if (tower.written) throw new Error(`${options.out}: its tower already writes tokens`);
  const tokenizer = await Tokenizer.fromDirectory(options.out);
  const { model: written, record } = giveWrittenTokens(model, tokenizer, options, log);
  const summary = readSummary(options.out) ?? {};
  exportModel(written, options, { ...summary, imageTokens: written.imageTokenCount, writtenTokens: record, updated: new Date().toISOString() });
  progressLine(options.quiet, `[written tokens] ${options.out}: ${written.imageTokenCount} image tokens (${tower.mapTokens} map + ${written.imageTokenCount - tower.mapTokens} written)`);
}

/**
 * The model with a tower that also writes tokens: heads fitted on the frozen tower, the table on
 * the current decoder's word embeddings through the current projector. The stage-1 checkpoint
 * of this seed, when there is one, then holds that tower, so later sittings build and load it.
 */
function giveWrittenTokens(model: LlavaModel, tokenizer: Tokenizer, options: PretrainOptions, log: TrainingLog, atStep?: number): { model: LlavaModel; record: Record<string, unknown> } {
  const started = Date.now();
  const tower = model.visionTower as ConvVisionTower;
  const pictures = options.writtenPictures ?? 12_000;
  const { heads, accuracy } = fitAttributeHeads(tower, pictures, (line) => progressLine(options.quiet, line));
  progressLine(options.quiet, `[written tokens] heads on ${pictures} pictures: held-out kind ${accuracy.kind.toFixed(3)}, attributes ${accuracy.meanAttribute.toFixed(3)}`);
  const head = writtenHeadFromAttributeHeads(heads);
  const rows = head.bias.length;
  const fit = fitWrittenTable(model, tokenizer);
  progressLine(options.quiet, `[written tokens] table of ${rows} words: projector(row) vs the word's embedding, cosine ${fit.cosine.toFixed(3)}, relative error ${fit.relativeError.toFixed(3)}`);
  const written = withWrittenTokens(model, { head: { weight: { dtype: 'f32', rows, cols: tower.config.hiddenSize, data: head.weight }, bias: head.bias }, table: fit.table });
  const stage1Dir = join(options.cache, `${options.size}-seed-${options.seed}`, 'stage1');
  const stage1 = findCheckpoint(stage1Dir);
  if (stage1) writeTowerOnlyCheckpoint(written.visionTower as ConvVisionTower, stage1Dir, stage1.state);
  const record = { pictures, heads: accuracy, tableCosine: fit.cosine, tableRelativeError: fit.relativeError, imageTokens: written.imageTokenCount, ...(atStep === undefined ? {} : { atStep }), seconds: (Date.now() - started) / 1000 };
  log.record({ stage: 'written', ...record });
  return { model: written, record };
}

/** Loads the model folder through the normal loader and measures it; writes metrics.json. */
async function evaluateFolder(options: PretrainOptions, log: TrainingLog): Promise<BaseModelMetrics> {
  const started = Date.now();
  const vlm = await VisionLanguageModel.load(options.out);
  const scorer = new BaseModelScorer(vlm.model, vlm.tokenizer);
  const metrics = await evaluateBaseModel(scorer, { seed: options.seed + 2000, items: options.evalItems, captions: Math.min(40, options.evalItems) });
  const summary = readSummary(options.out) ?? {};
  const record = { ...metrics, evaluatedAt: new Date().toISOString(), seconds: (Date.now() - started) / 1000, trainedSteps: summary.stage2 ?? null };
  writeFileSync(join(options.out, 'metrics.json'), JSON.stringify(record, null, 2) + '\n');
  log.record({ stage: 'eval', metrics: record });
  progressLine(options.quiet, `[eval] mcq ${metrics.mcq.toFixed(3)}  recognition weighted ${metrics.recognition.weighted.toFixed(3)} (pos ${metrics.recognition.positive.toFixed(3)}, neg ${metrics.recognition.negative.toFixed(3)}; other-kind neg ${metrics.recognition.negativeOtherKind.toFixed(3)}; AUC look-alikes ${metrics.recognition.aucLookAlike.toFixed(3)}, other kinds ${metrics.recognition.aucOtherKind.toFixed(3)})  text QA ${metrics.textQa.toFixed(3)}  text yes/no ${metrics.textQaYesNo.toFixed(3)}  captions subject ${metrics.captions.subjectMention.toFixed(3)} attributes ${metrics.captions.attributeMention.toFixed(3)}  unknown-name ${metrics.unknownName.weighted.toFixed(3)}  recognition in words ${metrics.recognitionInWords.weighted.toFixed(3)} (AUC look-alikes ${metrics.recognitionInWords.aucLookAlike.toFixed(3)})  → ${join(options.out, 'metrics.json')}`);
  return metrics;
}

export function parsePretrainArgs(argv: readonly string[]): PretrainOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      seed: { type: 'string', default: '1' },
      stage: { type: 'string', default: 'all' },
      out: { type: 'string', default: 'models/yollava-world' },
      cache: { type: 'string', default: '.yollava-cache/pretrain' },
      minutes: { type: 'string' },
      resume: { type: 'boolean', default: true },
      'no-resume': { type: 'boolean', default: false },
      size: { type: 'string', default: 'base' },
      'stage1-steps': { type: 'string', default: '2400' },
      'stage2-steps': { type: 'string', default: '5000' },
      'stage1-lr': { type: 'string' },
      'stage2-lr': { type: 'string' },
      'prompt-loss': { type: 'string' },
      'language-from': { type: 'string' },
      'tokens-per-step': { type: 'string', default: '4096' },
      eval: { type: 'boolean', default: false },
      'eval-items': { type: 'string', default: '200' },
      'recognition-focus-from': { type: 'string' },
      mix: { type: 'string' },
      'recognition-negatives': { type: 'string' },
      'recognition-forms': { type: 'string' },
      'look-alike-weights': { type: 'string' },
      phases: { type: 'string' },
      'no-yes-no-options': { type: 'boolean', default: false },
      'yes-no-options-text-only': { type: 'boolean', default: false },
      workers: { type: 'string', default: '1' },
      'decoder-layers': { type: 'string' },
      'layer-lr-scale': { type: 'string' },
      'written-pictures': { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values['no-yes-no-options'] && values['yes-no-options-text-only']) throw new Error('--no-yes-no-options and --yes-no-options-text-only exclude each other');
  if (values.phases !== undefined && values.mix !== undefined) throw new Error('--phases and --mix exclude each other: each phase has its own mix');
  if (values.phases !== undefined && values['recognition-focus-from'] !== undefined) throw new Error('--phases and --recognition-focus-from exclude each other: the phases say when recognition comes');
  const stage = values.stage as PretrainOptions['stage'];
  if (!['all', 'tokenizer', '1', '2', 'eval', 'written'].includes(stage)) throw new Error(`--stage must be all, tokenizer, 1, 2, eval or written; got ${stage}`);
  const size = values.size as WorldModelSize;
  if (size !== 'base' && size !== 'tiny') throw new Error(`--size must be base or tiny; got ${size}`);
  const nonNegative = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number; got ${v}`);
    return n;
  };
  return {
    seed: nonNegative('seed', values.seed),
    stage,
    out: values.out!,
    cache: values.cache!,
    minutes: values.minutes === undefined ? null : nonNegative('minutes', values.minutes),
    resume: values.resume! && !values['no-resume'],
    size,
    stage1Steps: nonNegative('stage1-steps', values['stage1-steps']),
    stage2Steps: nonNegative('stage2-steps', values['stage2-steps']),
    ...(values['stage1-lr'] === undefined ? {} : { stage1Lr: nonNegative('stage1-lr', values['stage1-lr']) }),
    ...(values['stage2-lr'] === undefined ? {} : { stage2Lr: nonNegative('stage2-lr', values['stage2-lr']) }),
    ...(values['prompt-loss'] === undefined ? {} : { promptLoss: nonNegative('prompt-loss', values['prompt-loss']) }),
    ...(values['language-from'] === undefined ? {} : { languageFrom: values['language-from'] }),
    tokensPerStep: nonNegative('tokens-per-step', values['tokens-per-step']),
    eval: values.eval!,
    evalItems: nonNegative('eval-items', values['eval-items']),
    ...(values['recognition-focus-from'] === undefined ? {} : { recognitionFocusFrom: nonNegative('recognition-focus-from', values['recognition-focus-from']) }),
    mix: values.mix === undefined ? undefined : parseMix(values.mix),
    recognitionNegatives: values['recognition-negatives'] === undefined ? undefined : parseRecognitionNegatives(values['recognition-negatives']),
    ...(values['recognition-forms'] === undefined ? {} : { recognitionForms: parseRecognitionForms(values['recognition-forms']) }),
    ...(values['look-alike-weights'] === undefined ? {} : { lookAlikeWeights: parseLookAlikeWeights(values['look-alike-weights']) }),
    ...(values.phases === undefined ? {} : { phases: parsePhases(values.phases) }),
    ...(values['no-yes-no-options'] ? { yesNoOptions: false } : values['yes-no-options-text-only'] ? { yesNoOptions: 'text' as const } : {}),
    workers: positiveInteger('workers', values.workers!),
    ...(values['decoder-layers'] === undefined ? {} : { decoderLayers: positiveInteger('decoder-layers', values['decoder-layers']) }),
    ...(values['layer-lr-scale'] === undefined ? {} : { layerLrScale: parseLayerLrScale(values['layer-lr-scale']) }),
    ...(values['written-pictures'] === undefined ? {} : { writtenPictures: nonNegative('written-pictures', values['written-pictures']) }),
    quiet: values.quiet!,
  };
}

function parseRecognitionForms(value: string): 'world' | 'paper' {
  if (value === 'world' || value === 'paper') return value;
  throw new Error(`--recognition-forms must be world or paper; got ${value}`);
}

function parseLayerLrScale(value: string): { fromLayer: number; scale: number } {
  const m = /^(\d+):([0-9.eE+-]+)$/.exec(value);
  const scale = m ? Number(m[2]) : NaN;
  if (!m || !Number.isFinite(scale) || scale <= 0) throw new Error(`--layer-lr-scale must be LAYER:SCALE, e.g. 4:10 (layers from 4 on at 10 times the rate); got ${value}`);
  return { fromLayer: Number(m[1]), scale };
}

function positiveInteger(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`--${name} must be an integer from 1 to 64; got ${value}`);
  return n;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  // Ctrl-C (or SIGTERM) ends the sitting after the current step, with a checkpoint and, in stage 2,
  // the model folder written; a second one quits at once (the last checkpoint is then ≤ 100 steps old).
  let stop = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write(`\npretrain: ${signal}: stopping after this step (again to quit now)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await pretrain({ ...parsePretrainArgs(process.argv.slice(2)), stopRequested: () => stop });
  } catch (error) {
    process.stderr.write(`pretrain: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
