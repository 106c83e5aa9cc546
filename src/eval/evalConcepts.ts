/**
 * The concepts an evaluation trains, one per subject and recipe, kept in the output folder
 * (`<out>/concepts/<recipe>-e<epochs>-s<seed>/`, a concept library) and reused by later runs:
 * training data is written before training starts and training keeps a checkpoint after every
 * epoch, so an interrupted run continues where it stopped.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import type { Concept } from '../personalize/Concept.ts';
import { ConceptLibrary } from '../personalize/ConceptLibrary.ts';
import type { ConceptData } from '../personalize/conceptData.ts';
import { loadConceptData, saveConceptData } from '../personalize/conceptDataFile.ts';
import { PAPER_RECIPE, prepareConceptData, type CreateConceptProgress } from '../personalize/createConcept.ts';
import { visionTowerEmbedder } from '../personalize/imageEmbedder.ts';
import { modelIdentity, sameModel } from '../personalize/modelIdentity.ts';
import { removeCheckpoint, trainConcept } from '../personalize/trainConcept.ts';
import { writeFileAtomic } from '../personalize/writeFileAtomic.ts';
import type { EvalSubject } from './dataset.ts';
import { recipeEpochs, recipeKey, type ConceptRecipe } from './methods.ts';

export interface ConceptSettings {
  readonly outDir: string;
  /** Training epochs; null: each recipe's own (recipeEpochs). */
  readonly epochs: number | null;
  readonly seed: number;
  /** Folder of other images for negatives; null: no negatives (noted in the report). */
  readonly negativePool: string | null;
}

export interface EvalConcept {
  readonly concept: Concept;
  readonly file: string;
  /** Training photos actually used (a subject may have fewer than the recipe's n). */
  readonly photos: number;
  readonly summary: ConceptData['summary'];
  /** Data preparation and training, when this concept was made (stored beside it). */
  readonly seconds: number;
  /** True when it came from an earlier run. */
  readonly reused: boolean;
}

/**
 * A fingerprint field bumped when the way a recipe's data is prepared or trained changes without a
 * change of the recipe itself (e.g. the question the description answers): its stored concepts
 * and results are then made again. Per style, so that a change to ours does not retrain the
 * paper's; none for the paper's version 1, so that fingerprints made before versions keep matching.
 */
export function pipelineField(recipe: ConceptRecipe): { pipeline?: number } {
  // 10: the description start reads 5 photos, not 1; 11: decoded jointly over them, not the most
  // agreed of their descriptions (a random start does not describe).
  return recipe.style === 'paper' ? {} : { pipeline: recipe.randomStart ? 9 : 11 };
}

export function conceptFolder(settings: ConceptSettings, recipe: ConceptRecipe): string {
  return join(settings.outDir, 'concepts', `${recipeKey(recipe)}-e${settings.epochs ?? recipeEpochs(recipe)}-s${settings.seed}`);
}

const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|avif)$/i;
const poolSizes = new Map<string, number>();

/** Images in a folder and its subfolders (counted once per run). */
function countImages(dir: string | null): number {
  if (!dir) return 0;
  let count = poolSizes.get(dir);
  if (count === undefined) {
    count = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && IMAGE_FILE.test(e.name)).length;
    poolSizes.set(dir, count);
  }
  return count;
}

interface Sidecar { seconds: number; photos: number; preparation: string }

/** What a subject's concept depends on: a stored concept, or prepared data, is used only while all of it is unchanged. */
function preparationKey(vlm: VisionLanguageModel, subject: EvalSubject, recipe: ConceptRecipe, settings: ConceptSettings): string {
  const identity = modelIdentity(vlm.model);
  const photos = subject.trainPhotos.slice(0, recipe.photos);
  return JSON.stringify({ model: [identity.configHash, identity.weightsHash], photos: photos.map((p) => resolve(p)), negatives: settings.negativePool, recipe, seed: settings.seed, ...pipelineField(recipe) });
}

function sidecarPath(library: ConceptLibrary, name: string): string {
  return join(library.dir, `${name}.eval.json`);
}

/** The sidecar of `name`'s stored concept when there is one made with `preparation`. */
function storedSidecar(library: ConceptLibrary, name: string, preparation: string): Sidecar | null {
  const file = sidecarPath(library, name);
  if (!library.has(name) || !existsSync(file)) return null;
  const sidecar = JSON.parse(readFileSync(file, 'utf8')) as Sidecar;
  return sidecar.preparation === preparation ? sidecar : null;
}

