/**
 * Conversation data (paper §3.3, Appendix G): the BASE model looks at each positive photo and
 * answers each attribute question of the subject's list; the concept's identifier is then put
 * in the question and answer, which are trained WITHOUT the photo so that what the model saw
 * has to go into the concept's tokens.
 *
 * How the subject is named while the base model answers (it does not know "<bo>"):
 * - a person is "Riley", as in the paper (a gender-neutral name: the answers then say "Riley"
 *   and "Riley's", which map back cleanly, instead of "he"/"she" guesses);
 * - anything else is "this subject" ("This subject" at the start of a sentence).
 * Back-substitution replaces, case-insensitively and as whole words, "Riley", "this/the
 * person" (people) or "this/the subject" (others), together with a following "of/in the
 * photo|image|picture", by the identifier. Pronouns stay as the model wrote them.
 */
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import type { ConversationPair } from './conceptData.ts';
import { CONCEPT_PLACEHOLDER, conversationQuestions, fillConcept, type SubjectKind } from './recognitionTemplates.ts';

/** The name the base model is told for a person (paper, Appendix G). */
export const PERSON_STAND_IN = 'Riley';
/** The words the base model is told for any other subject (paper, Appendix G). */
export const SUBJECT_STAND_IN = 'this subject';

export const DEFAULT_CONVERSATION_MAX_TOKENS = 160;

/** The part of a VisionLanguageModel this needs (a test may pass a fake). */
export type ConversationModel = Pick<VisionLanguageModel, 'prompt' | 'imageFeatures' | 'generate'>;

export interface ConversationProgress {
  /** Questions answered so far (this one included). */
  readonly done: number;
  readonly total: number;
  readonly photo: string;
  /** The question as stored (with the identifier). */
  readonly question: string;
  readonly answer: string;
  /** The answer was empty, so no pair was made. */
  readonly skipped: boolean;
}

export interface GenerateConversationsOptions {
  readonly subjectKind: SubjectKind;
  /**
   * The token put into questions and answers. Default CONCEPT_PLACEHOLDER ("<sks>"), which
   * buildConceptData replaces by the concept's identifier.
   */
  readonly identifier?: string;
  /** The questions, naming the subject with CONCEPT_PLACEHOLDER. Default: the list of subjectKind. */
  readonly questions?: readonly string[];
  /** Longest answer in tokens. Default 160 (the public data's longest answers are ~130 tokens). */
  readonly maxNewTokens?: number;
  readonly onProgress?: (progress: ConversationProgress) => void;
  /** Checked before each generation and passed into it; an abort rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * Asks the base model every question about every photo (greedy decoding, ending at a blank
 * line) and returns the Q/A pairs, photo by photo, with the identifier in place of the
 * stand-in. Empty answers give no pair (reported with `skipped` in onProgress).
 */
export async function generateConversations(vlm: ConversationModel, photos: readonly string[], options: GenerateConversationsOptions): Promise<ConversationPair[]> {
  const questions = options.questions ?? conversationQuestions(options.subjectKind);
  const identifier = options.identifier ?? CONCEPT_PLACEHOLDER;
  const maxNewTokens = options.maxNewTokens ?? DEFAULT_CONVERSATION_MAX_TOKENS;
  const total = photos.length * questions.length;
  const pairs: ConversationPair[] = [];
  let done = 0;
  for (const photo of photos) {
    options.signal?.throwIfAborted();
    const features = await vlm.imageFeatures(photo);
    for (const template of questions) {
      options.signal?.throwIfAborted();
      const asked = withStandIn(template, options.subjectKind);
      const prompt = vlm.prompt([{ user: asked }], { image: true });
      const generated = await vlm.generate(prompt, [features], { maxNewTokens, stopStrings: ['\n\n'], signal: options.signal });
      options.signal?.throwIfAborted();
      const text = generated.stoppedBy === 'max-tokens' ? endAtLastSentence(generated.text) : generated.text;
      const question = fillConcept(template, identifier);
      const answer = withIdentifier(text, options.subjectKind, identifier).trim();
      done++;
      if (answer) pairs.push({ question, answer, sourceImage: photo });
      options.onProgress?.({ done, total, photo, question, answer, skipped: !answer });
    }
  }
  return pairs;
}

/** A question with the stand-in for the subject: "What color is <sks>?" → "What color is this subject?". */
export function withStandIn(question: string, subjectKind: SubjectKind): string {
  if (subjectKind === 'person') return fillConcept(question, PERSON_STAND_IN);
  const parts = question.split(CONCEPT_PLACEHOLDER);
  let text = parts[0]!;
  for (const part of parts.slice(1)) {
    const atSentenceStart = /(^|[.!?]\s+)$/.test(text);
    text += (atSentenceStart ? capitalize(SUBJECT_STAND_IN) : SUBJECT_STAND_IN) + part;
  }
  return text;
}

const PERSON_REFERENCE = /\b(?:Riley|(?:this|the) person(?: (?:of|in) (?:the|this) (?:photo|image|picture))?)\b/gi;
const SUBJECT_REFERENCE = /\b(?:this|the) subject(?: (?:of|in) (?:the|this) (?:photo|image|picture))?\b/gi;

/** A text with the stand-in (in any case) replaced by the identifier: "This subject's fur" → "<bo>'s fur". */
export function withIdentifier(text: string, subjectKind: SubjectKind, identifier: string): string {
  return text.replace(subjectKind === 'person' ? PERSON_REFERENCE : SUBJECT_REFERENCE, () => identifier);
}

/** An answer cut by the token limit ends at its last full sentence (when it has one). */
function endAtLastSentence(text: string): string {
  const match = /^[\s\S]*[.!?](?=\s|$)/.exec(text);
  return match ? match[0] : text;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
