/**
 * An instruction-corpus sample as training tokens, in the llava_v1 layout the product uses:
 * `<s>{system} USER: <image>\n{question} ASSISTANT: {answer}</s>USER: …`, image token expanded
 * to one per image feature row, labels on the answers (and their "</s>") only.
 *
 * Label weights (world-facts.md: with plain token averaging, yes/no tokens got ~5% of the
 * gradient and recognition never emerged): every sample weighs 1 in all, shared equally by its
 * turns; in a turn the first answer token — the decision: "Yes"/"No", "A"/"B", the value named —
 * gets DECISION_SHARE of the turn's weight and the other tokens share the rest.
 */
import { expandImageTokens, LLAVA_V1_SYSTEM_PROMPT, llavaV1TrainingPrompt } from '../models/prompts.ts';
import type { Tokenizer } from '../models/Tokenizer.ts';
import type { CorpusTurn } from '../world/index.ts';

export const DECISION_SHARE = 0.6;

/** What a position of `decisions` holds: no decision, a decision, or the letter of a two-option question. */
export const NOT_A_DECISION = 0;
export const DECISION = 1;
export const LETTER_DECISION = 2;

export interface EncodedSample {
  readonly ids: number[];
  /** Aligned with ids; −100 = no loss. */
  readonly labels: number[];
  readonly weights: number[];
  /** Aligned with ids: the first answer token of each turn (the decision), for monitoring:
   * LETTER_DECISION where the question gave options ("Options: A. … B. …"), else DECISION. */
  readonly decisions: number[];
}

export interface EncodeOptions {
  /**
   * Language-model loss on the prompt's own tokens too (after the system prompt, not the
   * picture): they share this weight per sample, the answers keep 1. Default 0 (answers only, as
   * LLaVA's instruction tuning). A decoder trained from random has never read text otherwise; the
   * GPU reference saw the decisions learned a little faster with it (bench/peer/README.md).
   */
  readonly promptLoss?: number;
}

export function encodeTurns(tokenizer: Tokenizer, turns: readonly CorpusTurn[], image: boolean, imageTokenId: number, imageTokens: number, options: EncodeOptions = {}): EncodedSample {
  const { text, answerSpans } = llavaV1TrainingPrompt(turns, { image });
  const { ids, offsets } = tokenizer.encodeWithOffsets(text);
  const labels = new Array<number>(ids.length).fill(-100);
  const weights = new Array<number>(ids.length).fill(0);
  const decisions = new Array<number>(ids.length).fill(NOT_A_DECISION);
  const promptLoss = options.promptLoss ?? 0;
  if (promptLoss > 0) {
    const prompt: number[] = [];
    offsets.forEach(([start, end], t) => {
      if (end > start && start >= LLAVA_V1_SYSTEM_PROMPT.length && ids[t] !== imageTokenId && !answerSpans.some((span) => start < span.end && end > span.start)) prompt.push(t);
    });
    for (const t of prompt) { labels[t] = ids[t]; weights[t] = promptLoss / prompt.length; }
  }
  const turnShare = 1 / answerSpans.length;
  for (const [turn, span] of answerSpans.entries()) {
    const decision = turns[turn].user.includes('Please give a single character') ? LETTER_DECISION : DECISION;
    const inSpan: number[] = [];
    offsets.forEach(([start, end], t) => { if (end > start && start < span.end && end > span.start) inSpan.push(t); });
    inSpan.forEach((t, k) => {
      labels[t] = ids[t];
      if (k === 0) decisions[t] = decision;
      weights[t] = inSpan.length === 1 ? turnShare : k === 0 ? turnShare * DECISION_SHARE : (turnShare * (1 - DECISION_SHARE)) / (inSpan.length - 1);
    });
  }
  if (!image) return { ids, labels, weights, decisions };
  // Expand <image> to `imageTokens` positions (no loss on them).
  const expanded = expandImageTokens(ids, imageTokenId, [imageTokens]);
  const at = ids.indexOf(imageTokenId);
  const pad = <X>(xs: X[], fill: X): X[] => [...xs.slice(0, at), ...new Array<X>(imageTokens).fill(fill), ...xs.slice(at + 1)];
  return { ids: expanded, labels: pad(labels, -100), weights: pad(weights, 0), decisions: pad(decisions, NOT_A_DECISION) };
}

/**
 * The tokens every encoded sample begins with, to run once per micro-batch
 * (LlavaModel.lossAndGradients' `sharedPrefix`): `<s>` and the system prompt, less its last
 * token, so that each sample keeps one unlabelled token to predict its first prompt token from
 * (a prompt-loss label may sit there). A third of a corpus sample's tokens (25 of ~77).
 */
export function sharedPromptPrefix(tokenizer: Tokenizer): number[] {
  return tokenizer.encode(LLAVA_V1_SYSTEM_PROMPT, { addSpecialTokens: true }).slice(0, -1);
}

/**
 * Several encoded samples as one packed sequence with its segment starts. With `sharedPrefix`,
 * every sample must begin with those tokens (unlabelled), and they are left out of the packing.
 */
export function packSamples(samples: readonly EncodedSample[], sharedPrefix: readonly number[] = []): { ids: number[]; labels: number[]; weights: number[]; decisions: number[]; segments: number[] } {
  const ids: number[] = [];
  const decisions: number[] = [];
  const labels: number[] = [];
  const weights: number[] = [];
  const segments: number[] = [];
  const P = sharedPrefix.length;
  for (const s of samples) {
    for (let t = 0; t < P; t++) {
      if (s.ids[t] !== sharedPrefix[t] || s.labels[t] !== -100) throw new Error(`a sample does not begin with the shared prefix (token ${t}: ${s.ids[t]} where ${sharedPrefix[t]} was expected)`);
    }
    segments.push(ids.length);
    ids.push(...s.ids.slice(P));
    labels.push(...s.labels.slice(P));
    weights.push(...s.weights.slice(P));
    decisions.push(...s.decisions.slice(P));
  }
  return { ids, labels, weights, decisions, segments };
}
