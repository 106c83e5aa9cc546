/**
 * Writes the benchmark set on demand, in the public Yo'LLaVA dataset's layout, so that the
 * evaluation reads it exactly as it reads the real one:
 *
 *   <dir>/yollava-data/train/<subject>/<i>.png     10 photos of each subject
 *   <dir>/yollava-data/test/<subject>/<i>.png      5–10 new photos (some with others, some occluded)
 *   <dir>/yollava-data/pool/<i>.png                ≥ 5,000 other images (easy and hard negatives)
 *   <dir>/yollava-data/yollava-visual-qa.json      {subject: {image_path: {question, options, correct_answer}}}
 *   <dir>/yollava-data/yollava-text-qa.json        {subject: [{question, options, correct_answer}]}
 *   <dir>/yollava-data/world.json                  each subject's ground truth (kind, attributes, description)
 *   <dir>/yollava-data/scenes.json                 every image's scene description (pool look-alikes marked)
 *
 * Image paths in the JSON files are written as the public file writes them:
 * "./yollava-data/test/<subject>/<i>.png". The whole folder is built under a temporary name and
 * renamed into place at the end, so a reader never sees a half-written or mixed set.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  attributeAnswer,
  attributeCheckQuestion,
  attributeQuestion,
  attributeValueAnswer,
  distractorValues,
  subjectRef,
} from './attributeQuestions.ts';
import { SUBJECT_PLACEHOLDER } from './buildInstructionCorpus.ts';
import { composeScene } from './composeScene.ts';
import { createWorldSplit, type BenchmarkSubject, type WorldSplit } from './createWorldSplit.ts';
import { describeIndividual, typeNoun } from './describeIndividual.ts';
import { encodePng } from './encodePng.ts';
import { attributeDistance, randomIndividual, randomLookAlike, sameIndividual } from './individuals.ts';
import { KIND_SCHEMAS, KINDS, type Individual } from './kindSchemas.ts';
import { IMAGE_SIZE, renderScene, type SceneDescription, type SceneSpec } from './renderScene.ts';
import { Rng } from './Rng.ts';

export const BENCHMARK_FOLDER = 'yollava-data';

/**
 * The version of how the world draws, stored in world.json: a benchmark written by another
 * version holds other pictures for the same seed (2: object shapes by proportion, new toppers).
 */
export const WORLD_VERSION = 2;

/** True when `dir` holds a benchmark written by this version of the world generator. */
export function benchmarkIsCurrent(dir: string): boolean {
  const file = join(dir, BENCHMARK_FOLDER, 'world.json');
  if (!existsSync(file)) return false;
  try {
    const world = JSON.parse(readFileSync(file, 'utf8')) as { generator?: unknown; worldVersion?: unknown };
    return world.generator === 'yollava world' && world.worldVersion === WORLD_VERSION;
  } catch {
    return false;
  }
}

export interface BenchmarkProgress {
  readonly phase: 'train' | 'test' | 'pool' | 'json';
  /** Items finished in this phase, and the phase's total. */
  readonly done: number;
  readonly total: number;
}

export interface WriteBenchmarkOptions {
  /** Chooses the 40 subjects (different seeds, different subjects) and every picture. */
  seed: number;
  /** Training photos per subject. Default 10. */
  trainPhotos?: number;
  /** Inclusive range of test photos per subject. Default [5, 10]. */
  testPhotos?: readonly [number, number];
  /** Images in the negative pool. Default 5000. */
  poolSize?: number;
  /** Two-option visual questions per subject (each on its own test photo). Default 5. */
  visualQuestions?: number;
  /** Two-option text-only questions per subject. Default 10. */
  textQuestions?: number;
  /** Called after every 100 images and at the end of each phase. */
  onProgress?: (progress: BenchmarkProgress) => void;
  signal?: AbortSignal;
}

export interface BenchmarkSummary {
  /** The dataset folder (<dir>/yollava-data). */
  readonly root: string;
  readonly seed: number;
  readonly subjects: number;
  readonly trainImages: number;
  readonly testImages: number;
  readonly poolImages: number;
  readonly visualQuestions: number;
  readonly textQuestions: number;
  readonly seconds: number;
}

export interface QaEntry {
  readonly question: string;
  readonly options: { readonly A: string; readonly B: string };
  readonly correct_answer: 'A' | 'B';
}

