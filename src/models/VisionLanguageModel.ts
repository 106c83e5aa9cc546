/**
 * A checkpoint ready to talk: the LLaVA model with its tokenizer and image processor, the
 * prompt format, image features computed once per photo, and text generation with streamed
 * output. This is the object the personalization and interface layers use.
 */
import { statSync } from 'node:fs';
import { cropRegion, type CropWindow } from './image/cropRegion.ts';
import { horizontalFlip } from './image/horizontalFlip.ts';
import { ImageProcessor } from './image/ImageProcessor.ts';
import { decodeImage } from './image/decodeImage.ts';
import type { RgbImage } from './image/RgbImage.ts';
import type { LlavaConfig } from './config.ts';
import { loadLlava, type LoadOptions } from './loadLlava.ts';
import type { ExtraTokens, GenerateResult, LlavaModel } from './llava.ts';
import { expandImageTokens, IMAGE_TOKEN, llavaV1GenerationPrompt, llavaV1TrainingPrompt, renderChatTemplate, type LlavaV1Turn, type TextSpan } from './prompts.ts';
import { Tokenizer } from './Tokenizer.ts';

export type PromptFormat = 'llava_v1' | 'chat_template';

export interface ChatTurn {
  readonly user: string;
  readonly assistant?: string;
}

export interface PromptOptions {
  /** Whether the first user turn carries the image (default: false). */
  readonly image?: boolean;
  /** llava_v1's system prompt (default LLaVA's). */
  readonly system?: string;
  /** Text right after the image in the first user turn (a concept's "<bo> is <bo_0>…."). */
  readonly personalization?: string;
}

export interface GenerateTextOptions {
  readonly maxNewTokens?: number;
  /** 0 (default) is greedy. */
  readonly temperature?: number;
  readonly topP?: number;
  readonly seed?: number;
  /** Generation ends when the text ends with one of these (they are cut from the answer). */
  readonly stopStrings?: readonly string[];
  readonly onText?: (chunk: string) => void;
  readonly signal?: AbortSignal;
  readonly extra?: ExtraTokens;
}

export interface GeneratedText extends GenerateResult {
  readonly text: string;
  readonly promptTokens: number;
}

export class VisionLanguageModel {
  private readonly featureCache = new Map<string, Float32Array>();

  constructor(
    readonly model: LlavaModel,
    readonly tokenizer: Tokenizer,
    readonly imageProcessor: ImageProcessor,
    readonly promptFormat: PromptFormat,
    /** Where it was loaded from (identifies the base model of a concept). */
    readonly source: string,
  ) {
    const imageId = tokenizer.tokenToId(IMAGE_TOKEN);
    if (imageId === undefined || imageId === null) {
      tokenizer.addTokens([IMAGE_TOKEN], { ids: [model.config.imageTokenId], special: true });
    } else if (imageId !== model.config.imageTokenId) {
      throw new Error(`${source}: the tokenizer maps ${IMAGE_TOKEN} to ${imageId} but config.json says image_token_index ${model.config.imageTokenId}`);
    }
  }

  /** Loads model, tokenizer and image processor from a checkpoint folder. */
  static async load(dir: string, options: LoadOptions & { promptFormat?: PromptFormat } = {}): Promise<VisionLanguageModel> {
    const { model, config } = loadLlava(dir, options);
    const tokenizer = await Tokenizer.fromDirectory(dir);
    const imageProcessor = ImageProcessor.fromModelDir(dir);
    const format = options.promptFormat ?? defaultPromptFormat(config, tokenizer);
    return new VisionLanguageModel(model, tokenizer, imageProcessor, format, dir);
  }

  get config(): LlavaConfig { return this.model.config; }

  /** The prompt text (with `<image>` where the image goes), ending where the model's answer starts. */
  prompt(turns: readonly ChatTurn[], options: PromptOptions = {}): string {
    if (this.promptFormat === 'llava_v1') {
      return llavaV1GenerationPrompt(turns as LlavaV1Turn[], { image: options.image ?? false, system: options.system, personalization: options.personalization, endOfAnswer: this.tokenizer.eosToken ?? '</s>' });
    }
    return this.renderChat(turns, options, true);
  }

