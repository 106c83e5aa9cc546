/**
 * Asking the model one evaluation question under a method's context, greedily, and reading the
 * probability of its first answer token between two choices ("Yes"/"No", "A"/"B").
 *
 * A context is what a method adds to the plain prompt: text right after the image (a
 * description, captions, or a concept's "<bo> is <bo_0>…."), concept rows, and reference
 * photos put before the test photo (image prompting). The prompt is
 *
 *   {system} USER: [<image>\nThis is a photo of <sks>.\n]* [<image>\n][{context text} ]{question} ASSISTANT:
 *
 * (in llava_v1; a chat template puts the same user text in its user turn).
 *
 * Everything up to the last image does not depend on the method or the subject, so its KV
 * cache is computed once per photo (set) and shared by every method and subject (causal
 * attention: the answer is the same as a full recompute).
 */
import { createHash } from 'node:crypto';
import type { KVCache } from '../models/kvCache.ts';
import type { ExtraTokens } from '../models/llava.ts';
import { IMAGE_TOKEN } from '../models/prompts.ts';
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import { firstAnswerTokenId, yesNoTokenIds } from '../personalize/conceptPrompts.ts';
import { PrefixCache } from '../personalize/PrefixCache.ts';
import { parseOptionLetter, parseYesNo, type OptionLetter, type YesNo } from './parseAnswers.ts';

export const RECOGNITION_QUESTION = 'Can you see if {name} is in this photo? Answer with a single word or phrase.';

export function recognitionQuestion(identifier: string): string {
  return RECOGNITION_QUESTION.replace('{name}', identifier);
}

export function multipleChoiceQuestion(question: string, options: { readonly A: string; readonly B: string }): string {
  return `Question: ${question}\nOptions:\nA. ${options.A}\nB. ${options.B}\nPlease give a single character from the options above.`;
}

export interface PromptContext {
  /** How the subject is named in questions: "<sks>" (baselines) or the concept's "<bo>". */
  readonly identifier: string;
  /** Text put right after the image(s), before the question; null for none. */
  readonly text: string | null;
  /** Photos shown before the test photo, each captioned "This is a photo of <identifier>." */
  readonly referencePhotos: readonly string[];
  /** Concept rows the prompt's concept tokens read. */
  readonly extra?: ExtraTokens;
}

export interface Answer {
  /** The generated text, up to the first line break. */
  readonly text: string;
  /** P(first choice) / (P(first) + P(second)) at the first answer token (NaN when both start with the same token). */
  readonly probability: number;
}

export interface RecognitionAnswer extends Answer {
  readonly parsed: YesNo | null;
}

export interface OptionAnswer extends Answer {
  readonly parsed: OptionLetter | null;
}

export class ModelAsker {
  readonly prefixes: PrefixCache;
  private readonly yesNo: { yes: number; no: number };
  private readonly letters: { A: number; B: number };
  private textOnlyProbe: number[] | null = null;
  private readonly answers = new Map<string, Answer>();
  /** Model calls made (each a prompt answered), for throughput. */
  questions = 0;

  constructor(readonly vlm: VisionLanguageModel, options: { prefixCacheBytes?: number } = {}) {
    this.prefixes = new PrefixCache(options.prefixCacheBytes);
    this.yesNo = yesNoTokenIds(vlm);
    this.letters = { A: firstAnswerTokenId(vlm, 'A'), B: firstAnswerTokenId(vlm, 'B') };
  }

  /** The prompt text of a question under a context, with or without a test photo. */
  promptText(context: PromptContext, question: string, photo: string | null): string {
    const user = context.text ? `${context.text} ${question}` : question;
    if (context.referencePhotos.length === 0) return this.vlm.prompt([{ user }], { image: photo !== null });
    const references = context.referencePhotos.map(() => `${IMAGE_TOKEN}\nThis is a photo of ${context.identifier}.\n`).join('');
    return this.vlm.prompt([{ user: `${references}${photo !== null ? `${IMAGE_TOKEN}\n` : ''}${user}` }], { image: false });
  }

  /** Tokens a context adds to the prompt: its text, and each reference photo's image tokens and caption. */
  contextTokens(context: PromptContext): number {
    const count = (text: string) => this.vlm.tokenizer.encode(text, { addSpecialTokens: false }).length;
    const references = context.referencePhotos.length * (this.vlm.model.imageTokenCount + count(`This is a photo of ${context.identifier}.\n`));
    return (context.text ? count(context.text) : 0) + references;
  }

  /** Ids split where the shared prefix ends (after the last image; for text-only prompts, where prompts start to differ). */
  private split(ids: number[]): { prefix: number[]; suffix: number[] } {
    const imageId = this.vlm.config.imageTokenId;
    let at = ids.lastIndexOf(imageId) + 1;
    if (at === 0) {
      this.textOnlyProbe ??= this.vlm.encode(this.vlm.prompt([{ user: '?' }], { image: false }));
      const probe = this.textOnlyProbe;
      while (at < ids.length && at < probe.length && ids[at] === probe[at]) at++;
    }
    at = Math.min(at, ids.length - 1); // at least one token to run after the prefix
    return { prefix: ids.slice(0, at), suffix: ids.slice(at) };
  }

