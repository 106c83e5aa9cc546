/**
 * Reads an evaluation set in the public Yo'LLaVA layout (also what src/world/writeBenchmark.ts
 * writes):
 *
 *   <dir>/yollava-data/train/<subject>/<i>.png    photos to learn each subject from
 *   <dir>/yollava-data/test/<subject>/<i>.png     new photos of each subject
 *   <dir>/yollava-data/yollava-visual-qa.json     {subject: {image_path: {question, options: {A, B}, correct_answer}}}
 *   <dir>/yollava-data/yollava-text-qa.json       {subject: [{question, options, correct_answer}]} (or keyed like the visual file)
 *   <dir>/yollava-data/world.json                 optional: per subject a human-style `description` and `kind`
 *   <dir>/yollava-data/pool/                      optional: other images, for hard and easy negatives
 *
 * `<dir>` may also be the yollava-data folder itself. Questions name their subject "<sks>".
 * Every problem is a DatasetError naming the file and what is wrong with it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import type { OptionLetter } from './parseAnswers.ts';

export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

export const SUBJECT_TOKEN = '<sks>';

export interface McqQuestion {
  readonly question: string;
  readonly options: { readonly A: string; readonly B: string };
  readonly correct: OptionLetter;
  /** The test photo the question is asked about (visual questions only). */
  readonly photo?: string;
}

export interface EvalSubject {
  /** The folder name. */
  readonly name: string;
  /** A valid concept name made from it (letters, digits, '_', '-'). */
  readonly conceptName: string;
  readonly trainPhotos: readonly string[];
  readonly testPhotos: readonly string[];
  readonly visualQa: readonly McqQuestion[];
  readonly textQa: readonly McqQuestion[];
  /** A short human-style description (world.json), or null. */
  readonly description: string | null;
  /** "person", "pet", … (world.json), or null. */
  readonly kind: string | null;
}

export interface EvalDataset {
  /** The folder holding train/ and test/. */
  readonly root: string;
  readonly subjects: readonly EvalSubject[];
  /** Folder of other images for negatives, or null. */
  readonly pool: string | null;
  readonly files: { readonly visualQa: string | null; readonly textQa: string | null; readonly world: string | null };
  /** Things ignored while reading (questions about unknown subjects, …). */
  readonly warnings: readonly string[];
}

const IMAGE_FILE = /\.(jpe?g|png|webp|gif|tiff?|avif)$/i;
const byNumber = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

function listImages(dir: string): string[] {
  return readdirSync(dir).filter((f) => IMAGE_FILE.test(f) && statSync(join(dir, f)).isFile()).sort(byNumber).map((f) => join(dir, f));
}

function subfolders(dir: string): string[] {
  return readdirSync(dir).filter((f) => !f.startsWith('.') && statSync(join(dir, f)).isDirectory()).sort(byNumber);
}

