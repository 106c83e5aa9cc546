/**
 * Text tokenizer for Hugging Face checkpoints (tokenizer.json + tokenizer_config.json and friends),
 * built on the components of `@huggingface/tokenizers` (normalizer, pre-tokenizer, BPE model,
 * decoder), with the added-token handling done here so that tokens can be added at run time
 * (a concept's `<bo>`, `<bo_0>`…) and behave exactly like the checkpoint's own added tokens.
 *
 * Added tokens (the file's and the runtime ones), matched the way the Rust `tokenizers` crate does:
 * - Tokens with `normalized: false` (all special tokens, and every runtime-added token) are found
 *   in the raw text first, leftmost match first and the longest one at a position, anywhere, even
 *   inside a word ("abc<bo>def"). `lstrip`/`rstrip` (default false) swallow whitespace on that side;
 *   otherwise the spaces around a token stay in the neighbouring text. `single_word` is honoured.
 * - Each stretch of text between them is normalized, split on the `normalized: true` added tokens,
 *   pre-tokenized and run through the BPE model on its own.
 * - SentencePiece "▁" prefix on those stretches follows the file, as HF does:
 *   * Metaspace pre-tokenizer with `prepend_scheme: "first"` (Llama converted with legacy=false):
 *     "▁" is prepended only to a stretch that starts at offset 0 of the whole text, and never when
 *     it already starts with a space. So "<bo> is" → [<bo>, "▁is"], "<bo>is" → [<bo>, "is"].
 *   * `prepend_scheme: "always"`: every stretch that does not start with a space gets "▁".
 *   * Legacy Llama files (normalizer Sequence[Prepend("▁"), Replace(" ", "▁")], no pre-tokenizer,
 *     what SentencePiece itself does per chunk): every stretch gets "▁", so "<bo> is" →
 *     [<bo>, "▁", "▁is"]-style ids (the well-known extra "▁" of legacy Llama tokenizers).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AddedToken as HfAddedToken, Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { renderChatTemplate, type ChatMessage, type ChatTemplateOptions } from './prompts.ts';

export class TokenizerError extends Error {
  /** The file the problem is in (a path or a file name), when there is one. */
  readonly file: string | undefined;
  constructor(message: string, options: { file?: string; cause?: unknown } = {}) {
    super(options.file === undefined ? message : `${options.file}: ${message}`, { cause: options.cause });
    this.name = 'TokenizerError';
    this.file = options.file;
  }
}

/** An added token (from the files or added at run time). */
export interface AddedTokenInfo {
  readonly content: string;
  readonly id: number;
  /** Skipped by `decode(…, {skipSpecialTokens: true})`. */
  readonly special: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly singleWord: boolean;
  /** Matched in normalized text (true) or in the raw text (false). */
  readonly normalized: boolean;
  /** Added with `addTokens` (removable), not read from the checkpoint. */
  readonly runtime: boolean;
}

export interface EncodeOptions {
  /** Add the BOS/EOS the checkpoint asks for (tokenizer_config add_bos_token/add_eos_token, else the post-processor). Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (special added tokens, BOS/EOS/PAD/UNK). Default false. */
  skipSpecialTokens?: boolean;
  /** HF's `clean_up_tokenization_spaces` (" ." → "." …). Default: the tokenizer_config value, else false. */
  cleanUpTokenizationSpaces?: boolean;
}

export interface AddTokensOptions {
  /** Explicit ids, one per token; by default the ids that follow the current last id. */
  ids?: readonly number[];
  /** Whether decode's skipSpecialTokens drops them. Default false (a concept's name must show in answers). */
  special?: boolean;
}

/** Incremental detokenizer for generation. */
export interface DecodeStream {
  /** New text made final by this token; '' while a multi-byte character is still incomplete. */
  push(id: number): string;
  /** Whatever text is still held back (e.g. an incomplete byte sequence, as U+FFFD); resets the stream. */
  flush(): string;
}

/** Token ids with the [start, end) UTF-16 offsets of the text each stands for (specials added by post-processing: [0, 0]). */
export interface EncodingWithOffsets {
  ids: number[];
  offsets: Array<[number, number]>;
}

