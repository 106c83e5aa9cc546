/**
 * Concept prompts as token ids, split where the concept's tokens start: the prefix (system
 * prompt, and the image when there is one) does not depend on the concept rows, so its KV
 * cache can be computed once per photo and reused by every step (causal attention).
 *
 * Layout (llava_v1, as Yo'LLaVA's public code):
 *   {system} USER: <image>\n<bo> is <bo_0>…<bo_15>. {question} ASSISTANT: {answer}</s>
 *   └──────────── prefix ───────────┘└──────────────────── suffix ────────────────────┘
 */
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import { llavaV1TrainingPrompt, maskTokensInSpans } from '../models/prompts.ts';
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

/** Training builds LLaVA-1.5's llava_v1 prompts; a model that talks through its chat template (Qwen2-based LLaVA) is refused. */
export function assertTrainablePromptFormat(vlm: VisionLanguageModel): void {
  if (vlm.promptFormat !== 'llava_v1') {
    throw new ConceptError(`${vlm.source}: concepts can only be trained on models that use LLaVA-1.5's llava_v1 prompts; this one talks through its chat template (Qwen2-style), which training does not support yet`);
  }
}

/** A training sample: loss on the answer tokens (and the closing end-of-answer token). */
export function encodeTrainingSample(vlm: VisionLanguageModel, concept: Concept, identifierId: number, question: string, answer: string, withImage: boolean): SplitPrompt {
  assertTrainablePromptFormat(vlm);
  const prompt = llavaV1TrainingPrompt([{ user: question, assistant: answer }], {
    image: withImage, personalization: concept.personalization, endOfAnswer: vlm.tokenizer.eosToken ?? '</s>',
  });
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

/** The first token of " Yes" and of " No" after an answer prompt. */
export function yesNoTokenIds(vlm: VisionLanguageModel): { yes: number; no: number } {
  const base = vlm.tokenizer.encode('ASSISTANT:', { addSpecialTokens: false });
  const first = (word: string) => {
    const ids = vlm.tokenizer.encode(`ASSISTANT: ${word}`, { addSpecialTokens: false });
    const at = base.findIndex((id, i) => ids[i] !== id);
    return ids[at < 0 ? base.length : at];
  };
  const yes = first('Yes');
  const no = first('No');
  if (yes === no) throw new Error('the tokenizer does not tell "Yes" from "No" in its first token');
  return { yes, no };
}
