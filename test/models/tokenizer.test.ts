import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer, TokenizerError } from '../../src/models/Tokenizer.ts';
import { FIXTURE_SETS, FIXTURES_DIR, serializeFixture } from './fixtures/makeTokenizers.ts';

const LLAMA_DIR = join(FIXTURES_DIR, 'llama-tokenizer');
const QWEN2_DIR = join(FIXTURES_DIR, 'qwen2-tokenizer');
const readJson = (dir: string, name: string): unknown => JSON.parse(readFileSync(join(dir, name), 'utf8'));

const llama = await Tokenizer.fromDirectory(LLAMA_DIR);
const qwen2 = await Tokenizer.fromDirectory(QWEN2_DIR);

/** The Llama fixture as legacy (pre-"legacy=false") files have it: Prepend("▁") + Replace normalizer, no pre-tokenizer. */
function legacyLlama(): Tokenizer {
  const tokenizerJson = readJson(LLAMA_DIR, 'tokenizer.json') as Record<string, unknown>;
  return Tokenizer.fromFiles({
    tokenizerJson: {
      ...tokenizerJson,
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'Prepend', prepend: '\u2581' },
          { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
        ],
      },
      pre_tokenizer: null,
    },
    tokenizerConfig: readJson(LLAMA_DIR, 'tokenizer_config.json'),
  });
}

function tokens(tokenizer: Tokenizer, ids: readonly number[]): string[] {
  return ids.map((id) => tokenizer.idToToken(id) ?? `?${id}`);
}

function pieces(tokenizer: Tokenizer, text: string): string[] {
  return tokens(tokenizer, tokenizer.encode(text, { addSpecialTokens: false }));
}

function conceptTokens(name: string, k: number): string[] {
  return [`<${name}>`, ...Array.from({ length: k }, (_, i) => `<${name}_${i}>`)];
}

function streamAll(tokenizer: Tokenizer, ids: readonly number[], skipSpecialTokens = false): string[] {
  const stream = tokenizer.createDecodeStream({ skipSpecialTokens });
  return [...ids.map((id) => stream.push(id)), stream.flush()];
}

test('committed fixtures are what the generator makes', () => {
  for (const [name, make] of Object.entries(FIXTURE_SETS)) {
    for (const [file, value] of Object.entries(make())) {
      assert.equal(readFileSync(join(FIXTURES_DIR, name, file), 'utf8'), serializeFixture(value), `${name}/${file}`);
    }
  }
});

test('llama fixture: metadata from tokenizer_config, special_tokens_map and generation_config', () => {
  const imageId = llama.tokenToId('<image>')!;
  assert.equal(llama.bosTokenId, 1);
  assert.equal(llama.bosToken, '<s>');
  assert.equal(llama.eosToken, '</s>');
  assert.deepEqual(llama.eosTokenIds, [2]);
  assert.equal(llama.unkTokenId, 0);
  assert.equal(llama.padTokenId, imageId + 1);
  // <image> and <pad> follow the model vocabulary, as 32000 and 32001 do in LLaVA-1.5.
  assert.equal(llama.vocabSize, imageId + 2);
  assert.equal(llama.idToToken(imageId + 1), '<pad>');
  // Byte tokens sit at 3 + byte, as in Llama: "\n" is 13.
  assert.equal(llama.tokenToId('<0x0A>'), 13);
  assert.equal(llama.idToToken(3), '<0x00>');
  assert.deepEqual(llama.specialPrefixIds, [1]);
  assert.deepEqual(llama.specialSuffixIds, []);
  assert.ok(llama.isSpecialTokenId(imageId) && llama.isSpecialTokenId(2) && !llama.isSpecialTokenId(13));
  assert.ok(llama.chatTemplate?.includes('ASSISTANT:'));
});

test('llama: known encodings follow the merges', () => {
  // Merge results get ids from 259 on in merge order: ▁t 259, he 260, ▁the 261, ▁a 262, is 263,
  // ▁is 264, ▁c 265, at 266, ▁cat 267, ut 268, ute 269, ▁cute 270, ll 271, ell 272, Hell 273,
  // Hello 274, ▁Hello 275, or 276, ld 277, ▁w 278, ▁wor 279, ▁world 280.
  assert.deepEqual(llama.encode('Hello world'), [1, 275, 280]);
  assert.deepEqual(llama.encode('Hello world', { addSpecialTokens: false }), [275, 280]);
  assert.deepEqual(llama.encode('the cat is cute', { addSpecialTokens: false }), [261, 267, 264, 270]);
  // No merge joins "▁" and "I", or "I" and "s": "Is" is three tokens; "▁ASSISTANT" is one.
  assert.deepEqual(pieces(llama, 'Is the ASSISTANT:'), ['▁', 'I', 's', '▁the', '▁ASSISTANT', ':']);
  // A leading space is the "▁" the Metaspace pre-tokenizer would add anyway (no "▁▁").
  assert.deepEqual(pieces(llama, ' the cat'), ['▁the', '▁cat']);
  // "▁ c" ranks before "▁ ▁", so the second space goes with the word: "▁", "▁cat".
  assert.deepEqual(pieces(llama, 'the  cat'), ['▁the', '▁', '▁cat']);
  assert.deepEqual(pieces(llama, 'a  '), ['▁a', '▁▁']);
  assert.deepEqual(llama.encode(''), [1]);
});

