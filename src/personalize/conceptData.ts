/**
 * The training data of one concept: recognition Q/A on its positive photos, negative Q/A on
 * easy (random) and hard (retrieved look-alike) negative photos, and text-only conversation Q/A
 * that the base model wrote about the positive photos (see conversations.ts).
 *
 * Pure and deterministic: the same options and seed give the same samples, in the order
 * positives (photo by photo), hard negatives, easy negatives, conversations. No file is read:
 * the trainer reports photos it cannot open.
 */
import { resolve } from 'node:path';
import { seededRandom } from '../models/sampling.ts';
import { ConceptDataError } from './ConceptDataError.ts';
import { fillConcept, NEGATIVE_RECOGNITION_TEMPLATES, POSITIVE_RECOGNITION_TEMPLATES, type RecognitionTemplate } from './recognitionTemplates.ts';

export type SampleKind = 'positive' | 'easy-negative' | 'hard-negative' | 'conversation';

export const SAMPLE_KINDS: readonly SampleKind[] = ['positive', 'easy-negative', 'hard-negative', 'conversation'];

export interface TrainingSample {
  readonly kind: SampleKind;
  /** The photo shown with the question; null: trained without a photo (conversation samples). */
  readonly image: string | null;
  readonly question: string;
  readonly answer: string;
  /** Conversation samples: the photo the base model looked at to write the answer (not shown in training). */
  readonly sourceImage?: string;
}

export interface ConceptDataSummary {
  readonly positives: number;
  readonly easyNegatives: number;
  readonly hardNegatives: number;
  readonly conversations: number;
}

export interface ConceptData {
  /** The concept's name, e.g. "bo". */
  readonly name: string;
  /** Its identifier token, "<bo>". */
  readonly identifier: string;
  readonly samples: readonly TrainingSample[];
  /** Sample counts per kind. */
  readonly summary: ConceptDataSummary;
  /** What was dropped or changed while building (duplicate photos, photos over the limit…). */
  readonly warnings: readonly string[];
  /**
   * A short description of the subject ("a small brown dog with a red collar"): the latent tokens
   * start from its token embeddings instead of at random, so that "<bo> is <bo_0>…" starts out
   * reading like a description the base model understands. Written by the base model from the
   * photos (prepareConceptData: decoded jointly over describedPhotos) or by hand; absent: random start (the paper's).
   */
  readonly description?: string;
  /**
   * Photos of other things kept out of training: after training, the concept's Yes/No boundary
   * is set on them (trainConcept's `targetFalsePositiveRate`). prepareConceptData draws them
   * at random from the pool.
   */
  readonly heldOutNegatives?: readonly string[];
}

/**
 * How recognition answers are written. `short` (default): "Yes" / "No", the answer the
 * recognition question itself asks for, so that training moves the decision and not the wording
 * of 60 sentence templates. `sentence`: the paper's template answers ("Yes, <bo> is in this
 * photo.", "<bo> is not in this photo."), many of which do not begin with the decision.
 */
export type RecognitionAnswerStyle = 'short' | 'sentence';
export const RECOGNITION_ANSWER_STYLES: readonly RecognitionAnswerStyle[] = ['short', 'sentence'];

/** A question about the concept and the answer to train, written by generateConversations (or by hand). */
export interface ConversationPair {
  /** Names the concept with its identifier or with CONCEPT_PLACEHOLDER ("<sks>"). */
  readonly question: string;
  readonly answer: string;
  /** The photo the answer describes. */
  readonly sourceImage?: string;
}

export interface BuildConceptDataOptions {
  /** The concept's name: 1–32 ASCII letters, digits, '_' or '-' (the token becomes `<name>`). */
  readonly name: string;
  /** Photos of the concept (at least one). */
  readonly positives: readonly string[];
  /** Random photos of other things (the paper: ~100 from LAION). Default none. */
  readonly easyNegatives?: readonly string[];
  /** Look-alike photos retrieved for the positives (the paper: ~100–130). Default none. */
  readonly hardNegatives?: readonly string[];
  /** Text-only Q/A (generateConversations). Default none. */
  readonly conversations?: readonly ConversationPair[];
  /** Seed of the template choice. Default 0. */
  readonly seed?: number;
  /** How many positive photos to use, the first ones given (paper default 5). Default 5. */
  readonly maxPositives?: number;
  /**
   * Recognition Q/A per positive photo, each from a different template (1–30). Default 16
   * (the public example: 67 Q/A for 4 photos).
   */
  readonly questionsPerPositive?: number;
  /** Default 'short'. */
  readonly answerStyle?: RecognitionAnswerStyle;
  /** See ConceptData.description. */
  readonly description?: string;
  /** See ConceptData.heldOutNegatives. Default none. */
  readonly heldOutNegatives?: readonly string[];
}