/** Whether the subject's concept for `recipe` is in the output folder, made for this model and this preparation. */
export function conceptIsStored(vlm: VisionLanguageModel, subject: EvalSubject, recipe: ConceptRecipe, settings: ConceptSettings): boolean {
  // The preparation names the model's identity, so a matching sidecar means a concept for this model.
  return storedSidecar(new ConceptLibrary(conceptFolder(settings, recipe)), subject.conceptName, preparationKey(vlm, subject, recipe, settings)) !== null;
}

/** The subject's concept for `recipe`: from the output folder when it is there for this model, else trained. */
export async function obtainConcept(
  vlm: VisionLanguageModel, subject: EvalSubject, recipe: ConceptRecipe, settings: ConceptSettings,
  options: { onProgress?: (progress: CreateConceptProgress) => void; signal?: AbortSignal } = {},
): Promise<EvalConcept> {
  const library = new ConceptLibrary(conceptFolder(settings, recipe));
  const name = subject.conceptName;
  const photos = subject.trainPhotos.slice(0, recipe.photos);
  const paper = recipe.style === 'paper';
  // Prepared data (the slow part: pool index, conversations) is reused by a resumed run too.
  const preparation = preparationKey(vlm, subject, recipe, settings);
  const sidecar = storedSidecar(library, name, preparation);
  if (sidecar) {
    const concept = library.load(name);
    if (sameModel(concept.info.baseModel, modelIdentity(vlm.model))) {
      return { concept, file: library.conceptFile(name), photos: sidecar.photos, summary: concept.info.data as unknown as ConceptData['summary'], seconds: sidecar.seconds, reused: true };
    }
  }
  const started = performance.now();
  let data: ConceptData;
  const dataFile = library.dataFile(name);
  const preparedFile = join(library.dir, `${name}.prepared.json`);
  const checkpointFile = library.trainingCheckpointFile(name);
  const prepared = existsSync(preparedFile) ? (JSON.parse(readFileSync(preparedFile, 'utf8')) as { preparation?: string }).preparation : undefined;
  if (prepared === preparation && existsSync(dataFile)) {
    data = loadConceptData(dataFile);
  } else {
    removeCheckpoint(checkpointFile); // trained on other data
    const pool = settings.negativePool;
    const hardPerPhoto = recipe.data === 'full' ? Math.ceil(100 / photos.length) : 0;
    const embedder = visionTowerEmbedder(vlm);
    const indexFile = pool ? join(settings.outDir, 'index', `${createHash('sha256').update(pool).update('\0').update(embedder.id).digest('hex').slice(0, 16)}.sqlite`) : undefined;
    if (pool) mkdirSync(join(settings.outDir, 'index'), { recursive: true });
    data = await prepareConceptData(vlm, {
      name, photos, maxPositives: recipe.photos, seed: settings.seed,
      negativePool: pool ?? undefined, indexFile, embedder,
      hardPerPhoto,
      // A small pool may hold fewer images than the hard negatives take: the rest are easy ones.
      easyCount: Math.min(100, Math.max(0, countImages(pool) - hardPerPhoto * photos.length)),
      heldOutCount: paper ? 0 : undefined, // the paper's recipe keeps the trained rows as they are
      conversations: recipe.data !== 'recognition',
      subjectKind: subject.kind === 'person' ? 'person' : 'subject',
      answerStyle: paper ? PAPER_RECIPE.answerStyle : 'short',
      description: paper ? PAPER_RECIPE.description : !recipe.randomStart,
      onProgress: options.onProgress, signal: options.signal,
    });
    saveConceptData(dataFile, data);
    writeFileAtomic(preparedFile, `${JSON.stringify({ preparation, preparedAt: new Date().toISOString() })}\n`);
  }
  const result = await trainConcept(vlm, data, {
    ...(paper ? PAPER_RECIPE.training : {}),
    latentCount: recipe.latentCount, epochs: settings.epochs ?? recipeEpochs(recipe), seed: settings.seed,
    // A model that described nothing leaves nothing to write: the concept is then ours as it is.
    ...(recipe.descriptionText && data.description ? { descriptionInPrompt: true } : {}),
    checkpointFile, resume: true, signal: options.signal,
    onProgress: (progress) => options.onProgress?.({ stage: 'training', progress }),
  });
  if (result.interrupted) {
    const error = new Error(`training <${name}> was interrupted (its checkpoint is kept; run again to continue)`);
    error.name = 'AbortError';
    throw error;
  }
  const file = library.save(result.concept, data);
  removeCheckpoint(checkpointFile);
  const seconds = (performance.now() - started) / 1000;
  writeFileAtomic(sidecarPath(library, name), `${JSON.stringify({ seconds, photos: photos.length, preparation } satisfies Sidecar)}\n`);
  return { concept: result.concept, file, photos: photos.length, summary: data.summary, seconds, reused: false };
}