test('llama: byte fallback for characters outside the vocabulary', () => {
  assert.deepEqual(pieces(llama, '🙂'), ['▁', '<0xF0>', '<0x9F>', '<0x99>', '<0x82>']);
  assert.deepEqual(pieces(llama, '日本'), ['▁', '<0xE6>', '<0x97>', '<0xA5>', '<0xE6>', '<0x9C>', '<0xAC>']);
  assert.deepEqual(pieces(llama, 'a\nb'), ['▁a', '<0x0A>', 'b']);
  // é is in the vocabulary, so no fallback.
  assert.deepEqual(pieces(llama, 'café'), ['▁c', 'a', 'f', 'é']);
});

test('llama: decode round trips and special tokens', () => {
  for (const text of ['Hello world', 'the cat is cute', 'Hi 🙂 日本 café', 'a\nb\n\nc', 'USER: <image>\nIs it? ASSISTANT: Yes</s>']) {
    assert.equal(llama.decode(llama.encode(text), { skipSpecialTokens: false }).replace(/^<s> /, ''), text, text);
  }
  assert.equal(llama.decode([1, 275, 280]), '<s> Hello world');
  assert.equal(llama.decode([1, 275, 280, 2], { skipSpecialTokens: true }), 'Hello world');
  assert.equal(llama.decode([]), '');
  // Ids with no token (unused embedding rows) are dropped, as HF does.
  assert.equal(llama.decode([275, 99_999, 280]), 'Hello world');
});

test('llama: added tokens are atomic, inside words and next to punctuation; spaces stay with the text', () => {
  assert.deepEqual(pieces(llama, 'abc<image>def'), ['▁a', 'b', 'c', '<image>', 'd', 'e', 'f']);
  assert.deepEqual(pieces(llama, '(<image>).'), ['▁', '(', '<image>', ')', '.']);
  assert.deepEqual(pieces(llama, 'Yes</s>USER:'), ['▁Yes', '</s>', 'USER', ':']);
  // prepend_scheme "first": only text at offset 0 gets "▁"; text after an added token does not.
  assert.deepEqual(pieces(llama, '<image>\nIs'), ['<image>', '<0x0A>', 'I', 's']);
  assert.deepEqual(pieces(llama, 'the <image> cat'), ['▁the', '▁', '<image>', '▁cat']);
  assert.deepEqual(pieces(llama, '<s>Hello'), ['<s>', 'Hello']);
  assert.equal(llama.decode(llama.encode('the <image> cat', { addSpecialTokens: false })), 'the <image> cat');
  // A near miss is ordinary text.
  assert.deepEqual(pieces(llama, '<imag>'), ['▁', '<', 'i', 'm', 'a', 'g', '>']);
});

test('llama legacy files (Prepend normalizer): every stretch of text gets "▁", as SentencePiece per chunk', () => {
  const legacy = legacyLlama();
  assert.deepEqual(pieces(legacy, 'Hello world'), ['▁Hello', '▁world']);
  // What LLaVA's original tokenizer_image_token produces: "<image>" then "▁" "\n" ….
  assert.deepEqual(pieces(legacy, '<image>\nIs'), ['<image>', '▁', '<0x0A>', 'I', 's']);
  assert.deepEqual(pieces(legacy, 'Yes</s>USER:'), ['▁Yes', '</s>', '▁USER', ':']);
  legacy.addTokens(['<bo>']);
  // The well-known extra "▁" after an added token followed by a space.
  assert.deepEqual(pieces(legacy, '<bo> is'), ['<bo>', '▁', '▁is']);
  assert.deepEqual(pieces(legacy, '<bo>is'), ['<bo>', '▁is']);
});

