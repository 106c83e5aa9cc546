/**
 * From a name and a few photos to a trained concept, the whole Yo'LLaVA pipeline:
 * negatives from a pool (hard ones by image similarity through a persistent index, easy ones
 * at random), attribute conversations written by the base model, the training data, then
 * training. Each stage reports progress; an AbortSignal stops any of them.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeImage } from '../models/image/decodeImage.ts';
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import type { Concept } from './Concept.ts';
import { buildConceptData, checkConceptName, type ConceptData, type ConversationPair, type RecognitionAnswerStyle } from './conceptData.ts';
import { ConceptDataError } from './ConceptDataError.ts';
import { generateConversations } from './conversations.ts';
import { describeSubjectFromPhotos } from './describeSubject.ts';
import { visionTowerEmbedder, type ImageEmbedder } from './imageEmbedder.ts';
import { easyNegatives, hardNegatives, ImageIndex, type UpdateProgress } from './ImageIndex.ts';
import type { SubjectKind } from './recognitionTemplates.ts';
import { assertTrainablePromptFormat } from './conceptPrompts.ts';
import { PAPER_EPOCHS, trainConcept, type TrainConceptOptions, type TrainProgress } from './trainConcept.ts';

export type CreateConceptProgress =
  | { readonly stage: 'index'; readonly progress: UpdateProgress }
  | { readonly stage: 'negatives'; readonly hard: number; readonly easy: number; readonly heldOut: number }
  | { readonly stage: 'conversations'; readonly done: number; readonly total: number }
  | { readonly stage: 'description'; readonly description: string }
  | { readonly stage: 'training'; readonly progress: TrainProgress };

export interface CreateConceptOptions {
  readonly name: string;
  readonly photos: readonly string[];
  /** A folder of other images to draw negatives from; none: train on the photos and conversations only. */
  readonly negativePool?: string;
  /** Where the pool's index lives (default: $YOLLAVA_HOME/indexes/<hash of the pool and embedder>.sqlite). */
  readonly indexFile?: string;
  /** The embedder of the index (default: the base model's own vision tower, pooled). */
  readonly embedder?: ImageEmbedder;
  /** Hard negatives per photo (default: 100 in all, as the paper's n × m ≈ 100–130, at most half of a small pool). */
  readonly hardPerPhoto?: number;
  /** Random negatives (default 100). */
  readonly easyCount?: number;
  /**
   * Random pool images kept out of training to set the Yes/No boundary on (default 150); 0: none.
   */
  readonly heldOutCount?: number;
  /** Ask the base model about the photos for text-only training (default true). */
  readonly conversations?: boolean;
  readonly subjectKind?: SubjectKind;
  /** Extra conversation Q/A written by hand. */
  readonly extraConversations?: readonly ConversationPair[];
  readonly questionsPerPositive?: number;
  readonly maxPositives?: number;
  /** Recognition answers "Yes"/"No" (default 'short') or the paper's sentences ('sentence'). */
  readonly answerStyle?: RecognitionAnswerStyle;
  /**
   * Start the latent tokens from a description of the subject: true (default) asks the base
   * model to describe the photos (describedPhotos); a string is used as it is; false: random
   * start (the paper's).
   */
  readonly description?: boolean | string;
  /**
   * How many of the photos the base model describes for that start, as one description decoded
   * jointly over them (describeSubjectFromPhotos). Default DEFAULT_DESCRIBED_PHOTOS (5). One
   * photo's description can name the wrong thing, and a concept started from it may never
   * recover (pebo on c8: 0.486, started from 5 photos 0.970); on the world benchmark's 40
   * subjects 5 photos name the right kind of thing more often (docs/results.md, sessions 16–19).
   */
  readonly describedPhotos?: number;
  readonly seed?: number;
  readonly training?: Omit<TrainConceptOptions, 'onProgress' | 'signal' | 'seed'>;
  readonly onProgress?: (progress: CreateConceptProgress) => void;
  readonly signal?: AbortSignal;
}

/**
 * The paper's recipe, as the options where it differs from ours: latent tokens started at random,
 * its sentence answers, every sample weighted the same, flips only, up to 15 epochs.
 */
export const PAPER_RECIPE = {
  answerStyle: 'sentence',
  description: false,
  training: { negativeWeight: 1, hardNegativeWeight: 1, cropProbability: 0, targetFalsePositiveRate: null, epochs: PAPER_EPOCHS },
} as const satisfies Pick<CreateConceptOptions, 'answerStyle' | 'description' | 'training'>;