/** A concept name for a subject folder: invalid characters become '_'. */
export function conceptNameOf(subject: string): string {
  let name = subject.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 32) || 'subject';
  if (['image', 's', 'unk', 'pad', 'sks'].includes(name.toLowerCase())) name = `${name}_`;
  return name;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DatasetError(`${file}: cannot be read (${(error as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DatasetError(`${file}: not valid JSON (${(error as Error).message})`);
  }
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function parseQuestion(file: string, where: string, raw: unknown, photo?: string): McqQuestion {
  if (!isObject(raw)) throw new DatasetError(`${file}: ${where} is not an object with question, options and correct_answer`);
  const { question, options, correct_answer: correct } = raw;
  if (typeof question !== 'string' || !question.trim()) throw new DatasetError(`${file}: ${where} has no "question" text`);
  if (!isObject(options) || typeof options.A !== 'string' || typeof options.B !== 'string') throw new DatasetError(`${file}: ${where} needs "options": {"A": "…", "B": "…"}`);
  const letter = typeof correct === 'string' ? correct.trim().replace(/^\(|[).]$/g, '').toUpperCase() : '';
  if (letter !== 'A' && letter !== 'B') throw new DatasetError(`${file}: ${where} has "correct_answer" ${JSON.stringify(correct ?? null)}; expected "A" or "B"`);
  return { question, options: { A: options.A, B: options.B }, correct: letter, ...(photo ? { photo } : {}) };
}

/** An image path as the JSON files write it ("./yollava-data/test/bo/0.png"), resolved to a file. */
function resolvePhoto(root: string, subject: string, path: string): string | null {
  const candidates = isAbsolute(path) ? [path] : [join(dirname(root), path), join(root, path), join(root, 'test', subject, basename(path))];
  return candidates.find((p) => existsSync(p)) ?? null;
}

export function readEvalDataset(dir: string): EvalDataset {
  const given = resolve(dir);
  if (!existsSync(given)) throw new DatasetError(`${given}: no such folder`);
  const root = existsSync(join(given, 'yollava-data', 'test')) ? join(given, 'yollava-data') : given;
  const testDir = join(root, 'test');
  const trainDir = join(root, 'train');
  if (!existsSync(testDir) || !existsSync(trainDir)) {
    throw new DatasetError(`${given}: not an evaluation set (expected train/<subject>/ and test/<subject>/ folders, or a yollava-data folder holding them)`);
  }
  const warnings: string[] = [];
  const names = subfolders(testDir);
  if (names.length === 0) throw new DatasetError(`${testDir}: no subject folders`);
  const conceptNames = new Map<string, string>();
  for (const name of names) {
    const conceptName = conceptNameOf(name);
    const clash = [...conceptNames.entries()].find(([, c]) => c.toLowerCase() === conceptName.toLowerCase());
    if (clash) throw new DatasetError(`${testDir}: subjects "${clash[0]}" and "${name}" both become the concept name "${conceptName}"; rename one folder`);
    conceptNames.set(name, conceptName);
  }

  const world = join(root, 'world.json');
  const worldSubjects: Record<string, unknown> = {};
  if (existsSync(world)) {
    const json = readJson(world);
    if (!isObject(json) || (json.subjects !== undefined && !isObject(json.subjects))) throw new DatasetError(`${world}: expected {"subjects": {<subject>: {description, kind, …}}}`);
    Object.assign(worldSubjects, json.subjects ?? {});
  }

  const visualFile = join(root, 'yollava-visual-qa.json');
  const visual = new Map<string, McqQuestion[]>();
  if (existsSync(visualFile)) {
    const json = readJson(visualFile);
    if (!isObject(json)) throw new DatasetError(`${visualFile}: expected {<subject>: {<image path>: {question, options, correct_answer}}}`);
    for (const [subject, byImage] of Object.entries(json)) {
      if (!names.includes(subject)) { warnings.push(`${visualFile}: subject "${subject}" has no test/ folder; its questions are ignored`); continue; }
      if (!isObject(byImage)) throw new DatasetError(`${visualFile}: "${subject}" should map image paths to questions`);
      visual.set(subject, Object.entries(byImage).map(([path, raw]) => {
        const photo = resolvePhoto(root, subject, path);
        if (!photo) throw new DatasetError(`${visualFile}: "${subject}": image ${path} not found (looked beside ${root} and in ${join(testDir, subject)})`);
        return parseQuestion(visualFile, `"${subject}" / "${path}"`, raw, photo);
      }));
    }
  }

  const textFile = join(root, 'yollava-text-qa.json');
  const text = new Map<string, McqQuestion[]>();
  if (existsSync(textFile)) {
    const json = readJson(textFile);
    if (!isObject(json)) throw new DatasetError(`${textFile}: expected {<subject>: [{question, options, correct_answer}, …]}`);
    for (const [subject, list] of Object.entries(json)) {
      if (!names.includes(subject)) { warnings.push(`${textFile}: subject "${subject}" has no test/ folder; its questions are ignored`); continue; }
      const entries = Array.isArray(list) ? list.map((raw, i) => [String(i), raw] as const) : isObject(list) ? Object.entries(list) : null;
      if (!entries) throw new DatasetError(`${textFile}: "${subject}" should be a list of questions`);
      text.set(subject, entries.map(([key, raw]) => parseQuestion(textFile, `"${subject}" question ${key}`, raw)));
    }
  }

  const subjects = names.map((name): EvalSubject => {
    const train = join(trainDir, name);
    if (!existsSync(train)) throw new DatasetError(`${train}: missing (every subject in ${testDir} needs training photos)`);
    const trainPhotos = listImages(train);
    if (trainPhotos.length === 0) throw new DatasetError(`${train}: no photos`);
    const testPhotos = listImages(join(testDir, name));
    if (testPhotos.length === 0) throw new DatasetError(`${join(testDir, name)}: no photos`);
    const info = worldSubjects[name];
    const description = isObject(info) && typeof info.description === 'string' && info.description.trim() ? info.description.trim() : null;
    const kind = isObject(info) && typeof info.kind === 'string' ? info.kind : null;
    return { name, conceptName: conceptNames.get(name)!, trainPhotos, testPhotos, visualQa: visual.get(name) ?? [], textQa: text.get(name) ?? [], description, kind };
  });
  const pool = existsSync(join(root, 'pool')) && statSync(join(root, 'pool')).isDirectory() ? join(root, 'pool') : null;
  return {
    root, subjects, pool,
    files: { visualQa: existsSync(visualFile) ? visualFile : null, textQa: existsSync(textFile) ? textFile : null, world: existsSync(world) ? world : null },
    warnings,
  };
}

/**
 * The subjects to evaluate (`names`, default all) with at most `limit` test photos, visual
 * questions and text questions each (the first ones).
 */
export function selectSubjects(dataset: EvalDataset, options: { names?: readonly string[]; limit?: number } = {}): EvalSubject[] {
  let subjects = [...dataset.subjects];
  if (options.names?.length) {
    const unknown = options.names.filter((n) => !subjects.some((s) => s.name === n));
    if (unknown.length) throw new DatasetError(`${dataset.root}: no subject ${unknown.map((n) => `"${n}"`).join(', ')} (have: ${subjects.map((s) => s.name).join(', ')})`);
    subjects = options.names.map((n) => subjects.find((s) => s.name === n)!);
  }
  const limit = options.limit;
  if (limit === undefined) return subjects;
  return subjects.map((s) => {
    const testPhotos = s.testPhotos.slice(0, limit);
    return { ...s, testPhotos, visualQa: s.visualQa.slice(0, limit), textQa: s.textQa.slice(0, limit) };
  });
}
