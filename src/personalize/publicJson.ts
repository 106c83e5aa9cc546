/**
 * The training data in the layout of the public Yo'LLaVA code (WisconsinAIVision/YoLLaVA,
 * `example_training_data/<concept>/*.json`, read by its dataset.py).
 *
 * There a concept is a folder of files, one per kind of data, each
 *   { "<photo path>": [ { "Human": question, "AI": answer }, … ], … }
 * and the file's NAME says what its samples are (dataset.py sets has_image = false for
 * 'text-only-conversation' and true for every other file). We keep that naming rule, so
 * `kind` round-trips without a sidecar field:
 *   positive       ↔ recognition_positive.json        (also read: positive_recognition.json)
 *   hard-negative  ↔ recognition_negative-laion.json  (LAION look-alikes retrieved by CLIP;
 *                    also read: negative_recognition-laion, recognition_negative-laion-mix,
 *                    recognition_negative-stuffed-animals)
 *   easy-negative  ↔ recognition_negative-cc12m.json  (random CC12M photos; also read:
 *                    recognition_negative-cc12m-mix, negative_recognition-random-imgs)
 *   conversation   ↔ text-only-conversation.json
 * Text-only samples are keyed, as in the public data, by the photo the answer was written
 * from (`sourceImage`; the public loader opens that photo although it does not show it);
 * a sample without one is keyed by the concept's first positive photo.
 * The public files name the concept with its token ("<bo>"); `placeholder` text ("<sks>" by
 * default) is also replaced by the identifier on import.
 * Other public files ('conversation', 'complex_reasoning', 'detail_description': Q/A shown
 * with the photo) are not kinds we train and are skipped with a warning.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { checkConceptData, checkConceptName, describeValue, mentionsIdentifier, SAMPLE_KINDS, type ConceptData, type SampleKind, type TrainingSample } from './conceptData.ts';
import { ConceptDataError } from './ConceptDataError.ts';
import { CONCEPT_PLACEHOLDER } from './recognitionTemplates.ts';
import { writeFileAtomic } from './writeFileAtomic.ts';

/** One question and answer, as the public code stores them. */
export interface PublicTurn {
  readonly Human: string;
  readonly AI: string;
}

/** One file of the public code: photo path → its Q/A. */
export type PublicConversationFile = Record<string, PublicTurn[]>;

/** A concept's folder of the public code: file name ("recognition_positive.json") → contents. */
export type PublicJsonFiles = Record<string, PublicConversationFile>;

/** The file each kind is written to. */
export const PUBLIC_FILE_OF_KIND: Readonly<Record<SampleKind, string>> = {
  positive: 'recognition_positive.json',
  'hard-negative': 'recognition_negative-laion.json',
  'easy-negative': 'recognition_negative-cc12m.json',
  conversation: 'text-only-conversation.json',
};

/** Every public file name (without ".json") we read, with the kind of its samples. */
const KIND_OF_PUBLIC_NAME: Readonly<Record<string, SampleKind>> = {
  recognition_positive: 'positive',
  positive_recognition: 'positive',
  'recognition_negative-laion': 'hard-negative',
  'negative_recognition-laion': 'hard-negative',
  'recognition_negative-laion-mix': 'hard-negative',
  'recognition_negative-stuffed-animals': 'hard-negative',
  'recognition_negative-cc12m': 'easy-negative',
  'recognition_negative-cc12m-mix': 'easy-negative',
  'negative_recognition-random-imgs': 'easy-negative',
  'text-only-conversation': 'conversation',
};

/** The kind of the samples in a public file, by its name; null for files we do not train. */
export function publicFileKind(fileName: string): SampleKind | null {
  const stem = fileName.replace(/\.json$/i, '');
  return Object.hasOwn(KIND_OF_PUBLIC_NAME, stem) ? KIND_OF_PUBLIC_NAME[stem]! : null;
}

/** The concept's samples as the public code's files (only the kinds it has). */
export function exportPublicJson(data: ConceptData): PublicJsonFiles {
  const checked = checkConceptData(data);
  const firstPositive = checked.samples.find((s) => s.kind === 'positive')!.image!;
  const files: PublicJsonFiles = {};
  for (const kind of SAMPLE_KINDS) {
    const file: PublicConversationFile = {};
    for (const sample of checked.samples) {
      if (sample.kind !== kind) continue;
      const key = sample.image ?? sample.sourceImage ?? firstPositive;
      (file[key] ??= []).push({ Human: sample.question, AI: sample.answer });
    }
    if (Object.keys(file).length > 0) files[PUBLIC_FILE_OF_KIND[kind]] = file;
  }
  return files;
}