  private async prefixCache(prefix: number[], photos: readonly string[]): Promise<KVCache> {
    const key = createHash('sha1').update(photos.join('\0')).update('\0').update(Int32Array.from(prefix)).digest('hex');
    const images: Float32Array[] = [];
    for (const photo of photos) images.push(await this.vlm.imageFeatures(photo));
    // A prefix with a reference photo serves one subject only: kept out of the shared cache, so
    // that it does not push out the single-photo prefixes every method and subject reuse.
    if (photos.length > 1) return this.vlm.model.prefill({ ids: prefix, images }, 64);
    return this.prefixes.get(key, () => this.vlm.model.prefill({ ids: prefix, images }, 64));
  }

  /** Greedy answer (first line) and the first-token probability of `first` against `second`. */
  async ask(context: PromptContext, question: string, photo: string | null, choices: { first: number; second: number }, maxNewTokens: number, signal?: AbortSignal): Promise<Answer> {
    const photos = [...context.referencePhotos, ...(photo !== null ? [photo] : [])];
    const ids = this.vlm.encode(this.promptText(context, question, photo));
    // Without concept rows the same prompt gets the same answer: the vanilla baseline asks every
    // subject's question about "<sks>" on the same photos, so it is answered once.
    const memoKey = context.extra ? null : createHash('sha1').update(photos.join('\0')).update('\0').update(Int32Array.from([...ids, choices.first, choices.second, maxNewTokens])).digest('hex');
    const memo = memoKey === null ? undefined : this.answers.get(memoKey);
    if (memo) return memo;
    const answer = await this.run(ids, photos, context.extra, choices, maxNewTokens, signal);
    if (memoKey !== null) {
      if (this.answers.size >= 100_000) this.answers.clear();
      this.answers.set(memoKey, answer);
    }
    return answer;
  }

  private async run(ids: number[], photos: readonly string[], extra: ExtraTokens | undefined, choices: { first: number; second: number }, maxNewTokens: number, signal?: AbortSignal): Promise<Answer> {
    const { prefix, suffix } = this.split(ids);
    const cache = await this.prefixCache(prefix, photos);
    const past = cache.length;
    const tokenizer = this.vlm.tokenizer;
    try {
      const result = await this.vlm.model.generate({ ids: suffix, extra }, {
        cache, maxNewTokens, keepLogits: true, signal, stopTokenIds: tokenizer.eosTokenIds,
        shouldStop: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }).includes('\n'),
      });
      signal?.throwIfAborted(); // a cut-off answer is never scored
      const logits = result.logits[0];
      // A tokenizer whose first answer token is the same for both choices (a bare "▁") gives no score.
      const probability = choices.first === choices.second ? NaN : 1 / (1 + Math.exp(logits[choices.second] - logits[choices.first]));
      const text = tokenizer.decode(result.ids, { skipSpecialTokens: true }).split('\n')[0].trim();
      this.questions++;
      return { text, probability };
    } finally {
      cache.truncate(past);
    }
  }

  /** "Can you see if <name> is in this photo?" — the answer, yes/no, and P(Yes). */
  async recognize(context: PromptContext, photo: string, signal?: AbortSignal): Promise<RecognitionAnswer> {
    const answer = await this.ask(context, recognitionQuestion(context.identifier), photo, { first: this.yesNo.yes, second: this.yesNo.no }, 8, signal);
    return { ...answer, parsed: parseYesNo(answer.text) };
  }

  /** A two-option question ("<sks>" in it becomes the context's identifier) — the letter and P(A). */
  async choose(context: PromptContext, question: string, options: { readonly A: string; readonly B: string }, photo: string | null, signal?: AbortSignal): Promise<OptionAnswer> {
    const asked = multipleChoiceQuestion(question.split('<sks>').join(context.identifier), options);
    const answer = await this.ask(context, asked, photo, { first: this.letters.A, second: this.letters.B }, 12, signal);
    return { ...answer, parsed: parseOptionLetter(answer.text, options) };
  }

  /** Free text (captions, summaries): greedy, ending at a blank line. */
  async describe(prompt: string, photo: string | null, maxNewTokens: number, signal?: AbortSignal): Promise<string> {
    const text = this.vlm.prompt([{ user: prompt }], { image: photo !== null });
    const images = photo !== null ? [await this.vlm.imageFeatures(photo)] : [];
    const result = await this.vlm.generate(text, images, { maxNewTokens, stopStrings: ['\n\n'], signal });
    signal?.throwIfAborted();
    return result.text.replace(/\s+/g, ' ').trim();
  }
}