  /**
   * A training conversation (every turn answered) and, per answer, the characters the loss is
   * taken on: the answer and the token that closes it ("</s>" in llava_v1, the template's end of
   * turn such as "<|im_end|>"), so that the model learns to stop. With a chat template each answer
   * must follow exactly the text `prompt` gives for the turns before it: what is learned is then
   * what generation continues.
   */
  trainingPrompt(turns: readonly Required<ChatTurn>[], options: PromptOptions = {}): { text: string; answerSpans: TextSpan[] } {
    if (this.promptFormat === 'llava_v1') {
      return llavaV1TrainingPrompt(turns, { image: options.image ?? false, system: options.system, personalization: options.personalization, endOfAnswer: this.tokenizer.eosToken ?? '</s>' });
    }
    const text = this.renderChat(turns, options, false);
    const closers = this.endOfTurnStrings();
    const answerSpans = turns.map((turn, i) => {
      const prefix = this.renderChat([...turns.slice(0, i), { user: turn.user }], options, true);
      // Whitespace may separate them ("ASSISTANT: Yes"): the model writes it as part of its answer.
      const start = prefix.length + (/^[ \t]*/.exec(text.slice(prefix.length))?.[0].length ?? 0);
      if (!text.startsWith(prefix) || !text.startsWith(turn.assistant, start)) {
        throw new Error(`${this.source}: its chat template does not write answer ${i + 1} right after the prompt it gives for generation, so training could not learn what generation continues`);
      }
      const end = start + turn.assistant.length;
      const closer = closers.find((c) => text.startsWith(c, end));
      if (closer === undefined) throw new Error(`${this.source}: its chat template does not close answer ${i + 1} with an end-of-turn token (${closers.join(', ') || 'none known'}), so training could not teach the model to stop`);
      return { start, end: end + closer.length };
    });
    return { text, answerSpans };
  }

  /** The texts of the tokens that end an answer (generation_config's eos ids, the tokenizer's eos). */
  private endOfTurnStrings(): string[] {
    const strings = this.tokenizer.eosTokenIds.map((id) => this.tokenizer.idToToken(id)).filter((s): s is string => typeof s === 'string' && s.length > 0);
    if (this.tokenizer.eosToken) strings.push(this.tokenizer.eosToken);
    return [...new Set(strings)];
  }

  private renderChat(turns: readonly ChatTurn[], options: PromptOptions, addGenerationPrompt: boolean): string {
    const template = this.tokenizer.chatTemplate;
    if (!template) throw new Error(`${this.source}: the tokenizer has no chat template; use promptFormat 'llava_v1'`);
    const messages = turns.flatMap((turn, i) => {
      const text = i === 0 && options.personalization ? `${options.personalization} ${turn.user}` : turn.user;
      const user = { role: 'user' as const, content: i === 0 && options.image ? [{ type: 'image' as const }, { type: 'text' as const, text }] : text };
      return turn.assistant === undefined ? [user] : [user, { role: 'assistant' as const, content: turn.assistant }];
    });
    return renderChatTemplate(template, messages, { addGenerationPrompt, bosToken: this.tokenizer.bosToken, eosToken: this.tokenizer.eosToken });
  }