export function defaultIndexFile(pool: string, embedder: ImageEmbedder): string {
  const hash = createHash('sha256').update(resolve(pool)).update('\0').update(embedder.id).digest('hex').slice(0, 16);
  const dir = join(process.env.YOLLAVA_HOME ?? join(homedir(), '.yollava'), 'indexes');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${hash}.sqlite`);
}

/** Builds the training data (negatives, conversations) without training. */
export async function prepareConceptData(vlm: VisionLanguageModel, options: CreateConceptOptions): Promise<ConceptData> {
  checkConceptName(options.name);
  assertTrainablePromptFormat(vlm); // before the index and the conversations, not after them
  const seed = options.seed ?? 0;
  if (options.photos.length === 0) throw new ConceptDataError(`concept ${options.name}: no photos given`);
  const positives = options.photos.slice(0, options.maxPositives ?? 5).map((p) => resolve(p));
  for (const photo of positives) await decodeImage(photo); // an unreadable photo fails here, with its path
  let hard: string[] = [];
  let easy: string[] = [];
  let heldOut: string[] = [];
  if (options.negativePool) {
    const embedder = options.embedder ?? visionTowerEmbedder(vlm);
    const index = ImageIndex.open(options.indexFile ?? defaultIndexFile(options.negativePool, embedder), embedder);
    try {
      await index.update(options.negativePool, { signal: options.signal, onProgress: (progress) => options.onProgress?.({ stage: 'index', progress }) });
      const embeddings = await Promise.all(positives.map(async (photo) => embedder.embed(await decodeImage(photo))));
      // In a small pool the hard negatives take at most half of it, so that random (easy) ones remain.
      const candidates = index.size - positives.filter((p) => index.has(p)).length;
      const perPhoto = options.hardPerPhoto ?? Math.max(1, Math.min(Math.ceil(100 / positives.length), Math.floor(candidates / 2 / positives.length)));
      hard = hardNegatives(index, embeddings, { perPositive: perPhoto, exclude: positives });
      easy = easyNegatives(index, options.easyCount ?? 100, { seed, exclude: [...positives, ...hard] });
      heldOut = heldOutNegatives(index, { count: options.heldOutCount ?? DEFAULT_HELD_OUT_COUNT, seed, exclude: [...positives, ...hard, ...easy] });
    } finally {
      index.close();
    }
    options.onProgress?.({ stage: 'negatives', hard: hard.length, easy: easy.length, heldOut: heldOut.length });
  }
  let conversations: ConversationPair[] = [...(options.extraConversations ?? [])];
  if (options.conversations ?? true) {
    conversations = conversations.concat(await generateConversations(vlm, positives, {
      subjectKind: options.subjectKind ?? 'subject', identifier: `<${options.name}>`, signal: options.signal,
      onProgress: ({ done, total }) => options.onProgress?.({ stage: 'conversations', done, total }),
    }));
  }
  let description: string | undefined;
  if (typeof options.description === 'string') description = options.description;
  else if (options.description ?? true) {
    description = await describeSubjectFromPhotos(vlm, positives.slice(0, options.describedPhotos ?? DEFAULT_DESCRIBED_PHOTOS), { subjectKind: options.subjectKind, signal: options.signal });
    options.onProgress?.({ stage: 'description', description });
  }
  return buildConceptData({
    name: options.name, positives, hardNegatives: hard, easyNegatives: easy, conversations, seed,
    questionsPerPositive: options.questionsPerPositive, maxPositives: options.maxPositives,
    answerStyle: options.answerStyle, description, heldOutNegatives: heldOut,
  });
}

/** How many photos createConcept has the base model describe for the latent tokens' start. */
export const DEFAULT_DESCRIBED_PHOTOS = 5;

export const DEFAULT_HELD_OUT_COUNT = 150;

/**
 * Negatives for setting a concept's Yes/No boundary: random pool images, none of them trained on.
 * (Look-alikes are left out: the concept accepts many of the ones ranked right after the hard
 * negatives — 16 % against ~3 % of other subjects' photos — so a boundary set on them is too strict.)
 */
export function heldOutNegatives(index: ImageIndex, options: { count: number; seed: number; exclude: readonly string[] }): string[] {
  if (!Number.isInteger(options.count) || options.count < 0) throw new RangeError(`the held-out negative count must be a non-negative integer, got ${options.count}`);
  // index.sample returns fewer (none) when the pool runs out, where easyNegatives would refuse.
  return index.sample(options.count, options.seed + 1, { exclude: options.exclude });
}

/** The whole pipeline; returns the concept (best epoch) and the data it was trained on. */
export async function createConcept(vlm: VisionLanguageModel, options: CreateConceptOptions): Promise<{ concept: Concept; data: ConceptData; interrupted: boolean }> {
  const data = await prepareConceptData(vlm, options);
  const result = await trainConcept(vlm, data, {
    ...options.training, seed: options.seed, signal: options.signal,
    onProgress: (progress) => options.onProgress?.({ stage: 'training', progress }),
  });
  return { concept: result.concept, data, interrupted: result.interrupted };
}
