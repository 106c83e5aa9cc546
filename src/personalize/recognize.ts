/**
 * "Is <name> in this photo?" for many photos: for each, the probability the model gives to
 * "Yes" against "No" as the first answer token (a threshold-free score), and its answer.
 * The prompt is the paper's evaluation prompt, with the concept's personalization text.
 */
import type { RgbImage } from '../models/image/RgbImage.ts';
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import type { Concept } from './Concept.ts';
import { encodeQuestion, yesNoTokenIds } from './conceptPrompts.ts';
import type { ConceptSet } from './ConceptSet.ts';
import { recognitionEvalPrompt } from './recognitionTemplates.ts';

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
}

/**
 * Scores each photo for one attached concept (or, with `concept` null, asks the vanilla model
 * about `identifier` it was never told about — the baseline).
 */
export async function recognize(
  vlm: VisionLanguageModel, concepts: ConceptSet, concept: Concept | null, photos: readonly RecognitionPhoto[], options: RecognizeOptions & { identifier?: string } = {},
): Promise<RecognitionResult[]> {
  const identifier = concept?.identifier ?? options.identifier ?? '<sks>';
  const identifierId = concept ? concepts.identifierId(concept.name) : null;
  const prompt = encodeQuestion(vlm, concept, identifierId, recognitionEvalPrompt(identifier), true);
  const { yes, no } = yesNoTokenIds(vlm);
  const extra = concepts.extraTokens();
  const results: RecognitionResult[] = [];
  for (const input of photos) {
    if (options.signal?.aborted) break;
    const photo = typeof input === 'string' ? input : input.label;
    let result: RecognitionResult;
    try {
      const features = await vlm.imageFeatures(typeof input === 'string' ? input : input.image);
      const cache = vlm.model.prefill({ ids: prompt.prefixIds, images: [features] }, prompt.suffixIds.length + 1);
      const hidden = vlm.model.forward({ ids: prompt.suffixIds, extra }, cache);
      const logits = vlm.model.logitsAt(hidden, [prompt.suffixIds.length - 1], extra);
      const probability = 1 / (1 + Math.exp(logits[no] - logits[yes]));
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