export const DEFAULT_MAX_POSITIVES = 5;
export const DEFAULT_QUESTIONS_PER_POSITIVE = 16;

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** Names whose token the tokenizers already use: `<image>`, Llama's `<s>`, `<unk>`, `<pad>`. */
const RESERVED_NAMES = new Set(['image', 's', 'unk', 'pad']);

/** Throws a ConceptDataError when `name` cannot be a concept name. */
export function checkConceptName(name: unknown, options: { file?: string } = {}): asserts name is string {
  if (typeof name !== 'string') throw new ConceptDataError(`the concept name must be a string, got ${describeValue(name)}`, options);
  if (/^<.*>$/.test(name)) {
    throw new ConceptDataError(`concept name "${name}": give the name without angle brackets ("${name.slice(1, -1)}"); the token <name> is made from it`, options);
  }
  if (!NAME_PATTERN.test(name)) {
    throw new ConceptDataError(`concept name "${name}": use 1–32 ASCII letters, digits, '_' or '-' (it becomes the token <${name}>)`, options);
  }
  if (RESERVED_NAMES.has(name.toLowerCase())) {
    throw new ConceptDataError(`concept name "${name}": <${name}> is a token the model already uses; choose another name`, options);
  }
}

/** The identifier token of a concept name: "bo" → "<bo>". */
export function conceptIdentifier(name: string): string {
  checkConceptName(name);
  return `<${name}>`;
}

export function summarizeSamples(samples: readonly TrainingSample[]): ConceptDataSummary {
  let positives = 0, easyNegatives = 0, hardNegatives = 0, conversations = 0;
  for (const sample of samples) {
    if (sample.kind === 'positive') positives++;
    else if (sample.kind === 'easy-negative') easyNegatives++;
    else if (sample.kind === 'hard-negative') hardNegatives++;
    else conversations++;
  }
  return { positives, easyNegatives, hardNegatives, conversations };
}

/** Builds the samples of a concept from its photos, negatives and conversation Q/A. */
export function buildConceptData(options: BuildConceptDataOptions): ConceptData {
  checkConceptName(options.name);
  const identifier = `<${options.name}>`;
  const maxPositives = options.maxPositives ?? DEFAULT_MAX_POSITIVES;
  const perPhoto = options.questionsPerPositive ?? DEFAULT_QUESTIONS_PER_POSITIVE;
  const seed = options.seed ?? 0;
  const answerStyle = options.answerStyle ?? 'short';
  if (!RECOGNITION_ANSWER_STYLES.includes(answerStyle)) throw new ConceptDataError(`answerStyle must be ${RECOGNITION_ANSWER_STYLES.map((a) => `"${a}"`).join(' or ')}, got ${describeValue(answerStyle)}`);
  if (!Number.isInteger(maxPositives) || maxPositives < 1) throw new ConceptDataError(`maxPositives must be a positive integer, got ${maxPositives}`);
  if (!Number.isInteger(perPhoto) || perPhoto < 1 || perPhoto > POSITIVE_RECOGNITION_TEMPLATES.length) {
    throw new ConceptDataError(`questionsPerPositive must be an integer from 1 to ${POSITIVE_RECOGNITION_TEMPLATES.length}, got ${perPhoto}`);
  }
  if (!Number.isFinite(seed)) throw new ConceptDataError(`seed must be a finite number, got ${seed}`);

  const warnings: string[] = [];
  let positives = uniquePaths(options.positives, 'positive', warnings);
  if (positives.length === 0) {
    throw new ConceptDataError(`concept "${options.name}": no photos of the concept were given (at least one positive photo is needed; the paper uses 5)`);
  }
  if (positives.length > maxPositives) {
    warnings.push(`using the first ${maxPositives} of ${positives.length} positive photos (maxPositives ${maxPositives})`);
    positives = positives.slice(0, maxPositives);
  }
  const hardNegatives = uniquePaths(options.hardNegatives ?? [], 'hard-negative', warnings);
  // A photo retrieved as a look-alike may also be drawn at random: it stays a hard negative.
  const hardKeys = new Set(hardNegatives.map(pathKey));
  const easyNegatives = uniquePaths(options.easyNegatives ?? [], 'easy-negative', warnings).filter((path) => {
    if (!hardKeys.has(pathKey(path))) return true;
    warnings.push(`easy-negative photo ${path} is also a hard negative: kept as a hard negative only`);
    return false;
  });
  const positiveKeys = new Set(positives.map(pathKey));
  for (const path of [...hardNegatives, ...easyNegatives]) {
    if (positiveKeys.has(pathKey(path))) {
      throw new ConceptDataError(`concept "${options.name}": photo ${path} is given both as a photo of the concept and as a negative`);
    }
  }
  const trainingKeys = new Set([...hardNegatives, ...easyNegatives].map(pathKey));
  const heldOutNegatives = uniquePaths(options.heldOutNegatives ?? [], 'held-out negative', warnings).filter((path) => {
    if (positiveKeys.has(pathKey(path))) throw new ConceptDataError(`concept "${options.name}": photo ${path} is given both as a photo of the concept and as a held-out negative`);
    if (!trainingKeys.has(pathKey(path))) return true;
    warnings.push(`held-out negative ${path} is also a training negative: kept for training only`);
    return false;
  });

  const random = seededRandom(seed);
  const samples: TrainingSample[] = [];
  for (const image of positives) {
    for (const template of shuffled(POSITIVE_RECOGNITION_TEMPLATES, random).slice(0, perPhoto)) {
      samples.push(recognitionSample('positive', image, template, identifier, answerStyle));
    }
  }
  // Negatives deal from a shuffled deck of the 30 templates, so that every template is used
  // about equally often however many negatives there are.
  for (const [kind, paths] of [['hard-negative', hardNegatives], ['easy-negative', easyNegatives]] as const) {
    const deck = new TemplateDeck(NEGATIVE_RECOGNITION_TEMPLATES, random);
    for (const image of paths) samples.push(recognitionSample(kind, image, deck.next(), identifier, answerStyle));
  }
  (options.conversations ?? []).forEach((pair, index) => {
    const question = typeof pair.question === 'string' ? fillConcept(pair.question, identifier).trim() : '';
    const answer = typeof pair.answer === 'string' ? fillConcept(pair.answer, identifier).trim() : '';
    if (!question || !answer) {
      warnings.push(`conversation ${index + 1} skipped: its ${question ? 'answer' : 'question'} is empty`);
      return;
    }
    const sample: TrainingSample = { kind: 'conversation', image: null, question, answer };
    samples.push(pair.sourceImage === undefined ? sample : { ...sample, sourceImage: pair.sourceImage });
  });
  const description = checkDescription(options.description, {});
  return {
    name: options.name, identifier, samples, summary: summarizeSamples(samples), warnings,
    ...(description ? { description } : {}), ...(heldOutNegatives.length ? { heldOutNegatives } : {}),
  };
}