export interface ImportPublicJsonOptions {
  /** The concept's name ("bo"). */
  readonly name: string;
  /** Text replaced by the identifier in questions and answers. Default "<sks>"; give "<bo>" to rename data written for <bo>. */
  readonly placeholder?: string;
  /** Relative photo paths are resolved against this folder (the public code's working directory). Default: kept as they are. */
  readonly imageRoot?: string;
  /** The folder the files came from, for error messages. */
  readonly directory?: string;
}

/** ConceptData from the public code's files (file name → contents; see publicFileKind for the names read). */
export function importPublicJson(files: unknown, options: ImportPublicJsonOptions): ConceptData {
  checkConceptName(options.name, { file: options.directory });
  const identifier = `<${options.name}>`;
  const placeholder = options.placeholder ?? CONCEPT_PLACEHOLDER;
  const fileOf = (fileName: string) => (options.directory === undefined ? fileName : join(options.directory, fileName));
  if (typeof files !== 'object' || files === null || Array.isArray(files)) {
    throw new ConceptDataError(`expected the public files as an object of file name → contents, got ${describeValue(files)}`, { file: options.directory });
  }
  const warnings: string[] = [];
  const byKind = new Map<SampleKind, TrainingSample[]>(SAMPLE_KINDS.map((kind) => [kind, []]));
  for (const [fileName, contents] of Object.entries(files as Record<string, unknown>)) {
    const kind = publicFileKind(fileName);
    if (kind === null) {
      warnings.push(`${fileName} skipped: not a kind of data yollava trains (${Object.keys(KIND_OF_PUBLIC_NAME).map((n) => `${n}.json`).join(', ')})`);
      continue;
    }
    if (typeof contents !== 'object' || contents === null || Array.isArray(contents)) {
      throw new ConceptDataError(`expected {"<photo path>": [{"Human": …, "AI": …}, …]}, got ${describeValue(contents)}`, { file: fileOf(fileName) });
    }
    for (const [photo, turns] of Object.entries(contents as Record<string, unknown>)) {
      if (!Array.isArray(turns)) {
        throw new ConceptDataError(`"${photo}" must map to a list of {"Human": …, "AI": …} turns, got ${describeValue(turns)}`, { file: fileOf(fileName) });
      }
      const path = options.imageRoot !== undefined && !isAbsolute(photo) ? resolve(options.imageRoot, photo) : photo;
      turns.forEach((turn: unknown, index) => {
        const record = typeof turn === 'object' && turn !== null ? (turn as Record<string, unknown>) : {};
        if (typeof record.Human !== 'string' || typeof record.AI !== 'string' || !record.Human.trim() || !record.AI.trim()) {
          // The public loader also drops turns without both a question and an answer.
          warnings.push(`${fileName}: "${photo}" turn ${index + 1} skipped: it needs a non-empty "Human" and "AI"`);
          return;
        }
        const question = record.Human.split(placeholder).join(identifier);
        const answer = record.AI.split(placeholder).join(identifier);
        byKind.get(kind)!.push(kind === 'conversation'
          ? { kind, image: null, question, answer, sourceImage: path }
          : { kind, image: path, question, answer });
      });
    }
  }
  // The order buildConceptData uses, whatever order the files came in.
  const samples = (['positive', 'hard-negative', 'easy-negative', 'conversation'] as const).flatMap((kind) => byKind.get(kind)!);
  const data = checkConceptData({ name: options.name, identifier, samples, warnings }, { file: options.directory });
  if (!mentionsIdentifier(data)) {
    return { ...data, warnings: [...data.warnings, `no sample mentions ${identifier}: was the data written for another name? (pass it as placeholder, e.g. "<bo>")`] };
  }
  return data;
}

/** Writes exportPublicJson's files into `dir` (atomically, one by one); returns their paths. */
export function writePublicJsonFolder(dir: string, data: ConceptData): string[] {
  return Object.entries(exportPublicJson(data)).map(([fileName, contents]) => {
    const path = join(dir, fileName);
    writeFileAtomic(path, `${JSON.stringify(contents, null, 4)}\n`);
    return path;
  });
}

/** Reads every .json file of a public-code concept folder (e.g. example_training_data/bo). */
export function readPublicJsonFolder(dir: string, options: Omit<ImportPublicJsonOptions, 'directory'>): ConceptData {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.toLowerCase().endsWith('.json')).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConceptDataError(code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'not a folder' : (error as Error).message, { file: dir, cause: error });
  }
  if (names.length === 0) throw new ConceptDataError('no .json file in this folder (expected recognition_positive.json and others)', { file: dir });
  const files: Record<string, unknown> = {};
  for (const name of names) {
    const path = join(dir, name);
    if (publicFileKind(name) === null) {
      files[name] = null; // skipped (with a warning) by importPublicJson, unread
      continue;
    }
    try {
      files[name] = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new ConceptDataError(`not valid JSON (${(error as Error).message})`, { file: path, cause: error });
    }
  }
  return importPublicJson(files, { ...options, directory: dir });
}
