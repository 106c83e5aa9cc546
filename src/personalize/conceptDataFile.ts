/**
 * yollava's own file of a concept's training data: every sample with its kind, for users to
 * read and edit before training.
 *
 *   { "format": "yollava-concept-data", "version": 1, "name": "bo", "identifier": "<bo>",
 *     "summary": {…}, "warnings": […],
 *     "samples": [ { "kind": "positive", "image": "photos/1.png", "question": "…", "answer": "…" }, … ] }
 *
 * Photo paths inside the file's folder are written relative to it (the folder can be moved
 * as a whole), others absolute; loading resolves relative paths against the file's folder.
 * "summary" is written for the reader and recomputed on load, so samples can be edited freely.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { checkConceptData, describeValue, type ConceptData, type TrainingSample } from './conceptData.ts';
import { ConceptDataError } from './ConceptDataError.ts';
import { writeFileAtomic } from './writeFileAtomic.ts';

export const CONCEPT_DATA_FORMAT = 'yollava-concept-data';
export const CONCEPT_DATA_VERSION = 1;

const FILE_FIELDS = new Set(['format', 'version', 'name', 'identifier', 'summary', 'warnings', 'description', 'heldOutNegatives', 'samples']);

/** Writes a concept's data (checked first) to `path`, atomically. */
export function saveConceptData(path: string, data: ConceptData): void {
  const checked = checkConceptData(data);
  const dir = resolve(dirname(path));
  const stored = (image: string): string => {
    const absolute = resolve(image);
    const inside = relative(dir, absolute);
    return inside && !inside.startsWith('..') && !isAbsolute(inside) ? inside.split(sep).join('/') : absolute;
  };
  const samples = checked.samples.map((sample): TrainingSample => {
    const out: TrainingSample = { kind: sample.kind, image: sample.image === null ? null : stored(sample.image), question: sample.question, answer: sample.answer };
    return sample.sourceImage === undefined ? out : { ...out, sourceImage: stored(sample.sourceImage) };
  });
  const file = {
    format: CONCEPT_DATA_FORMAT,
    version: CONCEPT_DATA_VERSION,
    name: checked.name,
    identifier: checked.identifier,
    summary: checked.summary,
    warnings: checked.warnings,
    ...(checked.description ? { description: checked.description } : {}),
    ...(checked.heldOutNegatives ? { heldOutNegatives: checked.heldOutNegatives.map(stored) } : {}),
    samples,
  };
  writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`);
}

/** Reads and checks a file written by saveConceptData (and maybe edited); photo paths come back absolute. */
export function loadConceptData(path: string): ConceptData {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a concept data file' : (error as Error).message;
    throw new ConceptDataError(reason, { file: path, cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConceptDataError(`not valid JSON (${(error as Error).message}); was the file cut short or edited by hand?`, { file: path, cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConceptDataError(`expected a concept data object, got ${describeValue(value)}`, { file: path });
  }
  const record = value as Record<string, unknown>;
  if (record.format !== CONCEPT_DATA_FORMAT) {
    const looksPublic = Object.values(record).some((v) => Array.isArray(v) && v.some((turn) => typeof turn === 'object' && turn !== null && 'Human' in turn));
    throw new ConceptDataError(
      looksPublic
        ? 'this is a file of the public Yo\'LLaVA code ({"<photo>": [{"Human", "AI"}]}); read it with readPublicJsonFolder or importPublicJson'
        : `not a yollava concept data file ("format" is ${describeValue(record.format)}, expected "${CONCEPT_DATA_FORMAT}")`,
      { file: path },
    );
  }
  if (record.version !== CONCEPT_DATA_VERSION) {
    throw new ConceptDataError(
      typeof record.version === 'number' && record.version > CONCEPT_DATA_VERSION
        ? `written by a newer yollava (version ${record.version}; this one reads version ${CONCEPT_DATA_VERSION})`
        : `"version" must be ${CONCEPT_DATA_VERSION}, got ${describeValue(record.version)}`,
      { file: path },
    );
  }
  for (const key of Object.keys(record)) {
    if (!FILE_FIELDS.has(key)) throw new ConceptDataError(`unknown field "${key}" (fields: ${[...FILE_FIELDS].join(', ')})`, { file: path });
  }
  const { format: _format, version: _version, summary: _summary, ...data } = record;
  const dir = dirname(resolve(path));
  return checkConceptData(data, { file: path, resolveImage: (image) => resolve(dir, image) });
}
