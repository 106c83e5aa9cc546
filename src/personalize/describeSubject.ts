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

/** The base model's greedy answer to descriptionPrompt about `photo`, as descriptionFromCaption returns it. */
export async function describeSubject(
  vlm: VisionLanguageModel, photo: string, options: { subjectKind?: SubjectKind; maxNewTokens?: number; signal?: AbortSignal } = {},
): Promise<string> {
  const features = await vlm.imageFeatures(photo);
  const answer = await vlm.generate(vlm.prompt([{ user: descriptionPrompt(options.subjectKind ?? 'subject') }], { image: true }), [features], {
    maxNewTokens: options.maxNewTokens ?? 48, stopStrings: ['\n'], signal: options.signal,
  });
  return descriptionFromCaption(answer.text);
}