test('runtime-added concept tokens: ids after the last id, atomic, decodable, removable', () => {
  const t = Tokenizer.fromFiles({
    tokenizerJson: readJson(LLAMA_DIR, 'tokenizer.json'),
    tokenizerConfig: readJson(LLAMA_DIR, 'tokenizer_config.json'),
  });
  const before = t.vocabSize;
  assert.deepEqual(pieces(t, '<bo>'), ['▁', '<', 'b', 'o', '>']);
  const names = conceptTokens('bo', 16);
  const ids = t.addTokens(names);
  assert.deepEqual(ids, names.map((_, i) => before + i));
  assert.equal(t.vocabSize, before + 17);
  assert.equal(t.tokenToId('<bo_15>'), before + 16);
  assert.equal(t.idToToken(before), '<bo>');

  const prompt = `<bo> is ${names.slice(1).join('')}.`;
  const encoded = t.encode(prompt, { addSpecialTokens: false });
  // Spaces around added tokens stay in the neighbouring text (lstrip = rstrip = false):
  // " is " → "▁is", "▁" (no "▁" prefix after a token, as with prepend_scheme "first").
  assert.deepEqual(tokens(t, encoded), ['<bo>', '▁is', '▁', ...names.slice(1), '.']);
  assert.equal(t.decode(encoded), prompt);
  // Longest match wins: <bo_10> is not <bo_1> + "0>".
  assert.deepEqual(pieces(t, '<bo_1><bo_10>'), ['<bo_1>', '<bo_10>']);
  // Inside a word and next to punctuation.
  assert.deepEqual(pieces(t, 'Hello<bo>world'), ['▁Hello', '<bo>', 'w', 'or', 'ld']);
  assert.deepEqual(pieces(t, 'Is <bo>?'), ['▁', 'I', 's', '▁', '<bo>', '?']);
  assert.deepEqual(pieces(t, 'a <bo>, the cat'), ['▁a', '▁', '<bo>', ',', '▁the', '▁cat']);
  // Not special by default: they stay in decoded answers.
  assert.equal(t.decode(t.encode('<bo> is cute'), { skipSpecialTokens: true }), '<bo> is cute');

  t.removeTokens(names);
  assert.equal(t.vocabSize, before);
  assert.equal(t.tokenToId('<bo>'), undefined);
  assert.deepEqual(pieces(t, '<bo>'), ['▁', '<', 'b', 'o', '>']);
  // The next concept gets the freed ids.
  assert.deepEqual(t.addTokens(['<cat>']), [before]);
});

test('runtime-added tokens: explicit ids, special flag, and errors', () => {
  const t = Tokenizer.fromFiles({
    tokenizerJson: readJson(LLAMA_DIR, 'tokenizer.json'),
    tokenizerConfig: readJson(LLAMA_DIR, 'tokenizer_config.json'),
  });
  const base = t.vocabSize;
  assert.deepEqual(t.addTokens(['<a>', '<b>'], { ids: [base + 10, base + 5] }), [base + 10, base + 5]);
  assert.equal(t.vocabSize, base + 11);
  assert.deepEqual(t.addTokens(['<c>']), [base + 11]);
  assert.deepEqual(t.addTokens(['<hidden>'], { special: true }), [base + 12]);
  assert.equal(t.decode(t.encode('<a><hidden><b>'), { skipSpecialTokens: true }), '<a><b>');

  const fails = (fn: () => unknown, pattern: RegExp): void => {
    assert.throws(fn, (error: unknown) => error instanceof TokenizerError && pattern.test(error.message));
  };
  fails(() => t.addTokens(['<a>']), /already in the vocabulary/);
  fails(() => t.addTokens(['▁the']), /already in the vocabulary \(id 261\)/);
  fails(() => t.addTokens(['<x>', '<x>']), /given twice/);
  fails(() => t.addTokens(['<x>'], { ids: [1] }), /id 1 is already used/);
  fails(() => t.addTokens(['<x>', '<y>'], { ids: [base + 20, base + 20] }), /already used/);
  fails(() => t.addTokens(['<x>'], { ids: [] }), /1 tokens but 0 ids/);
  fails(() => t.addTokens(['']), /empty token/);
  fails(() => t.removeTokens(['<image>']), /not added at run time/);
  // A failed call changes nothing.
  assert.equal(t.tokenToId('<x>'), undefined);
});