  /** Token ids of a prompt text, image tokens expanded to one per feature row. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    const ids = this.tokenizer.encode(text, { addSpecialTokens: options.addSpecialTokens ?? true });
    const images = ids.filter((id) => id === this.config.imageTokenId).length;
    return expandImageTokens(ids, this.config.imageTokenId, Array(images).fill(this.model.imageTokenCount));
  }

  /**
   * Projected features of a photo (a file path or decoded pixels), computed once per file version;
   * `crop` (before `flip`) and `flip` are training augmentations.
   */
  async imageFeatures(image: string | RgbImage, options: { flip?: boolean; crop?: CropWindow } = {}): Promise<Float32Array> {
    let key: string | null = null;
    if (typeof image === 'string') {
      const stat = statSync(image, { throwIfNoEntry: false });
      const crop = options.crop ? [options.crop.left, options.crop.top, options.crop.width, options.crop.height].join(',') : '';
      key = `${image}|${stat?.mtimeMs}|${stat?.size}|${options.flip ? 'flip' : ''}|${crop}`;
      const cached = this.featureCache.get(key);
      if (cached) return cached;
    }
    let pixels = typeof image === 'string' ? await decodeImage(image) : image;
    if (options.crop) pixels = cropRegion(pixels, options.crop);
    if (options.flip) pixels = horizontalFlip(pixels);
    const features = this.model.encodeImage(this.imageProcessor.preprocess(pixels).pixelValues);
    if (key) {
      if (this.featureCache.size >= 512) this.featureCache.delete(this.featureCache.keys().next().value!);
      this.featureCache.set(key, features);
    }
    return features;
  }

  /** Generates an answer to a prompt text (see `prompt`), streaming text through onText. */
  async generate(promptText: string, images: readonly Float32Array[], options: GenerateTextOptions = {}): Promise<GeneratedText> {
    const ids = this.encode(promptText);
    const text = this.textCollector(options);
    const result = await this.model.generate({ ids, images, extra: options.extra }, {
      maxNewTokens: options.maxNewTokens ?? 256,
      temperature: options.temperature,
      topP: options.topP,
      seed: options.seed,
      signal: options.signal,
      stopTokenIds: this.tokenizer.eosTokenIds,
      onToken: text.push,
      shouldStop: text.stopped,
    });
    return { ...result, text: text.finish(), promptTokens: ids.length };
  }

  /**
   * One greedy answer to the same prompt text shown with each of several image sets (e.g. one
   * photo each), decoded jointly (LlavaModel.generateJointly): the words most of them support.
   */
  async generateJointly(
    promptText: string, imageSets: readonly (readonly Float32Array[])[],
    options: Pick<GenerateTextOptions, 'maxNewTokens' | 'stopStrings' | 'onText' | 'signal' | 'extra'> = {},
  ): Promise<GeneratedText> {
    const ids = this.encode(promptText);
    const text = this.textCollector(options);
    const result = await this.model.generateJointly(imageSets.map((images) => ({ ids, images, extra: options.extra })), {
      maxNewTokens: options.maxNewTokens ?? 256,
      signal: options.signal,
      stopTokenIds: this.tokenizer.eosTokenIds,
      onToken: text.push,
      shouldStop: text.stopped,
    });
    return { ...result, text: text.finish(), promptTokens: ids.length };
  }

  /** Decodes generated ids as they come, streams them to onText and cuts the text at the first stop string. */
  private textCollector(options: Pick<GenerateTextOptions, 'stopStrings' | 'onText'>): { push: (id: number) => void; stopped: () => boolean; finish: () => string } {
    const stream = this.tokenizer.createDecodeStream({ skipSpecialTokens: true });
    const stopStrings = options.stopStrings ?? [];
    let text = '';
    let stopAt = -1;
    return {
      push: (id) => {
        const chunk = stream.push(id);
        text += chunk;
        for (const stop of stopStrings) {
          const at = text.indexOf(stop);
          if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (chunk && stopAt < 0) options.onText?.(chunk);
      },
      stopped: () => stopAt >= 0,
      finish: () => {
        const rest = stream.flush();
        text += rest;
        if (rest && stopAt < 0) options.onText?.(rest);
        return (stopAt >= 0 ? text.slice(0, stopAt) : text).trim();
      },
    };
  }
}

function defaultPromptFormat(config: LlavaConfig, tokenizer: Tokenizer): PromptFormat {
  // LLaVA-1.5 (Llama/Vicuna) was trained on llava_v1; Qwen2-based LLaVA on its ChatML template.
  return config.text.kind === 'qwen2' && tokenizer.chatTemplate ? 'chat_template' : 'llava_v1';
}