function recognitionSample(kind: SampleKind, image: string, template: RecognitionTemplate, identifier: string, style: RecognitionAnswerStyle): TrainingSample {
  const answer = style === 'short' ? (kind === 'positive' ? 'Yes' : 'No') : fillConcept(template.answer, identifier);
  return { kind, image, question: fillConcept(template.question, identifier), answer };
}

/** A description as stored: one line of text, or undefined for none (empty counts as none). */
function checkDescription(value: unknown, where: { file?: string }): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ConceptDataError(`"description" must be a string, got ${describeValue(value)}`, where);
  const text = value.replace(/\s+/g, ' ').trim();
  return text === '' ? undefined : text;
}

/** Two spellings of one file ("a.png", "./a.png") count as the same photo. */
function pathKey(path: string): string {
  return resolve(path);
}

function uniquePaths(paths: readonly string[], kind: string, warnings: string[]): string[] {
  if (!Array.isArray(paths)) throw new ConceptDataError(`the ${kind} photos must be a list of file paths, got ${describeValue(paths)}`);
  const seen = new Set<string>();
  const out: string[] = [];
  paths.forEach((path, index) => {
    if (typeof path !== 'string' || path.trim() === '') {
      throw new ConceptDataError(`${kind} photo ${index + 1} must be a file path, got ${describeValue(path)}`);
    }
    const key = pathKey(path);
    if (seen.has(key)) {
      warnings.push(`${kind} photo ${path} is listed more than once: used once`);
      return;
    }
    seen.add(key);
    out.push(path);
  });
  return out;
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

class TemplateDeck {
  private cards: RecognitionTemplate[] = [];
  constructor(private readonly templates: readonly RecognitionTemplate[], private readonly random: () => number) {}
  next(): RecognitionTemplate {
    if (this.cards.length === 0) this.cards = shuffled(this.templates, this.random);
    return this.cards.pop()!;
  }
}

/**
 * Checks data read from a file or built by hand and returns it as ConceptData (summary
 * recomputed). Each problem is a ConceptDataError naming the file and the field.
 * `resolveImage` maps stored photo paths (e.g. relative to the file) to usable ones.
 */
export function checkConceptData(value: unknown, options: { file?: string; resolveImage?: (path: string) => string } = {}): ConceptData {
  const where = { file: options.file };
  const fail = (message: string): never => { throw new ConceptDataError(message, where); };
  const resolveImage = options.resolveImage ?? ((path: string) => path);
  if (!isRecord(value)) return fail(`expected a JSON object with name, identifier and samples, got ${describeValue(value)}`);
  checkConceptName(value.name, where);
  const name = value.name;
  const identifier = value.identifier ?? `<${name}>`;
  if (identifier !== `<${name}>`) fail(`identifier must be "<${name}>" (the name in angle brackets), got ${describeValue(identifier)}`);
  if (!Array.isArray(value.samples)) return fail(`"samples" must be a list, got ${describeValue(value.samples)}`);
  const warnings = value.warnings ?? [];
  if (!Array.isArray(warnings) || !warnings.every((w) => typeof w === 'string')) fail('"warnings" must be a list of strings');

  const samples = value.samples.map((raw, index): TrainingSample => {
    const at = `samples[${index}]`;
    if (!isRecord(raw)) return fail(`${at} must be an object with kind, image, question and answer, got ${describeValue(raw)}`);
    for (const key of Object.keys(raw)) {
      if (!SAMPLE_FIELDS.has(key)) fail(`${at} has an unknown field "${key}" (fields: ${[...SAMPLE_FIELDS].join(', ')})`);
    }
    const kind = raw.kind;
    if (typeof kind !== 'string' || !(SAMPLE_KINDS as readonly string[]).includes(kind)) {
      fail(`${at}.kind must be one of ${SAMPLE_KINDS.map((k) => `"${k}"`).join(', ')}, got ${describeValue(kind)}`);
    }
    for (const field of ['question', 'answer'] as const) {
      if (typeof raw[field] !== 'string' || (raw[field] as string).trim() === '') fail(`${at}.${field} must be a non-empty string, got ${describeValue(raw[field])}`);
    }
    if (kind === 'conversation') {
      if (raw.image !== null && raw.image !== undefined) {
        fail(`${at}: conversation samples are trained without a photo, so image must be null (the photo the answer describes goes in "sourceImage")`);
      }
    } else if (typeof raw.image !== 'string' || raw.image.trim() === '') {
      fail(`${at}.image must be the path of a photo (a ${kind} sample is trained with one), got ${describeValue(raw.image)}`);
    }
    if (raw.sourceImage !== undefined && (typeof raw.sourceImage !== 'string' || raw.sourceImage.trim() === '')) {
      fail(`${at}.sourceImage must be a file path, got ${describeValue(raw.sourceImage)}`);
    }
    const sample: TrainingSample = {
      kind: kind as SampleKind,
      image: kind === 'conversation' ? null : resolveImage(raw.image as string),
      question: raw.question as string,
      answer: raw.answer as string,
    };
    return raw.sourceImage === undefined ? sample : { ...sample, sourceImage: resolveImage(raw.sourceImage as string) };
  });

  const positiveKeys = new Set(samples.filter((s) => s.kind === 'positive').map((s) => pathKey(s.image!)));
  const clash = samples.find((s) => (s.kind === 'easy-negative' || s.kind === 'hard-negative') && positiveKeys.has(pathKey(s.image!)));
  if (clash) fail(`photo ${clash.image} is both a positive and a ${clash.kind} sample`);
  if (!samples.some((s) => s.kind === 'positive')) fail('no positive sample: the concept needs at least one photo of it');
  const description = checkDescription(value.description, where);
  const heldOut = value.heldOutNegatives ?? [];
  if (!Array.isArray(heldOut)) return fail(`"heldOutNegatives" must be a list of photo paths, got ${describeValue(heldOut)}`);
  const heldOutNegatives = heldOut.map((path, index) => {
    if (typeof path !== 'string' || path.trim() === '') fail(`heldOutNegatives[${index}] must be a file path, got ${describeValue(path)}`);
    return resolveImage(path as string);
  });
  const heldOutClash = heldOutNegatives.find((path) => positiveKeys.has(pathKey(path)));
  if (heldOutClash) fail(`photo ${heldOutClash} is both a positive sample and a held-out negative`);
  return {
    name, identifier: `<${name}>`, samples, summary: summarizeSamples(samples), warnings: warnings as string[],
    ...(description ? { description } : {}), ...(heldOutNegatives.length ? { heldOutNegatives } : {}),
  };
}

const SAMPLE_FIELDS = new Set(['kind', 'image', 'question', 'answer', 'sourceImage']);

/** Whether any sample names the concept (imported data written for another name does not). */
export function mentionsIdentifier(data: ConceptData): boolean {
  return data.samples.some((s) => s.question.includes(data.identifier) || s.answer.includes(data.identifier));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short description of a bad value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