test('addTokens never writes the checkpoint files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'yollava-tok-'));
  try {
    cpSync(LLAMA_DIR, dir, { recursive: true });
    const snapshot = (): string[] => ['tokenizer.json', 'tokenizer_config.json'].map((f) => readFileSync(join(dir, f), 'utf8'));
    const before = snapshot();
    const t = await Tokenizer.fromDirectory(dir);
    t.addTokens(conceptTokens('bo', 4));
    t.removeTokens(['<bo_3>']);
    assert.deepEqual(snapshot(), before);
    const reloaded = await Tokenizer.fromDirectory(dir);
    assert.equal(reloaded.tokenToId('<bo>'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('qwen2 fixture: byte-level BPE, ChatML tokens, several EOS ids, no BOS', () => {
  const size = qwen2.tokenToId('<|endoftext|>')!;
  assert.equal(qwen2.bosTokenId, null);
  assert.deepEqual(qwen2.specialPrefixIds, []);
  assert.deepEqual(qwen2.eosTokenIds, [size + 2, size]);
  assert.equal(qwen2.padTokenId, size);
  assert.equal(qwen2.vocabSize, size + 4);
  assert.deepEqual(qwen2.encode('Hello world'), [qwen2.tokenToId('Hello'), qwen2.tokenToId('Ġworld')]);
  // Only "Ġt he" makes "the" a token; at the start there is no "Ġ" (no prefix space in Qwen2).
  assert.deepEqual(pieces(qwen2, 'the cat is cute'), ['t', 'he', 'Ġcat', 'Ġis', 'Ġcute']);
  // The split regex isolates digits one by one and keeps newlines apart.
  assert.deepEqual(pieces(qwen2, 'user 42\n\nYes'), ['user', 'Ġ', '4', '2', 'ĊĊ', 'Yes']);
  assert.deepEqual(
    pieces(qwen2, '<|im_start|>assistant\n<image>\nIs the cat cute?<|im_end|>'),
    ['<|im_start|>', 'assistant', 'Ċ', '<image>', 'Ċ', 'I', 's', 'Ġthe', 'Ġcat', 'Ġcute', '?', '<|im_end|>'],
  );
  // Multi-byte characters become their UTF-8 bytes (one vocabulary entry per byte here).
  assert.equal(qwen2.encode('日').length, 3);
  assert.equal(qwen2.encode('🙂').length, 4);
  for (const text of ['Hello world', '日本 🙂 café', '<|im_start|>user\nHi<|im_end|>\n', 'a  b\tc']) {
    assert.equal(qwen2.decode(qwen2.encode(text)), text, text);
  }
  assert.equal(qwen2.decode(qwen2.encode('<|im_start|>user\nHi<|im_end|>'), { skipSpecialTokens: true }), 'user\nHi');
});

test('qwen2: runtime tokens pass through the byte-level decoder unchanged', () => {
  const t = Tokenizer.fromFiles({
    tokenizerJson: readJson(QWEN2_DIR, 'tokenizer.json'),
    tokenizerConfig: readJson(QWEN2_DIR, 'tokenizer_config.json'),
  });
  const [bo, accented] = t.addTokens(['<bo>', '<café ß>']);
  assert.deepEqual(pieces(t, '<bo> is cute'), ['<bo>', 'Ġis', 'Ġcute']);
  assert.deepEqual(pieces(t, 'the<bo>cat'), ['t', 'he', '<bo>', 'c', 'at']);
  assert.equal(t.decode([bo!, accented!]), '<bo><café ß>');
  assert.equal(t.decode(t.encode('<café ß> is <bo>!')), '<café ß> is <bo>!');
});

test('streaming decode: multi-byte characters wait until complete (byte fallback)', () => {
  const ids = llama.encode('Hi 🙂!', { addSpecialTokens: false });
  assert.deepEqual(tokens(llama, ids), ['▁', 'H', 'i', '▁', '<0xF0>', '<0x9F>', '<0x99>', '<0x82>', '!']);
  // The first "▁" is the prefix space that decode strips; the emoji shows once its 4th byte arrives.
  assert.deepEqual(streamAll(llama, ids), ['', 'H', 'i', ' ', '', '', '', '🙂', '!', '']);
  // An incomplete sequence comes out as U+FFFD on flush, and the stream starts afresh.
  const stream = llama.createDecodeStream();
  assert.equal(stream.push(llama.tokenToId('<0xE6>')!), '');
  assert.equal(stream.flush(), '\uFFFD');
  assert.equal(stream.push(llama.tokenToId('▁Hello')!), 'Hello');
});

test('streaming decode: byte-level tokens (qwen2)', () => {
  const ids = qwen2.encode('日本 ok');
  // 日 and 本 are three byte tokens each; " ok" is Ġ o k.
  assert.deepEqual(streamAll(qwen2, ids), ['', '', '日', '', '', '本', ' ', 'o', 'k', '']);
});

test('streaming decode: the pieces always add up to decode()', () => {
  const withConcept = Tokenizer.fromFiles({
    tokenizerJson: readJson(LLAMA_DIR, 'tokenizer.json'),
    tokenizerConfig: readJson(LLAMA_DIR, 'tokenizer_config.json'),
  });
  withConcept.addTokens(conceptTokens('bo', 2));
  const cases: Array<[Tokenizer, string]> = [
    [llama, 'Hello world, the cat is cute.'],
    [llama, ' the  cat\n\n日本🙂 café'],
    [llama, 'Yes</s>'],
    [withConcept, '<bo> is <bo_0><bo_1>. Yes, <bo> is cute 🙂'],
    [legacyLlama(), 'the  cat\nis cute'],
    [qwen2, 'Hello world\n\n日本 🙂 café 42'],
    [qwen2, '<|im_start|>assistant\nYes<|im_end|>'],
  ];
  for (const [tokenizer, text] of cases) {
    const ids = tokenizer.encode(text);
    for (const skipSpecialTokens of [false, true]) {
      assert.equal(streamAll(tokenizer, ids, skipSpecialTokens).join(''), tokenizer.decode(ids, { skipSpecialTokens }), text);
    }
  }
});

test('encodeWithOffsets: each token maps back to the text it came from', () => {
  const t = Tokenizer.fromFiles({
    tokenizerJson: readJson(LLAMA_DIR, 'tokenizer.json'),
    tokenizerConfig: readJson(LLAMA_DIR, 'tokenizer_config.json'),
  });
  t.addTokens(['<bo>']);
  const text = '<image>\nIs <bo> the cat? 🙂 Yes</s>';
  const { ids, offsets } = t.encodeWithOffsets(text);
  assert.deepEqual(ids, t.encode(text));
  assert.deepEqual(
    offsets.map(([a, b]) => text.slice(a, b)),
    ['', '<image>', '\n', 'I', 's', ' ', '<bo>', ' the', ' cat', '?', ' ', '🙂', '🙂', '🙂', '🙂', ' Yes', '</s>'],
  );
  // Legacy files: the prepended "▁" stands for no character.
  const legacy = legacyLlama();
  const legacyOffsets = legacy.encodeWithOffsets('<image>\nIs', { addSpecialTokens: false }).offsets;
  assert.deepEqual(legacyOffsets, [[0, 7], [7, 7], [7, 8], [8, 9], [9, 10]]);
  const q = qwen2.encodeWithOffsets('Hi 日本');
  assert.deepEqual(q.offsets.map(([a, b]) => 'Hi 日本'.slice(a, b)), ['H', 'i', ' ', '日', '日', '日', '本', '本', '本']);
});

test('fromDirectory: clear errors naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'yollava-tok-'));
  const expectError = async (pattern: RegExp, file: string): Promise<void> => {
    await assert.rejects(Tokenizer.fromDirectory(dir), (error: unknown) => {
      assert.ok(error instanceof TokenizerError, String(error));
      assert.equal(error.file, join(dir, file));
      assert.match(error.message, pattern);
      return true;
    });
  };
  try {
    await expectError(/tokenizer\.json: missing/, 'tokenizer.json');
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    await expectError(/invalid JSON/, 'tokenizer.json');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'Unigram', vocab: [['a', 0]] } }));
    await expectError(/unsupported model type "Unigram" \(supported: BPE\)/, 'tokenizer.json');
    cpSync(LLAMA_DIR, dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer_config.json'), '{oops');
    await expectError(/invalid JSON/, 'tokenizer_config.json');
    cpSync(LLAMA_DIR, dir, { recursive: true });
    writeFileSync(join(dir, 'chat_template.json'), '{"template": 1}');
    await expectError(/chat_template/, 'chat_template.json');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chat template sources: chat_template.jinja, then chat_template.json, then tokenizer_config', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'yollava-tok-'));
  try {
    cpSync(LLAMA_DIR, dir, { recursive: true });
    const fromConfig = (readJson(LLAMA_DIR, 'tokenizer_config.json') as { chat_template: string }).chat_template;
    assert.equal((await Tokenizer.fromDirectory(dir)).chatTemplate, fromConfig);
    writeFileSync(join(dir, 'chat_template.json'), JSON.stringify({ chat_template: 'from json' }));
    assert.equal((await Tokenizer.fromDirectory(dir)).chatTemplate, 'from json');
    writeFileSync(join(dir, 'chat_template.jinja'), 'from jinja');
    assert.equal((await Tokenizer.fromDirectory(dir)).chatTemplate, 'from jinja');
    // Named templates in tokenizer_config: the "default" one.
    const named = Tokenizer.fromFiles({
      tokenizerJson: readJson(LLAMA_DIR, 'tokenizer.json'),
      tokenizerConfig: { chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] },
    });
    assert.equal(named.chatTemplate, 'D');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
