/**
 * A small byte-pair-encoding trainer that writes a Llama-style (SentencePiece-converted)
 * tokenizer: Metaspace pre-tokenizer ("▁" for spaces, prepend_scheme "first"), the 256
 * `<0xNN>` byte-fallback tokens, `<unk>` `<s>` `</s>`, and `<image>` / `<pad>` as added special
 * tokens right after the learned vocabulary. No JS library trains BPE, so this is our own.
 *
 * Training mirrors what encoding will do, so that every learned merge is reachable: each text is
 * cut at the added tokens ("<image>", "</s>"…), every stretch gets its spaces replaced by "▁"
 * ("▁" prepended only at offset 0 of the text, as prepend_scheme "first"), and is split before
 * each "▁" into words. Merges never cross a word. Characters outside the alphabet (e.g. "\n")
 * are barriers: they are encoded through byte fallback and never merged. "<" and ">" are
 * tokens of their own that never merge, so that no learned token looks like "<bo>": the
 * personalization product adds its concept tokens ("<bo>", "<bo_0>"…) at run time, and a
 * vocabulary entry of the same text would clash with them.
 *
 * Deterministic: ties between pair counts are broken by the pair's text.
 */

export const SPIECE = '\u2581';
export const UNK_TOKEN = '<unk>';
export const BOS_TOKEN = '<s>';
export const EOS_TOKEN = '</s>';
export const IMAGE_TOKEN_TEXT = '<image>';
export const PAD_TOKEN = '<pad>';

export interface BpeTrainingOptions {
  /** Total vocabulary, specials, bytes and added tokens included. */
  readonly vocabSize: number;
  /** Strings that are added tokens (cut out of the texts before training). Default: the specials and <image>/<pad>. */
  readonly addedTokens?: readonly string[];
  /** Characters seen fewer times than this stay out of the alphabet (byte fallback). Default 1. */
  readonly minCharCount?: number;
}

export interface TrainedBpe {
  /** Token → id: specials 0–2, bytes 3–258, alphabet, merges; added tokens after. */
  readonly vocab: Record<string, number>;
  /** Merges in rank order, as [left, right]. */
  readonly merges: ReadonlyArray<readonly [string, string]>;
  /** Ids of the added tokens `<image>` and `<pad>`. */
  readonly imageTokenId: number;
  readonly padTokenId: number;
}

const DEFAULT_ADDED = [UNK_TOKEN, BOS_TOKEN, EOS_TOKEN, IMAGE_TOKEN_TEXT, PAD_TOKEN];

/** The "▁"-words of one text, as encoding with Metaspace (prepend "first", split) produces them. */
export function metaspaceWords(text: string, addedTokens: readonly string[] = DEFAULT_ADDED): string[] {
  const words: string[] = [];
  let stretches: Array<{ text: string; offset: number }> = [{ text, offset: 0 }];
  for (const token of addedTokens) {
    stretches = stretches.flatMap(({ text: piece, offset }) => {
      const parts = piece.split(token);
      let at = offset;
      return parts.map((part) => {
        const entry = { text: part, offset: at };
        at += part.length + token.length;
        return entry;
      });
    });
  }
  for (const { text: stretch, offset } of stretches) {
    if (stretch.length === 0) continue;
    let s = stretch.replaceAll(' ', SPIECE);
    if (offset === 0 && !s.startsWith(SPIECE)) s = SPIECE + s;
    // Split before every "▁" (Metaspace's MergedWithNext).
    let start = 0;
    for (let i = 1; i <= s.length; i++) {
      if (i === s.length || s[i] === SPIECE) {
        words.push(s.slice(start, i));
        start = i;
      }
    }
  }
  return words;
}

