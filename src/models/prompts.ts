/**
 * Prompt text for LLaVA-family models:
 * - LLaVA-1.x "llava_v1" conversations, exactly as LLaVA's `conv_llava_v1` (separator style TWO,
 *   sep " ", sep2 "</s>"):
 *   `{system} USER: <image>\n{question} ASSISTANT: {answer}</s>USER: {question2} ASSISTANT:`
 *   with Yo'LLaVA's personalization text right after the image:
 *   `… USER: <image>\n<bo> is <bo_0>…<bo_15>. {question} ASSISTANT: …`
 * - a checkpoint's own Jinja chat template (`@huggingface/jinja`), with llava-hf's content lists;
 * - the expansion of each image token into the image's feature positions.
 * BOS is not written into the text: the tokenizer adds it (Tokenizer.encode with addSpecialTokens).
 */
import { Template } from '@huggingface/jinja';

export class PromptError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'PromptError';
  }
}

export const IMAGE_TOKEN = '<image>';

/** LLaVA-1.x's system prompt (conv_llava_v1). */
export const LLAVA_V1_SYSTEM_PROMPT =
  "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

/** conv_llava_v1's roles and separators: "sep" follows the system prompt and each user turn, "sep2" each answer. */
export const LLAVA_V1_FORMAT = {
  userRole: 'USER',
  assistantRole: 'ASSISTANT',
  sep: ' ',
  sep2: '</s>',
} as const;

export interface LlavaV1Turn {
  /** The user's text (the question). */
  user: string;
  /** The assistant's answer; absent only on the last turn of a generation prompt. */
  assistant?: string;
}

export interface LlavaV1Options {
  /** Put `<image>\n` at the start of the first user turn (LLaVA's layout). Text-only samples: false. */
  image: boolean;
  /** Default LLAVA_V1_SYSTEM_PROMPT. */
  system?: string;
  /** Default "<image>". */
  imageToken?: string;
  /**
   * Text put at the start of the first user turn, right after the image, followed by a space:
   * Yo'LLaVA's "<bo> is <bo_0>…<bo_15>." (see personalizationPrefix).
   */
  personalization?: string;
  /** sep2, written after each answer. Default "</s>" (the Llama EOS). */
  endOfAnswer?: string;
}

/** [start, end) character offsets into a prompt. */
export interface TextSpan {
  start: number;
  end: number;
}

export interface LlavaV1TrainingPrompt {
  text: string;
  /**
   * For each turn, the answer text and the "</s>" that closes it: the characters the loss is taken on.
   * (The space between "ASSISTANT:" and the answer is not in it; with maskTokensInSpans a token that
   * spans both, like "▁Yes", is still counted.)
   */
  answerSpans: TextSpan[];
}

/** Yo'LLaVA's personalization text: "<bo> is <bo_0><bo_1>…<bo_15>." */
export function personalizationPrefix(identifierToken: string, latentTokens: readonly string[]): string {
  return `${identifierToken} is ${latentTokens.join('')}.`;
}

interface BuiltConversation {
  text: string;
  answerSpans: TextSpan[];
}

function buildLlavaV1(turns: readonly LlavaV1Turn[], options: LlavaV1Options, forGeneration: boolean): BuiltConversation {
  if (turns.length === 0) throw new PromptError('llava_v1: no turns');
  const { userRole, assistantRole, sep } = LLAVA_V1_FORMAT;
  const sep2 = options.endOfAnswer ?? LLAVA_V1_FORMAT.sep2;
  let text = (options.system ?? LLAVA_V1_SYSTEM_PROMPT) + sep;
  const answerSpans: TextSpan[] = [];
  turns.forEach((turn, index) => {
    const last = index === turns.length - 1;
    let user = turn.user;
    if (index === 0) {
      if (options.personalization !== undefined) user = `${options.personalization} ${user}`;
      if (options.image) user = `${options.imageToken ?? IMAGE_TOKEN}\n${user}`;
    }
    text += `${userRole}: ${user}${sep}`;
    if (turn.assistant === undefined || turn.assistant === '') {
      if (!(forGeneration && last)) {
        throw new PromptError(
          forGeneration
            ? `llava_v1: turn ${index} has no answer (only the last turn of a generation prompt may lack one)`
            : `llava_v1: turn ${index} has no answer (every turn of a training prompt needs one)`,
        );
      }
      text += `${assistantRole}:`;
      return;
    }
    if (forGeneration && last) throw new PromptError('llava_v1: the last turn of a generation prompt must not have an answer');
    text += `${assistantRole}: `;
    const start = text.length;
    text += turn.assistant + sep2;
    answerSpans.push({ start, end: text.length });
  });
  return { text, answerSpans };
}

