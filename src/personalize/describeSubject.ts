/**
 * The base model's own short description of a photo of the subject, for the latent tokens to
 * start from (ConceptData.description): "<bo> is <bo_0>…<bo_15>." then begins as
 * "<bo> is a small brown dog with …", a sentence the base model already reads.
 */
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import type { SubjectKind } from './recognitionTemplates.ts';

/**
 * The question: about the subject, not the photo — a caption's "…, in a kitchen" would tell the
 * latent tokens where the training photo was taken (measured: a caption start scored ROC AUC
 * 0.76 on one subject where the subject alone scored 0.99).
 */
export function descriptionPrompt(subjectKind: SubjectKind): string {
  return `What does ${subjectKind === 'person' ? 'this person' : 'this subject'} look like?`;
}

/**
 * An answer cut to what can stand after "<bo> is": its first line, without a lead-in such as
 * "The image shows" or "This is", the article lower-cased, no final full stop.
 */
export function descriptionFromCaption(caption: string): string {
  let text = caption.split('\n')[0]!.trim();
  text = text.replace(/^(?:the|this) (?:image|photo|picture)(?: (?:shows|features|depicts|contains|is of))?\s+/i, '');
  text = text.replace(/^(?:this|it|the subject|this subject|this person|the person) is\s+/i, '');
  text = text.replace(/^(A|An|The)\b/, (article) => article.toLowerCase());
  return text.replace(/[.!\s]+$/, '');
}

export interface DescribeOptions {
  readonly subjectKind?: SubjectKind;
  /** Longest description in tokens (default 48). */
  readonly maxNewTokens?: number;
  readonly signal?: AbortSignal;
}

/** The prompt text and generation options a description is asked with: one line, greedy. */
function descriptionRequest(vlm: VisionLanguageModel, options: DescribeOptions) {
  return {
    prompt: vlm.prompt([{ user: descriptionPrompt(options.subjectKind ?? 'subject') }], { image: true }),
    generation: { maxNewTokens: options.maxNewTokens ?? 48, stopStrings: ['\n'], signal: options.signal },
  };
}

/** The base model's greedy answer to descriptionPrompt about `photo`, as descriptionFromCaption returns it. */
export async function describeSubject(vlm: VisionLanguageModel, photo: string, options: DescribeOptions = {}): Promise<string> {
  const { prompt, generation } = descriptionRequest(vlm, options);
  const answer = await vlm.generate(prompt, [await vlm.imageFeatures(photo)], generation);
  return descriptionFromCaption(answer.text);
}

/** Word-multiset F1 of two texts (lower-cased words and numbers; punctuation ignored): 1 for the same words. */
export function wordOverlap(a: string, b: string): number {
  const words = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const left = words(a), right = words(b);
  if (left.length === 0 || right.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const w of left) counts.set(w, (counts.get(w) ?? 0) + 1);
  let shared = 0;
  for (const w of right) {
    const n = counts.get(w) ?? 0;
    if (n > 0) { shared++; counts.set(w, n - 1); }
  }
  return (2 * shared) / (left.length + right.length);
}

/** The text that agrees most with the others (highest summed wordOverlap; the first on a tie). */
export function mostAgreed(texts: readonly string[]): string {
  if (texts.length === 0) throw new RangeError('mostAgreed needs at least one text');
  let best = texts[0]!, bestScore = -1;
  for (const [i, candidate] of texts.entries()) {
    let score = 0;
    for (const [j, other] of texts.entries()) if (i !== j) score += wordOverlap(candidate, other);
    if (score > bestScore) { best = candidate; bestScore = score; }
  }
  return best;
}

/**
 * The base model's description of the subject from several of its photos, decoded jointly
 * (VisionLanguageModel.generateJointly): each word is the one whose log-probabilities summed
 * over the photos are highest, so a detail one photo misreads — a small subject, dim light, part
 * of it hidden — is outvoted by the others, word by word. On the world benchmark's 40 subjects
 * (c9, 5 photos), read as words it answered the two-option questions at 0.865 visual / 0.818
 * text, against 0.850 / 0.800 for the single photo description the others agreed with most
 * (mostAgreed; docs/results.md, session 19). createConcept describes DEFAULT_DESCRIBED_PHOTOS (5)
 * of them unless told otherwise; with one photo this is describeSubject.
 */
export async function describeSubjectFromPhotos(vlm: VisionLanguageModel, photos: readonly string[], options: DescribeOptions = {}): Promise<string> {
  if (photos.length === 0) throw new RangeError('describeSubjectFromPhotos needs at least one photo');
  const imageSets: Float32Array[][] = [];
  for (const photo of photos) imageSets.push([await vlm.imageFeatures(photo)]);
  const { prompt, generation } = descriptionRequest(vlm, options);
  const answer = await vlm.generateJointly(prompt, imageSets, generation);
  return descriptionFromCaption(answer.text);
}