/** The parsed contents of a checkpoint's tokenizer files. */
export interface TokenizerFiles {
  tokenizerJson: unknown;
  tokenizerConfig?: unknown;
  specialTokensMap?: unknown;
  generationConfig?: unknown;
  /** From chat_template.jinja or chat_template.json (the processor's template); preferred over tokenizer_config's. */
  chatTemplate?: string | null;
}

type Json = Record<string, unknown>;

const SUPPORTED_MODEL_TYPES = ['BPE'];
const POST_PROCESSOR_PROBE = '\u0000yollava-sequence\u0000';
const WHITESPACE = /\p{White_Space}/u;
const WORD_CHAR = /[\p{L}\p{N}_]/u;
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A token written as a string or as an AddedToken dict ({content: …}) in tokenizer_config / special_tokens_map. */
function tokenString(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  return null;
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.').replaceAll(' ?', '?').replaceAll(' !', '!').replaceAll(' ,', ',')
    .replaceAll(" ' ", "'").replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
}

interface AddedTokenMatch {
  token: AddedTokenInfo;
  /** Where the token's text is. */
  start: number;
  end: number;
  /** The text it takes out of the input, including whitespace swallowed by lstrip/rstrip. */
  spanStart: number;
  spanEnd: number;
}

/** Finds added tokens in text: leftmost first, longest at a position (the Rust crate's LeftmostLongest). */
class AddedTokenMatcher {
  private readonly byFirstChar = new Map<string, Array<{ text: string; token: AddedTokenInfo }>>();

  constructor(entries: Iterable<{ text: string; token: AddedTokenInfo }>) {
    for (const entry of entries) {
      if (entry.text.length === 0) continue;
      const list = this.byFirstChar.get(entry.text[0]!) ?? [];
      list.push(entry);
      this.byFirstChar.set(entry.text[0]!, list);
    }
    for (const list of this.byFirstChar.values()) list.sort((a, b) => b.text.length - a.text.length);
  }

  get isEmpty(): boolean {
    return this.byFirstChar.size === 0;
  }

  find(text: string): AddedTokenMatch[] {
    const matches: AddedTokenMatch[] = [];
    let previousEnd = 0;
    let i = 0;
    while (i < text.length) {
      const candidates = this.byFirstChar.get(text[i]!);
      const found = candidates?.find(
        (c) => text.startsWith(c.text, i) && (!c.token.singleWord || isWholeWord(text, i, i + c.text.length)),
      );
      if (!found) {
        i++;
        continue;
      }
      const end = i + found.text.length;
      let spanStart = i;
      let spanEnd = end;
      if (found.token.lstrip) while (spanStart > previousEnd && WHITESPACE.test(text[spanStart - 1]!)) spanStart--;
      if (found.token.rstrip) while (spanEnd < text.length && WHITESPACE.test(text[spanEnd]!)) spanEnd++;
      matches.push({ token: found.token, start: i, end, spanStart, spanEnd });
      previousEnd = spanEnd;
      i = spanEnd;
    }
    return matches;
  }
}

function isWholeWord(text: string, start: number, end: number): boolean {
  const before = start > 0 ? String.fromCodePoint(text.codePointAt(start - 1)!) : '';
  const after = end < text.length ? String.fromCodePoint(text.codePointAt(end)!) : '';
  return !(before && WORD_CHAR.test(before.at(-1)!)) && !(after && WORD_CHAR.test(after));
}

function findDecoderType(config: unknown, type: string): boolean {
  if (!isObject(config)) return false;
  if (config.type === type) return true;
  return Array.isArray(config.decoders) && config.decoders.some((d) => findDecoderType(d, type));
}

export class Tokenizer {
  private readonly hf: HfTokenizer;
  /** The file's added tokens, by content and by id. */
  private readonly fileAddedTokens: AddedTokenInfo[];
  private readonly runtimeByContent = new Map<string, AddedTokenInfo>();
  private readonly runtimeById = new Map<number, AddedTokenInfo>();
  private rawMatcher!: AddedTokenMatcher;
  private normalizedMatcher!: AddedTokenMatcher;
  private readonly specialIds = new Set<number>();
  private readonly prefixIds: number[];
  private readonly suffixIds: number[];
  private readonly baseVocabSize: number;
  private readonly byteLevel: boolean;
  private readonly byteFallback: boolean;
  private readonly cleanUpSpaces: boolean;