/** A prompt for generation: earlier turns answered, the last one open; ends with "ASSISTANT:". */
export function llavaV1GenerationPrompt(turns: readonly LlavaV1Turn[], options: LlavaV1Options): string {
  return buildLlavaV1(turns, options, true).text;
}

/** A training sample: every turn answered, each answer followed by "</s>"; with the answer spans for the loss. */
export function llavaV1TrainingPrompt(turns: readonly LlavaV1Turn[], options: LlavaV1Options): LlavaV1TrainingPrompt {
  return buildLlavaV1(turns, options, false);
}

/**
 * Which tokens get a loss label: those whose [start, end) text range overlaps one of the spans
 * (offsets from Tokenizer.encodeWithOffsets; tokens with empty ranges, like BOS, never do).
 */
export function maskTokensInSpans(offsets: ReadonlyArray<readonly [number, number]>, spans: readonly TextSpan[]): boolean[] {
  return offsets.map(([start, end]) => end > start && spans.some((span) => start < span.end && end > span.start));
}

/**
 * The first token of the text span `span` (an answer of a training prompt, maskTokensInSpans's
 * rule): how the model begins that answer, " Yes" as one token in llava_v1. Null if no token overlaps it.
 */
export function firstTokenInSpan(ids: readonly number[], offsets: ReadonlyArray<readonly [number, number]>, span: TextSpan): number | null {
  const at = maskTokensInSpans(offsets, [span]).indexOf(true);
  return at < 0 ? null : ids[at];
}

export type ChatContentPart =
  | { type: 'image' }
  | { type: 'text'; text: string }
  | { type: string; [key: string]: unknown };

export interface ChatMessage {
  role: string;
  /** A string, or llava-hf's content list: [{type: 'image'}, {type: 'text', text: '…'}]. */
  content: string | readonly ChatContentPart[];
}

export interface ChatTemplateOptions {
  /** Open an assistant turn at the end (HF's add_generation_prompt). Default false. */
  addGenerationPrompt?: boolean;
  bosToken?: string | null;
  eosToken?: string | null;
  /** Further template variables (e.g. `tools`, custom flags), as HF's apply_chat_template kwargs. */
  variables?: Record<string, unknown>;
}

const compiledTemplates = new Map<string, Template>();

function compileTemplate(template: string): Template {
  let compiled = compiledTemplates.get(template);
  if (!compiled) {
    try {
      compiled = new Template(template);
    } catch (error) {
      throw new PromptError(`chat template does not parse: ${(error as Error).message}`, { cause: error });
    }
    // A checkpoint has one or two templates; keep the cache from growing without bound anyway.
    if (compiledTemplates.size >= 16) compiledTemplates.clear();
    compiledTemplates.set(template, compiled);
  }
  return compiled;
}

/**
 * Renders a checkpoint's Jinja chat template (tokenizer_config's chat_template, chat_template.json or
 * chat_template.jinja) with the variables HF's apply_chat_template passes: messages,
 * add_generation_prompt, bos_token, eos_token and any extra ones. transformers' `{% generation %}`
 * tags are accepted (and ignored).
 */
export function renderChatTemplate(template: string, messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
  const variables: Record<string, unknown> = {
    ...options.variables,
    messages,
    add_generation_prompt: options.addGenerationPrompt ?? false,
  };
  if (options.bosToken != null) variables.bos_token = options.bosToken;
  if (options.eosToken != null) variables.eos_token = options.eosToken;
  try {
    return compileTemplate(template).render(variables);
  } catch (error) {
    if (error instanceof PromptError) throw error;
    throw new PromptError(`chat template failed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Replaces each image token by `tokensPerImage[i]` copies of it (image i in order of appearance),
 * as HF's LlavaProcessor does, so that the model can put image i's features there.
 * `tokensPerImage` has one entry per image given (LLaVA-1.5 at 336 px: 576 each).
 */
export function expandImageTokens(ids: readonly number[], imageTokenId: number, tokensPerImage: readonly number[]): number[] {
  const found = ids.reduce((count, id) => count + (id === imageTokenId ? 1 : 0), 0);
  if (found !== tokensPerImage.length) {
    throw new PromptError(`the prompt has ${found} image token(s) (id ${imageTokenId}) but ${tokensPerImage.length} image(s) were given`);
  }
  const out: number[] = [];
  let image = 0;
  for (const id of ids) {
    if (id !== imageTokenId) {
      out.push(id);
      continue;
    }
    const count = tokensPerImage[image++]!;
    if (!Number.isInteger(count) || count < 1) throw new PromptError(`image ${image - 1}: invalid token count ${count}`);
    for (let k = 0; k < count; k++) out.push(id);
  }
  return out;
}