/** Scene ground truth as stored in scenes.json. */
interface StoredScene {
  background: string;
  lighting: string;
  entities: Array<{
    kind: string;
    attributes: Readonly<Record<string, string>>;
    bbox: readonly number[];
    position: string;
    mirrored: boolean;
    pose: string;
    occlusion: number;
    /** The benchmark subject this individual is (distance 0) or resembles (1–2 attributes). */
    subject?: string;
    distance?: number;
  }>;
}

export async function writeBenchmark(dir: string, options: WriteBenchmarkOptions): Promise<BenchmarkSummary> {
  const started = performance.now();
  const trainCount = options.trainPhotos ?? 10;
  const [testMin, testMax] = options.testPhotos ?? [5, 10];
  const poolSize = options.poolSize ?? 5000;
  const visualCount = options.visualQuestions ?? 5;
  const textCount = options.textQuestions ?? 10;
  if (visualCount > testMin) throw new Error(`visualQuestions (${visualCount}) needs at least as many test photos (min ${testMin})`);

  const split = createWorldSplit(options.seed);
  const rng = Rng.from('benchmark', options.seed);
  mkdirSync(dir, { recursive: true });
  const finalRoot = join(dir, BENCHMARK_FOLDER);
  const staging = join(dir, `.${BENCHMARK_FOLDER}.tmp-${process.pid}-${rng.nextUint32().toString(16)}`);
  rmSync(staging, { recursive: true, force: true });

  const scenes: Record<string, StoredScene> = {};
  const publicPath = (relative: string): string => `./${BENCHMARK_FOLDER}/${relative}`;
  let sinceYield = 0;
  const writeImage = async (relative: string, spec: SceneSpec): Promise<SceneDescription> => {
    options.signal?.throwIfAborted();
    const rendered = renderScene(spec);
    writeFileSync(join(staging, relative), encodePng(rendered.pixels, IMAGE_SIZE, IMAGE_SIZE));
    scenes[publicPath(relative)] = storeScene(rendered.description, split);
    // Let progress callbacks, timers and abort signals run now and then.
    if (++sinceYield >= 200) {
      sinceYield = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return rendered.description;
  };

  try {
    const subjects = split.subjects;
    const world: Record<string, unknown> = {};
    const visualQa: Record<string, Record<string, QaEntry>> = {};
    const textQa: Record<string, QaEntry[]> = {};
    let trainImages = 0;
    let testImages = 0;

    // Training photos: the subject, mostly alone, in varied scenes.
    for (const [k, subject] of subjects.entries()) {
      mkdirSync(join(staging, 'train', subject.name), { recursive: true });
      const train: string[] = [];
      for (let i = 0; i < trainCount; i++) {
        const others = rng.chance(0.1) ? [companion(rng, subject, split)] : [];
        const spec = composeScene(rng, rng.shuffled([subject.individual, ...others]), { occlusionChance: 0.1, occlusionRange: [0.05, 0.2] });
        const relative = `train/${subject.name}/${i}.png`;
        await writeImage(relative, spec);
        train.push(publicPath(relative));
        trainImages++;
      }
      world[subject.name] = { train };
      if ((k + 1) % 10 === 0 || k === subjects.length - 1) options.onProgress?.({ phase: 'train', done: k + 1, total: subjects.length });
    }

    // Test photos: new scenes; some with other individuals, some with the subject partly hidden.
    for (const [k, subject] of subjects.entries()) {
      mkdirSync(join(staging, 'test', subject.name), { recursive: true });
      const count = testMin + rng.int(testMax - testMin + 1);
      const plans = rng.shuffled(Array.from({ length: count }, (_, i) => (i === 0 ? 'with-others' : i === 1 ? 'occluded' : rng.pick(['alone', 'alone', 'with-others', 'occluded']))));
      const test: string[] = [];
      const descriptions: SceneDescription[] = [];
      for (let i = 0; i < count; i++) {
        const plan = plans[i];
        const others = plan === 'with-others' ? [companion(rng, subject, split)] : [];
        const individuals = rng.shuffled([subject.individual, ...others]);
        const spec = composeScene(rng, individuals, {
          occlusionChance: 0,
          occlude: plan === 'occluded' ? individuals.indexOf(subject.individual) : undefined,
          occlusionRange: [0.1, 0.4],
        });
        const relative = `test/${subject.name}/${i}.png`;
        descriptions.push(await writeImage(relative, spec));
        test.push(publicPath(relative));
        testImages++;
      }
      visualQa[subject.name] = visualQuestions(rng, subject, test, descriptions, visualCount);
      textQa[subject.name] = textQuestions(rng, subject.individual, textCount);
      world[subject.name] = {
        kind: subject.individual.kind,
        type: typeNoun(subject.individual),
        attributes: subject.individual.attributes,
        description: describeIndividual(subject.individual),
        ...(world[subject.name] as object),
        test,
      };
      if ((k + 1) % 10 === 0 || k === subjects.length - 1) options.onProgress?.({ phase: 'test', done: k + 1, total: subjects.length });
    }

    // The pool: many kinds, plenty of one- and two-attribute look-alikes of the subjects.
    mkdirSync(join(staging, 'pool'), { recursive: true });
    for (let i = 0; i < poolSize; i++) {
      await writeImage(`pool/${i}.png`, composeScene(rng, poolIndividuals(rng, split)));
      if ((i + 1) % 100 === 0 || i === poolSize - 1) options.onProgress?.({ phase: 'pool', done: i + 1, total: poolSize });
    }

    options.onProgress?.({ phase: 'json', done: 0, total: 4 });
    const json = (name: string, value: unknown): void => writeFileSync(join(staging, name), `${JSON.stringify(value, null, 1)}\n`);
    json('yollava-visual-qa.json', visualQa);
    json('yollava-text-qa.json', textQa);
    json('world.json', {
      generator: 'yollava world',
      worldVersion: WORLD_VERSION,
      seed: options.seed,
      imageSize: [IMAGE_SIZE, IMAGE_SIZE],
      counts: { subjects: subjects.length, train: trainImages, test: testImages, pool: poolSize },
      subjects: world,
    });
    writeFileSync(join(staging, 'scenes.json'), `${JSON.stringify(scenes)}\n`);
    options.onProgress?.({ phase: 'json', done: 4, total: 4 });

    // Swap the finished folder into place.
    if (existsSync(finalRoot)) {
      const old = `${staging}.old`;
      renameSync(finalRoot, old);
      renameSync(staging, finalRoot);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(staging, finalRoot);
    }
    const countQuestions = (qa: Record<string, object>): number =>
      Object.values(qa).reduce((n, v) => n + (Array.isArray(v) ? v.length : Object.keys(v).length), 0);
    return {
      root: finalRoot,
      seed: options.seed,
      subjects: subjects.length,
      trainImages,
      testImages,
      poolImages: poolSize,
      visualQuestions: countQuestions(visualQa),
      textQuestions: countQuestions(textQa),
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

/** Another individual for a subject's photo: never a benchmark subject; often a look-alike. */
function companion(rng: Rng, subject: BenchmarkSubject, split: WorldSplit): Individual {
  for (;;) {
    const candidate = rng.chance(0.5)
      ? randomLookAlike(rng, subject.individual, 1 + rng.int(2))
      : randomIndividual(rng, rng.pick(KINDS));
    if (!split.subjects.some((s) => sameIndividual(s.individual, candidate))) return candidate;
  }
}

/** Individuals of one pool image: 40% hold a look-alike of a subject; none is a subject. */
function poolIndividuals(rng: Rng, split: WorldSplit): Individual[] {
  const isSubject = (ind: Individual): boolean => split.subjects.some((s) => sameIndividual(s.individual, ind));
  const draw = (make: () => Individual): Individual => {
    for (;;) {
      const ind = make();
      if (!isSubject(ind)) return ind;
    }
  };
  const out: Individual[] = [];
  const roll = rng.next();
  if (roll < 0.4) {
    const subject = rng.pick(split.subjects);
    out.push(draw(() => randomLookAlike(rng, subject.individual, rng.chance(0.6) ? 1 : 2)));
    if (rng.chance(0.3)) out.push(draw(() => randomIndividual(rng, rng.pick(KINDS))));
  } else {
    const n = roll < 0.75 ? 1 : 2 + (rng.chance(0.3) ? 1 : 0);
    for (let i = 0; i < n; i++) out.push(draw(() => randomIndividual(rng, rng.pick(KINDS))));
  }
  return rng.shuffled(out);
}

function storeScene(d: SceneDescription, split: WorldSplit): StoredScene {
  return {
    background: d.background,
    lighting: d.lighting,
    entities: d.entities.map((e) => {
      const ind: Individual = { kind: e.kind, attributes: e.attributes };
      let nearest: { subject: string; distance: number } | null = null;
      for (const s of split.subjects) {
        const distance = attributeDistance(s.individual, ind);
        if (distance <= 2 && (!nearest || distance < nearest.distance)) nearest = { subject: s.name, distance };
      }
      return {
        kind: e.kind,
        attributes: e.attributes,
        bbox: e.bbox,
        position: e.position,
        mirrored: e.mirrored,
        pose: e.pose,
        occlusion: Math.round(e.occlusion * 1000) / 1000,
        ...(nearest ?? {}),
      };
    }),
  };
}

function entry(rng: Rng, question: string, correct: string, wrong: string, correctLetter?: 'A' | 'B'): QaEntry {
  const letter = correctLetter ?? (rng.chance(0.5) ? 'A' : 'B');
  return {
    question,
    options: letter === 'A' ? { A: correct, B: wrong } : { A: wrong, B: correct },
    correct_answer: letter,
  };
}

/** Attributes with a two-option distractor, in a random order. */
function questionableAttributes(rng: Rng, ind: Individual): string[] {
  return rng.shuffled(KIND_SCHEMAS[ind.kind].map((a) => a.name).filter((a) => distractorValues(ind, a).length > 0));
}

/** One two-option question per chosen test photo, about intrinsic attributes, letters balanced. */
function visualQuestions(
  rng: Rng,
  subject: BenchmarkSubject,
  paths: readonly string[],
  descriptions: readonly SceneDescription[],
  count: number,
): Record<string, QaEntry> {
  const ind = subject.individual;
  const ref = subjectRef(SUBJECT_PLACEHOLDER);
  // Prefer photos where the subject is in full view (its attributes can be seen).
  const order = paths
    .map((path, i) => ({ path, hidden: descriptions[i].entities.find((e) => sameIndividual({ kind: e.kind, attributes: e.attributes }, ind))?.occlusion ?? 1 }))
    .sort((a, b) => a.hidden - b.hidden || paths.indexOf(a.path) - paths.indexOf(b.path))
    .slice(0, count);
  const attributes = questionableAttributes(rng, ind);
  const firstLetter = rng.chance(0.5) ? 0 : 1;
  const out: Record<string, QaEntry> = {};
  order.forEach(({ path }, i) => {
    const attribute = attributes[i % attributes.length];
    const wrong = attributeValueAnswer(ind, attribute, rng.pick(distractorValues(ind, attribute)));
    out[path] = entry(rng, attributeQuestion(ref, ind, attribute), attributeAnswer(ind, attribute), wrong, (i + firstLetter) % 2 ? 'B' : 'A');
  });
  return out;
}

/** Text-only two-option questions: open attribute questions, then Yes/No checks (~30%). */
function textQuestions(rng: Rng, ind: Individual, count: number): QaEntry[] {
  const ref = subjectRef(SUBJECT_PLACEHOLDER);
  const attributes = questionableAttributes(rng, ind);
  const firstLetter = rng.chance(0.5) ? 0 : 1;
  const out: QaEntry[] = [];
  const asked = new Set<string>();
  const letter = (): 'A' | 'B' => ((out.length + firstLetter) % 2 ? 'B' : 'A');
  const push = (e: QaEntry): void => {
    if (asked.has(e.question)) return;
    asked.add(e.question);
    out.push(e);
  };
  for (const attribute of attributes.slice(0, Math.min(attributes.length, count - Math.round(count * 0.3)))) {
    const wrong = attributeValueAnswer(ind, attribute, rng.pick(distractorValues(ind, attribute)));
    push(entry(rng, attributeQuestion(ref, ind, attribute), attributeAnswer(ind, attribute), wrong, letter()));
  }
  for (let j = 0; out.length < count && j < attributes.length * 6; j++) {
    const attribute = attributes[j % attributes.length];
    const truthful = rng.chance(0.5);
    const value = truthful ? ind.attributes[attribute] : rng.pick(distractorValues(ind, attribute));
    const question = attributeCheckQuestion(ref, ind, attribute, value);
    if (question) push(entry(rng, question, truthful ? 'Yes' : 'No', truthful ? 'No' : 'Yes', letter()));
  }
  return out;
}