  readonly bosToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosToken: string | null;
  /** Ids that end generation: tokenizer_config's eos_token, then generation_config's eos_token_id(s). */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  /** The chat template: chat_template.jinja, else chat_template.json, else tokenizer_config's (its "default" if named). */
  readonly chatTemplate: string | null;

  private constructor(files: TokenizerFiles) {
    const source = 'tokenizer.json';
    if (!isObject(files.tokenizerJson)) throw new TokenizerError('not a JSON object', { file: source });
    const model = files.tokenizerJson.model;
    if (!isObject(model)) throw new TokenizerError('has no "model" object', { file: source });
    if (!SUPPORTED_MODEL_TYPES.includes(String(model.type))) {
      throw new TokenizerError(
        `unsupported model type ${JSON.stringify(model.type)} (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
        { file: source },
      );
    }
    if (!isObject(model.vocab) || !Array.isArray(model.merges)) {
      throw new TokenizerError('BPE model needs "vocab" (object) and "merges" (array)', { file: source });
    }
    const config: Json = isObject(files.tokenizerConfig) ? files.tokenizerConfig : {};
    const specialMap: Json = isObject(files.specialTokensMap) ? files.specialTokensMap : {};
    const generation: Json = isObject(files.generationConfig) ? files.generationConfig : {};

    // Added tokens: tokenizer.json's list, plus tokenizer_config's added_tokens_decoder entries it lacks
    // (transformers adds those at load time).
    const addedJson: Json[] = Array.isArray(files.tokenizerJson.added_tokens)
      ? files.tokenizerJson.added_tokens.filter(isObject)
      : [];
    const knownIds = new Set(addedJson.map((t) => t.id));
    if (isObject(config.added_tokens_decoder)) {
      for (const [id, entry] of Object.entries(config.added_tokens_decoder)) {
        if (!isObject(entry) || typeof entry.content !== 'string' || knownIds.has(Number(id))) continue;
        addedJson.push({ ...entry, id: Number(id) });
      }
    }
    for (const t of addedJson) {
      if (typeof t.content !== 'string' || !Number.isInteger(t.id)) {
        throw new TokenizerError(`invalid added token ${JSON.stringify(t)}`, { file: source });
      }
    }
    const hfJson: Json = {
      normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
      ...files.tokenizerJson,
      added_tokens: addedJson,
    };
    try {
      this.hf = new HfTokenizer(hfJson, config);
    } catch (error) {
      throw new TokenizerError(`cannot build the tokenizer: ${(error as Error).message}`, { file: source, cause: error });
    }

    this.fileAddedTokens = addedJson.map((t) => {
      const special = t.special === true;
      return {
        content: t.content as string,
        id: t.id as number,
        special,
        lstrip: t.lstrip === true,
        rstrip: t.rstrip === true,
        singleWord: t.single_word === true,
        normalized: typeof t.normalized === 'boolean' ? t.normalized : !special,
        runtime: false,
      };
    });
    this.baseVocabSize = this.hfModel().vocab.length;
    this.byteLevel = findDecoderType(files.tokenizerJson.decoder, 'ByteLevel');
    this.byteFallback = model.byte_fallback === true;
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;

    const lookup = (name: string): string | null => tokenString(config[name]) ?? tokenString(specialMap[name]);
    const idOf = (token: string | null): number | null => (token === null ? null : this.tokenToId(token) ?? null);
    const generationId = (key: string): number | null =>
      typeof generation[key] === 'number' ? (generation[key] as number) : null;

    // BOS comes from the tokenizer files only: Qwen2 has none although its generation_config names one.
    this.bosToken = lookup('bos_token');
    this.bosTokenId = idOf(this.bosToken);
    this.eosToken = lookup('eos_token');
    const eosIds: number[] = [];
    const eosFromConfig = idOf(this.eosToken);
    if (eosFromConfig !== null) eosIds.push(eosFromConfig);
    const generationEos = generation.eos_token_id;
    for (const id of Array.isArray(generationEos) ? generationEos : [generationEos]) {
      if (typeof id === 'number' && !eosIds.includes(id)) eosIds.push(id);
    }
    this.eosTokenIds = eosIds;
    this.padTokenId = idOf(lookup('pad_token')) ?? generationId('pad_token_id');
    this.unkTokenId = idOf(lookup('unk_token')) ?? this.hfModel().unk_token_id ?? null;

    for (const t of this.fileAddedTokens) if (t.special) this.specialIds.add(t.id);
    for (const id of [this.bosTokenId, this.padTokenId, this.unkTokenId, ...this.eosTokenIds]) {
      if (id !== null) this.specialIds.add(id);
    }

    // BOS/EOS around a sequence. LlamaTokenizerFast rebuilds its post-processor from tokenizer_config's
    // add_bos_token/add_eos_token at load time, so those flags win when present.
    if (typeof config.add_bos_token === 'boolean' || typeof config.add_eos_token === 'boolean') {
      this.prefixIds = config.add_bos_token === true && this.bosTokenId !== null ? [this.bosTokenId] : [];
      this.suffixIds = config.add_eos_token === true && eosFromConfig !== null ? [eosFromConfig] : [];
    } else if (this.hf.post_processor) {
      const tokens = this.hf.post_processor([POST_PROCESSOR_PROBE], null, true).tokens;
      const at = tokens.indexOf(POST_PROCESSOR_PROBE);
      const toId = (t: string): number => {
        const id = this.tokenToId(t);
        if (id === undefined) throw new TokenizerError(`post-processor token ${JSON.stringify(t)} is not in the vocabulary`, { file: source });
        return id;
      };
      this.prefixIds = tokens.slice(0, at).map(toId);
      this.suffixIds = tokens.slice(at + 1).map(toId);
    } else {
      this.prefixIds = [];
      this.suffixIds = [];
    }

    this.chatTemplate = files.chatTemplate ?? chatTemplateFromConfig(config.chat_template);
    this.rebuildMatchers();
  }

  /** Reads a checkpoint directory (tokenizer.json required; the other files when present). */
  static async fromDirectory(dir: string): Promise<Tokenizer> {
    const tokenizerJson = await readJson(dir, 'tokenizer.json', true);
    const tokenizerConfig = await readJson(dir, 'tokenizer_config.json', false);
    const specialTokensMap = await readJson(dir, 'special_tokens_map.json', false);
    const generationConfig = await readJson(dir, 'generation_config.json', false);
    let chatTemplate: string | null = await readText(dir, 'chat_template.jinja');
    if (chatTemplate === null) {
      const json = await readJson(dir, 'chat_template.json', false);
      if (json !== undefined) {
        const template = isObject(json) ? json.chat_template : undefined;
        if (typeof template !== 'string') {
          throw new TokenizerError('expected {"chat_template": "<jinja text>"}', { file: join(dir, 'chat_template.json') });
        }
        chatTemplate = template;
      }
    }
    try {
      return new Tokenizer({ tokenizerJson, tokenizerConfig, specialTokensMap, generationConfig, chatTemplate });
    } catch (error) {
      if (error instanceof TokenizerError && error.file === 'tokenizer.json') {
        throw new TokenizerError(error.message.slice('tokenizer.json: '.length), { file: join(dir, 'tokenizer.json'), cause: error.cause });
      }
      throw error;
    }
  }

  /** Builds a tokenizer from already parsed files (nothing is read or written). */
  static fromFiles(files: TokenizerFiles): Tokenizer {
    return new Tokenizer(files);
  }

  /** Ids that encode puts before the text when addSpecialTokens is on (LLaVA-1.5: [BOS]; Qwen2: none). */
  get specialPrefixIds(): readonly number[] {
    return this.prefixIds;
  }

  /** Ids that encode puts after the text when addSpecialTokens is on. */
  get specialSuffixIds(): readonly number[] {
    return this.suffixIds;
  }

  /** Size of the id space: highest id in use (model vocab, added and runtime tokens) + 1. */
  get vocabSize(): number {
    let size = this.baseVocabSize;
    for (const id of this.runtimeById.keys()) size = Math.max(size, id + 1);
    return size;
  }

  /** All added tokens: the checkpoint's, then the runtime ones. */
  get addedTokens(): readonly AddedTokenInfo[] {
    return [...this.fileAddedTokens, ...this.runtimeByContent.values()];
  }

  tokenToId(token: string): number | undefined {
    return this.runtimeByContent.get(token)?.id ?? this.hfModel().tokens_to_ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.runtimeById.get(id)?.content ?? this.hfModel().vocab[id];
  }

  isSpecialTokenId(id: number): boolean {
    return this.specialIds.has(id) || this.runtimeById.get(id)?.special === true;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.encodeInternal(text, options, false).ids;
  }

  /** Like encode, with each token's character range in `text` (for loss masks over answer spans). */
  encodeWithOffsets(text: string, options: EncodeOptions = {}): EncodingWithOffsets {
    return this.encodeInternal(text, options, true);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    const tokens: string[] = [];
    for (const id of ids) {
      if (skip && this.isSpecialTokenId(id)) continue;
      // Ids with no token (e.g. unused embedding rows) are dropped, as HF does.
      const token = this.idToToken(id);
      if (token !== undefined) tokens.push(token);
    }
    if (tokens.length === 0) return '';
    const text = this.hf.decoder ? this.hf.decoder(tokens) : tokens.join(' ');
    return options.cleanUpTokenizationSpaces ?? this.cleanUpSpaces ? cleanUpTokenization(text) : text;
  }

  /**
   * Streaming detokenizer. Each push decodes a short window of recent ids and returns the text beyond
   * what the window's older part already produced, holding text back while it ends in U+FFFD (an
   * incomplete UTF-8 sequence from byte-fallback / byte-level tokens). The concatenation of all pushes
   * and the final flush equals `decode(allIds, options)` (without clean-up of tokenization spaces).
   */
  createDecodeStream(options: { skipSpecialTokens?: boolean } = {}): DecodeStream {
    const decodeOptions: DecodeOptions = { skipSpecialTokens: options.skipSpecialTokens ?? false, cleanUpTokenizationSpaces: false };
    let window: number[] = [];
    let prefix = '';
    // Index in `window` where the ids not yet turned into text begin.
    let pending = 0;
    return {
      push: (id: number): string => {
        window.push(id);
        const text = this.decode(window, decodeOptions);
        if (text.length <= prefix.length || text.endsWith('\uFFFD')) return '';
        if (!text.startsWith(prefix)) {
          throw new TokenizerError(`streaming decode: text ${JSON.stringify(text)} does not extend ${JSON.stringify(prefix)}`);
        }
        const fresh = text.slice(prefix.length);
        // Keep the ids that produced `fresh` as context for the next token (decoders strip a leading space at the start).
        window = window.slice(pending);
        prefix = this.decode(window, decodeOptions);
        pending = window.length;
        return fresh;
      },
      flush: (): string => {
        const text = this.decode(window, decodeOptions);
        const rest = text.startsWith(prefix) ? text.slice(prefix.length) : '';
        window = [];
        prefix = '';
        pending = 0;
        return rest;
      },
    };
  }

  /** Renders this checkpoint's chat template, with its BOS/EOS strings as bos_token/eos_token. */
  applyChatTemplate(messages: readonly ChatMessage[], options: Omit<ChatTemplateOptions, 'bosToken' | 'eosToken'> = {}): string {
    if (this.chatTemplate === null) throw new TokenizerError('this checkpoint has no chat template');
    return renderChatTemplate(this.chatTemplate, messages, { ...options, bosToken: this.bosToken, eosToken: this.eosToken });
  }

  /**
   * Adds tokens at run time (nothing is written to disk). They are matched atomically anywhere in
   * text, like HF added tokens with lstrip = rstrip = false and normalized = false: surrounding
   * spaces stay in the neighbouring text (see the file comment for the "▁" prefix rule).
   * Returns their ids: the ones after the current last id, or `options.ids`.
   */
  addTokens(tokens: readonly string[], options: AddTokensOptions = {}): number[] {
    if (options.ids !== undefined && options.ids.length !== tokens.length) {
      throw new TokenizerError(`addTokens: ${tokens.length} tokens but ${options.ids.length} ids`);
    }
    const seen = new Set<string>();
    const usedIds = new Set<number>();
    let nextId = this.vocabSize;
    const ids = tokens.map((content, i) => {
      if (content.length === 0) throw new TokenizerError('addTokens: empty token');
      if (seen.has(content)) throw new TokenizerError(`addTokens: ${JSON.stringify(content)} given twice`);
      seen.add(content);
      const existing = this.tokenToId(content);
      if (existing !== undefined) {
        throw new TokenizerError(`addTokens: ${JSON.stringify(content)} is already in the vocabulary (id ${existing})`);
      }
      const id = options.ids?.[i] ?? nextId++;
      if (!Number.isInteger(id) || id < 0) throw new TokenizerError(`addTokens: invalid id ${id}`);
      if (usedIds.has(id) || this.idToToken(id) !== undefined) {
        throw new TokenizerError(`addTokens: id ${id} is already used`);
      }
      usedIds.add(id);
      return id;
    });
    tokens.forEach((content, i) => {
      const info: AddedTokenInfo = {
        content, id: ids[i]!, special: options.special ?? false,
        lstrip: false, rstrip: false, singleWord: false, normalized: false, runtime: true,
      };
      this.runtimeByContent.set(content, info);
      this.runtimeById.set(info.id, info);
    });
    this.rebuildMatchers();
    return ids;
  }

  /** Removes tokens added with addTokens (the checkpoint's own tokens cannot be removed). */
  removeTokens(tokens: readonly string[]): void {
    for (const content of tokens) {
      if (!this.runtimeByContent.has(content)) {
        throw new TokenizerError(`removeTokens: ${JSON.stringify(content)} was not added at run time`);
      }
    }
    for (const content of tokens) {
      const info = this.runtimeByContent.get(content);
      if (!info) continue;
      this.runtimeByContent.delete(content);
      this.runtimeById.delete(info.id);
    }
    this.rebuildMatchers();
  }

  private hfModel(): NonNullable<HfTokenizer['model']> {
    const model = this.hf.model;
    if (!model) throw new TokenizerError('tokenizer has no model');
    return model;
  }

  private rebuildMatchers(): void {
    const all = [...this.fileAddedTokens, ...this.runtimeByContent.values()];
    this.rawMatcher = new AddedTokenMatcher(all.filter((t) => !t.normalized).map((token) => ({ text: token.content, token })));
    const normalizer = this.hf.normalizer;
    this.normalizedMatcher = new AddedTokenMatcher(
      all.filter((t) => t.normalized).map((token) => ({ text: normalizer ? normalizer(token.content) : token.content, token })),
    );
    // The byte-level decoder must pass added tokens through unchanged rather than map their characters to bytes.
    if (this.hf.decoder) {
      this.hf.decoder.added_tokens = all.map(
        (t) => new HfAddedToken({ content: t.content, id: t.id, special: t.special, normalized: t.normalized }),
      );
    }
  }

  private encodeInternal(text: string, options: EncodeOptions, withOffsets: boolean): EncodingWithOffsets {
    const ids: number[] = [];
    const offsets: Array<[number, number]> = [];
    const addSpecial = options.addSpecialTokens ?? true;
    if (addSpecial) for (const id of this.prefixIds) { ids.push(id); offsets.push([0, 0]); }

    let cursor = 0;
    const encodeStretch = (start: number, end: number): void => {
      if (end > start) this.encodePlainText(text.slice(start, end), start, ids, withOffsets ? offsets : null);
    };
    for (const match of this.rawMatcher.find(text)) {
      encodeStretch(cursor, match.spanStart);
      ids.push(match.token.id);
      offsets.push([match.start, match.end]);
      cursor = match.spanEnd;
    }
    encodeStretch(cursor, text.length);

    if (addSpecial) for (const id of this.suffixIds) { ids.push(id); offsets.push([0, 0]); }
    return withOffsets ? { ids, offsets } : { ids, offsets: [] };
  }

  /** A stretch of text with no raw-matched added token in it; `start` is its offset in the whole text. */
  private encodePlainText(text: string, start: number, ids: number[], offsets: Array<[number, number]> | null): void {
    const normalizer = this.hf.normalizer;
    const normalized = normalizer ? normalizer(text) : text;
    if (normalized.length === 0) return;
    // Offsets are exact when normalization kept the text apart from SentencePiece's "▁" for spaces
    // (and a prepended "▁"); otherwise each token gets the whole stretch.
    const mappable = offsets !== null && (normalized === text || normalized.replace(/^\u2581/, '').replaceAll('\u2581', ' ') === text.replaceAll('\u2581', ' '));

    const pieces: Array<{ text: string; token?: AddedTokenInfo }> = [];
    if (this.normalizedMatcher.isEmpty) {
      pieces.push({ text: normalized });
    } else {
      let cursor = 0;
      for (const match of this.normalizedMatcher.find(normalized)) {
        if (match.spanStart > cursor) pieces.push({ text: normalized.slice(cursor, match.spanStart) });
        pieces.push({ text: match.token.content, token: match.token });
        cursor = match.spanEnd;
      }
      if (cursor < normalized.length) pieces.push({ text: normalized.slice(cursor) });
    }

    const model = this.hfModel();
    const stretchTokens: string[] = [];
    const stretchIds: number[] = [];
    pieces.forEach((piece, index) => {
      if (piece.token) {
        stretchTokens.push(piece.token.content);
        stretchIds.push(piece.token.id);
        return;
      }
      // Metaspace prepend_scheme "first" prepends "▁" only to text at offset 0 of the whole input.
      const sectionIndex = start === 0 && index === 0 ? 0 : 1;
      const words = this.hf.pre_tokenizer ? this.hf.pre_tokenizer(piece.text, { section_index: sectionIndex }) : [piece.text];
      for (const token of model(words)) {
        const id = model.tokens_to_ids.get(token) ?? this.unkTokenId;
        if (id === null || id === undefined) throw new TokenizerError(`token ${JSON.stringify(token)} has no id and there is no unk token`);
        stretchTokens.push(token);
        stretchIds.push(id);
      }
    });
    ids.push(...stretchIds);
    if (offsets === null) return;
    if (!mappable || !this.normalizedMatcher.isEmpty) {
      for (let i = 0; i < stretchIds.length; i++) offsets.push([start, start + text.length]);
      return;
    }
    offsets.push(...this.alignOffsets(text, start, stretchTokens));
  }

  /** Character ranges of tokens that spell `text` (plus possibly one prepended "▁"), from their byte lengths. */
  private alignOffsets(text: string, start: number, tokens: readonly string[]): Array<[number, number]> {
    const byteLengths = tokens.map((token) => {
      if (this.byteLevel) return [...token].length;
      if (this.byteFallback && BYTE_TOKEN.test(token)) return 1;
      return utf8Length(token.replaceAll('\u2581', ' '));
    });
    const total = byteLengths.reduce((a, b) => a + b, 0);
    const textBytes = utf8Length(text);
    const extra = total - textBytes;
    if (extra !== 0 && extra !== 1) return tokens.map(() => [start, start + text.length]);
    // charAtByte[b] = UTF-16 index of the character holding byte b; charAtByte[textBytes] = text.length.
    const charAtByte = new Array<number>(textBytes + 1);
    let byte = 0;
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      const units = cp > 0xffff ? 2 : 1;
      const n = utf8Length(String.fromCodePoint(cp));
      for (let k = 0; k < n; k++) charAtByte[byte + k] = i;
      byte += n;
      i += units;
    }
    charAtByte[textBytes] = text.length;
    const charEndOfByte = (b: number): number => {
      // End of the character that holds byte b.
      let e = b + 1;
      while (e < textBytes && charAtByte[e] === charAtByte[b]) e++;
      return charAtByte[e]!;
    };
    const result: Array<[number, number]> = [];
    let position = -extra;
    for (const length of byteLengths) {
      const from = Math.max(position, 0);
      const to = position + length;
      position = to;
      if (to <= from) {
        result.push([start + charAtByte[from]!, start + charAtByte[from]!]);
      } else {
        result.push([start + charAtByte[from]!, start + charEndOfByte(to - 1)]);
      }
    }
    return result;
  }
}

function chatTemplateFromConfig(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    // Named templates: [{name: "default", template: "…"}, {name: "tool_use", …}].
    const named = value.filter(isObject);
    const chosen = named.find((t) => t.name === 'default') ?? named[0];
    return typeof chosen?.template === 'string' ? chosen.template : null;
  }
  return null;
}

async function readText(dir: string, name: string): Promise<string | null> {
  const path = join(dir, name);
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TokenizerError(`cannot read: ${(error as Error).message}`, { file: path, cause: error });
  }
}

async function readJson(dir: string, name: string, required: boolean): Promise<unknown> {
  const path = join(dir, name);
  const text = await readText(dir, name);
  if (text === null) {
    if (required) throw new TokenizerError(`missing (a Hugging Face fast-tokenizer file is required in ${dir})`, { file: path });
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new TokenizerError(`invalid JSON: ${(error as Error).message}`, { file: path, cause: error });
  }
}
