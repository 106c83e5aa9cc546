/**
 * The base model's own short description of a photo of the subject, for the latent tokens to
 * start from (ConceptData.description): "<bo> is <bo_0>…<bo_15>." then begins as
 * "<bo> is a small brown dog with …", a sentence the base model already reads.
 */
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';

/** LLaVA's detail-caption instruction (its training data's). */
export const DESCRIPTION_PROMPT = 'Describe the image in detail.';

/**
 * A caption cut to what can stand after "<bo> is": its first line, without a lead-in such as
 * "The image shows", the article lower-cased, no final full stop.
 */
export function descriptionFromCaption(caption: string): string {
  let text = caption.split('\n')[0]!.trim();
  text = text.replace(/^(?:the|this) (?:image|photo|picture)(?: (?:shows|features|depicts|contains|is of))?\s+/i, '');
  text = text.replace(/^(A|An|The)\b/, (article) => article.toLowerCase());
  return text.replace(/[.!\s]+$/, '');
}

/** Greedy caption of `photo` by the base model, as descriptionFromCaption returns it. */
export async function describeSubject(vlm: VisionLanguageModel, photo: string, options: { maxNewTokens?: number; signal?: AbortSignal } = {}): Promise<string> {
  const features = await vlm.imageFeatures(photo);
  const answer = await vlm.generate(vlm.prompt([{ user: DESCRIPTION_PROMPT }], { image: true }), [features], {
    maxNewTokens: options.maxNewTokens ?? 48, stopStrings: ['\n'], signal: options.signal,
  });
  return descriptionFromCaption(answer.text);
}
