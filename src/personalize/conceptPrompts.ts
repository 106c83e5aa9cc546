/**
 * Concept prompts as token ids, split where the concept's tokens start: the prefix (system
 * prompt, and the image when there is one) does not depend on the concept rows, so its KV
 * cache can be computed once per photo and reused by every step (causal attention).
 *
 * Layout (llava_v1, as Yo'LLaVA's public code; a chat template puts the same text in its user turn):
 *   {system} USER: <image>\n<bo> is <bo_0>…<bo_15>. {question} ASSISTANT: {answer}</s>
 *   └──────────── prefix ───────────┘└──────────────────── suffix ────────────────────┘
 */
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import { firstTokenInSpan, maskTokensInSpans } from '../models/prompts.ts';
import { ConceptError, type Concept } from './Concept.ts';

export interface SplitPrompt {
  /** Ids before the concept's first token, image tokens expanded. */
  readonly prefixIds: number[];
  /** Ids from the concept's first token on. */
  readonly suffixIds: number[];
  /** Loss labels aligned with suffixIds (−100 = none); empty for inference prompts. */
  readonly suffixLabels: number[];
  readonly hasImage: boolean;
}

function expandAndSplit(vlm: VisionLanguageModel, ids: readonly number[], labels: readonly number[] | null, splitId: number | null): SplitPrompt {
  const imageId = vlm.config.imageTokenId;
  const imageTokens = vlm.model.imageTokenCount;
  const expandedIds: number[] = [];
  const expandedLabels: number[] = [];
  let hasImage = false;
  ids.forEach((id, i) => {
    if (id === imageId) {
      if (hasImage) throw new Error('a concept prompt holds at most one image');
      hasImage = true;
      for (let r = 0; r < imageTokens; r++) { expandedIds.push(id); expandedLabels.push(-100); }
    } else {
      expandedIds.push(id);
      expandedLabels.push(labels ? labels[i] : -100);
    }
  });
  let split = splitId === null ? -1 : expandedIds.indexOf(splitId);
  if (split < 0) split = expandedIds.length - 1; // no concept in the prompt: keep the last token to run
  if (expandedLabels.slice(0, split + 1).some((label) => label !== -100)) throw new Error('an answer token lies before the concept tokens');
  return {
    prefixIds: expandedIds.slice(0, split),
    suffixIds: expandedIds.slice(split),
    suffixLabels: labels ? expandedLabels.slice(split) : [],
    hasImage,
  };
}

/**
 * Refuses, before any work, a model whose prompts cannot be trained on: a chat template that does
 * not write an answer right after its generation prompt, or does not close it with an end token.
 */
export function assertTrainablePromptFormat(vlm: VisionLanguageModel): void {
  try {
    yesNoTokenIds(vlm);
  } catch (error) {
    throw new ConceptError(`concepts cannot be trained on this model: ${(error as Error).message}`);
  }
}

/** A training sample: loss on the answer tokens (and the token that closes the answer). */
export function encodeTrainingSample(vlm: VisionLanguageModel, concept: Concept, identifierId: number, question: string, answer: string, withImage: boolean): SplitPrompt {
  const prompt = vlm.trainingPrompt([{ user: question, assistant: answer }], { image: withImage, personalization: concept.personalization });
  const { ids, offsets } = vlm.tokenizer.encodeWithOffsets(prompt.text);
  const inAnswer = maskTokensInSpans(offsets, prompt.answerSpans);
  const labels = ids.map((id, i) => (inAnswer[i] ? id : -100));
  return expandAndSplit(vlm, ids, labels, identifierId);
}

/** An inference prompt ending where the answer starts; concept null for the vanilla model. */
export function encodeQuestion(vlm: VisionLanguageModel, concept: Concept | null, identifierId: number | null, question: string, withImage: boolean): SplitPrompt {
  const prompt = vlm.prompt([{ user: question }], { image: withImage, personalization: concept?.personalization });
  return expandAndSplit(vlm, vlm.tokenizer.encode(prompt), null, identifierId);
}

/** The first token of an answer as a training sample writes it after the prompt (" Yes" in llava_v1, "Yes" after a chat template's assistant header). */
export function firstAnswerTokenId(vlm: VisionLanguageModel, answer: string): number {
  const prompt = vlm.trainingPrompt([{ user: 'Is it in this photo?', assistant: answer }]);
  const { ids, offsets } = vlm.tokenizer.encodeWithOffsets(prompt.text);
  const first = firstTokenInSpan(ids, offsets, prompt.answerSpans[0]);
  if (first === null) throw new Error(`${vlm.source}: the answer "${answer}" has no token of its own`);
  return first;
}

/** The first token of the answers "Yes" and "No". */
export function yesNoTokenIds(vlm: VisionLanguageModel): { yes: number; no: number } {
  const yes = firstAnswerTokenId(vlm, 'Yes');
  const no = firstAnswerTokenId(vlm, 'No');
  if (yes === no) throw new Error('the tokenizer does not tell "Yes" from "No" in its first token');
  return { yes, no };
}