function byteToken(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** Trains merges on weighted texts. `texts` may repeat; `weights[i]` (default 1) counts text i that many times. */
export function trainBpe(texts: readonly string[], options: BpeTrainingOptions, weights?: readonly number[]): TrainedBpe {
  const added = options.addedTokens ?? DEFAULT_ADDED;
  const wordCounts = new Map<string, number>();
  texts.forEach((text, i) => {
    const w = weights?.[i] ?? 1;
    for (const word of metaspaceWords(text, added)) wordCounts.set(word, (wordCounts.get(word) ?? 0) + w);
  });
  // Alphabet: characters by count (then by code point), barriers excluded.
  const charCounts = new Map<string, number>();
  for (const [word, count] of wordCounts) for (const ch of word) charCounts.set(ch, (charCounts.get(ch) ?? 0) + count);
  const minCount = options.minCharCount ?? 1;
  const alphabet = [...charCounts]
    .filter(([ch, n]) => n >= minCount && ch !== '\n' && ch !== '\r' && ch !== '\t')
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([ch]) => ch);
  const vocab: Record<string, number> = {};
  let next = 0;
  const add = (token: string): void => { if (!(token in vocab)) vocab[token] = next++; };
  add(UNK_TOKEN); add(BOS_TOKEN); add(EOS_TOKEN);
  for (let b = 0; b < 256; b++) add(byteToken(b));
  // The SentencePiece "▁" first, so that it is always there.
  add(SPIECE);
  alphabet.forEach(add);
  const budget = options.vocabSize - 2; // <image> and <pad> come after
  if (next > budget) throw new RangeError(`vocabSize ${options.vocabSize} is smaller than the ${next + 2} base tokens`);
  const inAlphabet = new Set([SPIECE, ...alphabet]);
  // Words as symbol arrays; null marks a barrier character (never merged).
  const words: Array<{ symbols: Array<string | null>; count: number }> = [...wordCounts]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([word, count]) => ({ symbols: [...word].map((ch) => (inAlphabet.has(ch) ? ch : null)), count }));
  const merges: Array<[string, string]> = [];
  const SEP = '\u0000';
  while (next < budget) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const a = symbols[i];
        const b = symbols[i + 1];
        if (a === null || b === null || a === '<' || a === '>' || b === '<' || b === '>') continue;
        const key = a + SEP + b;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    let best: string | null = null;
    let bestCount = 0;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== null && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === null || bestCount < 2) break; // nothing left worth a token
    const [a, b] = best.split(SEP) as [string, string];
    const merged = a + b;
    merges.push([a, b]);
    add(merged);
    for (const word of words) {
      const s = word.symbols;
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) s.splice(i, 2, merged);
      }
    }
  }
  const imageTokenId = next;
  const padTokenId = next + 1;
  return { vocab, merges, imageTokenId, padTokenId };
}

function addedTokenEntry(id: number, content: string): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

function decoderEntry(content: string): Record<string, unknown> {
  return { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
}

/** tokenizer.json and tokenizer_config.json contents (Llama layout, as transformers writes them). */
export function llamaTokenizerFiles(bpe: TrainedBpe, options: { modelMaxLength?: number } = {}): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
  const specials: Array<[number, string]> = [
    [0, UNK_TOKEN], [1, BOS_TOKEN], [2, EOS_TOKEN], [bpe.imageTokenId, IMAGE_TOKEN_TEXT], [bpe.padTokenId, PAD_TOKEN],
  ];
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map(([id, content]) => addedTokenEntry(id, content)),
    normalizer: null,
    // split: true lets the BPE model cache words (prompts are encoded hundreds of thousands of times);
    // merges never cross a "▁" here, so the ids equal split: false.
    pre_tokenizer: { type: 'Metaspace', replacement: SPIECE, prepend_scheme: 'first', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: BOS_TOKEN, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: BOS_TOKEN, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: BOS_TOKEN, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [BOS_TOKEN]: { id: BOS_TOKEN, ids: [1], tokens: [BOS_TOKEN] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPIECE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: UNK_TOKEN,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: bpe.vocab,
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const tokenizerConfig = {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: Object.fromEntries(specials.map(([id, content]) => [String(id), decoderEntry(content)])),
    bos_token: BOS_TOKEN,
    clean_up_tokenization_spaces: false,
    eos_token: EOS_TOKEN,
    legacy: false,
    model_max_length: options.modelMaxLength ?? 2048,
    pad_token: PAD_TOKEN,
    padding_side: 'left',
    processor_class: 'LlavaProcessor',
    tokenizer_class: 'LlamaTokenizer',
    unk_token: UNK_TOKEN,
  };
  return { tokenizerJson, tokenizerConfig };
}

/** Total token count of a trained tokenizer (the model's vocab_size). */
export function bpeVocabSize(bpe: TrainedBpe): number {
  return bpe.padTokenId + 1;
}
