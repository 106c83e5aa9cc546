/**
 * "Is <name> in this photo?" for many photos: for each, the probability the model gives to
 * "Yes" against "No" as the first answer token (a threshold-free score), and its answer.
 * The prompt is the paper's evaluation prompt (or another question), with the concept's
 * personalization text.
 */
import type { RgbImage } from '../models/image/RgbImage.ts';
import type { ExtraTokens } from '../models/llava.ts';
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import type { Concept } from './Concept.ts';
import { encodeQuestion, yesNoTokenIds, type SplitPrompt } from './conceptPrompts.ts';
import type { ConceptSet } from './ConceptSet.ts';
import { CONCEPT_PLACEHOLDER, fillConcept, recognitionEvalPrompt } from './recognitionTemplates.ts';

/** A photo as a file path, or as decoded pixels with a label to report it by (an upload). */
export type RecognitionPhoto = string | { readonly label: string; readonly image: RgbImage };

export interface RecognitionResult {
  /** The path, or the label of decoded pixels. */
  readonly photo: string;
  /** P(Yes) / (P(Yes) + P(No)) at the first answer token. */
  readonly probability: number;
  readonly answer: 'Yes' | 'No';
  /** Set when the photo could not be read; probability is then NaN. */
  readonly error?: string;
}

export interface RecognizeOptions {
  readonly onProgress?: (done: number, total: number, result: RecognitionResult) => void;
  readonly signal?: AbortSignal;
  /** Without a concept: the name the vanilla model is asked about (default "<sks>"). */
  readonly identifier?: string;
  /** The question, with "<sks>" where the concept goes (default: the paper's evaluation prompt). */
  readonly question?: string;
}

/** The recognition question asked about `identifier`: `question` (with "<sks>") filled, or the paper's evaluation prompt. */
export function recognitionQuestionText(identifier: string, question?: string): string {
  return question === undefined ? recognitionEvalPrompt(identifier) : fillConcept(question, identifier);
}

/**
 * One recognition question made ready for many photos: the prompt encoded once, then for each
 * photo's features the first answer token's logit of "Yes" minus that of "No".
 */
export class RecognitionQuestion {
  /** The question as asked, with the concept's identifier filled in. */
  readonly text: string;
  private readonly prompt: SplitPrompt;
  private readonly yes: number;
  private readonly no: number;
  private readonly extra: ExtraTokens;

  constructor(
    private readonly vlm: VisionLanguageModel, concepts: ConceptSet, concept: Concept | null,
    options: { readonly identifier?: string; readonly question?: string } = {},
  ) {
    const identifier = concept?.identifier ?? options.identifier ?? CONCEPT_PLACEHOLDER;
    this.text = recognitionQuestionText(identifier, options.question);
    this.prompt = encodeQuestion(vlm, concept, concept ? concepts.identifierId(concept.name) : null, this.text, true);
    ({ yes: this.yes, no: this.no } = yesNoTokenIds(vlm));
    this.extra = concepts.extraTokens();
  }

  /** logit(Yes) − logit(No) at the first answer token, for a photo's image features. */
  yesMargin(features: Float32Array): number {
    const { prefixIds, suffixIds } = this.prompt;
    const cache = this.vlm.model.prefill({ ids: prefixIds, images: [features] }, suffixIds.length + 1);
    const hidden = this.vlm.model.forward({ ids: suffixIds, extra: this.extra }, cache);
    const logits = this.vlm.model.logitsAt(hidden, [suffixIds.length - 1], this.extra);
    return logits[this.yes] - logits[this.no];
  }
}

/**
 * Scores each photo for one attached concept (or, with `concept` null, asks the vanilla model
 * about `identifier` it was never told about — the baseline).
 */
export async function recognize(
  vlm: VisionLanguageModel, concepts: ConceptSet, concept: Concept | null, photos: readonly RecognitionPhoto[], options: RecognizeOptions = {},
): Promise<RecognitionResult[]> {
  const question = new RecognitionQuestion(vlm, concepts, concept, options);
  const results: RecognitionResult[] = [];
  for (const input of photos) {
    if (options.signal?.aborted) break;
    const photo = typeof input === 'string' ? input : input.label;
    let result: RecognitionResult;
    try {
      const features = await vlm.imageFeatures(typeof input === 'string' ? input : input.image);
      const probability = 1 / (1 + Math.exp(-question.yesMargin(features)));
      result = { photo, probability, answer: probability >= 0.5 ? 'Yes' : 'No' };
    } catch (error) {
      result = { photo, probability: NaN, answer: 'No', error: (error as Error).message };
    }
    results.push(result);
    options.onProgress?.(results.length, photos.length, result);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return results;
}
