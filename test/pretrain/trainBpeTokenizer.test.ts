/**
 * The BPE trainer: deterministic, its tokenizer.json loads with our Tokenizer, text round-trips
 * (byte fallback included), "<" and ">" never merge (concept tokens like "<bo>" are added at run
 * time), and <image> is an added special token right after the learned vocabulary.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { llavaV1TrainingPrompt } from '../../src/models/prompts.ts';
import { Tokenizer } from '../../src/models/Tokenizer.ts';
import { bpeVocabSize, llamaTokenizerFiles, metaspaceWords, trainBpe } from '../../src/pretrain/trainBpeTokenizer.ts';
import { trainWorldTokenizer } from '../../src/pretrain/worldTokenizer.ts';
import { buildInstructionCorpus } from '../../src/world/index.ts';

const TEXTS = [
  'the cat is on the mat. The cat sat.',
  'USER: <image>\n<bo> is a red mug. Is <bo> in this photo? ASSISTANT: Yes</s>',
  'a blue backpack with a white heart on it',
];

function tokenizerOf(bpe: ReturnType<typeof trainBpe>): Tokenizer {
  const { tokenizerJson, tokenizerConfig } = llamaTokenizerFiles(bpe);
  return Tokenizer.fromFiles({ tokenizerJson, tokenizerConfig });
}

test('metaspace words: "▁" for spaces, prepended only at the start of the text, cut at added tokens', () => {
  assert.deepEqual(metaspaceWords('Is it? ASSISTANT: Yes</s>USER: no'), ['▁Is', '▁it?', '▁ASSISTANT:', '▁Yes', 'USER:', '▁no']);
});

test('BPE training is deterministic and reaches the requested size', () => {
  const a = trainBpe(TEXTS, { vocabSize: 330 }, [3, 2, 1]);
  const b = trainBpe(TEXTS, { vocabSize: 330 }, [3, 2, 1]);
  assert.deepEqual(a, b);
  assert.ok(bpeVocabSize(a) <= 330);
  assert.equal(a.vocab['<unk>'], 0);
  assert.equal(a.vocab['<s>'], 1);
  assert.equal(a.vocab['</s>'], 2);
  assert.equal(a.vocab['<0x0A>'], 3 + 10);
  assert.ok(a.merges.length > 10);
  for (const token of Object.keys(a.vocab)) assert.ok(token.length === 1 || !/[<>]/.test(token) || /^<(unk|s|\/s|0x[0-9A-F]{2})>$/.test(token), `merged token ${token}`);
});

test('the tokenizer loads with our Tokenizer and round-trips text, unseen characters through byte fallback', () => {
  const bpe = trainBpe(TEXTS, { vocabSize: 330 });
  const tokenizer = tokenizerOf(bpe);
  assert.equal(tokenizer.tokenToId('<image>'), bpe.imageTokenId);
  assert.equal(tokenizer.vocabSize, bpeVocabSize(bpe));
  for (const text of [...TEXTS, 'Zebra ü 日本 <sks> — done.\nNext']) {
    const ids = tokenizer.encode(text);
    assert.equal(ids[0], 1, 'BOS first');
    assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), text.replace('<image>', '').replace('</s>', ''));
  }
  const ids = tokenizer.encode('USER: <image>\nhi', { addSpecialTokens: false });
  assert.ok(ids.includes(bpe.imageTokenId));
  // A concept token can be added at run time.
  const [bo] = tokenizer.addTokens(['<bo>']);
  assert.ok(tokenizer.encode('Is <bo> here?').includes(bo));
});

test('the world tokenizer: ~1.5k tokens, whole words for the corpus, round trip of llava_v1 prompts', () => {
  const bpe = trainWorldTokenizer({ vocabSize: 1024, seed: 5, corpusSamples: 400 });
  assert.equal(bpeVocabSize(bpe), 1024);
  const tokenizer = tokenizerOf(bpe);
  for (const sample of buildInstructionCorpus({ seed: 9, count: 100 })) {
    const text = llavaV1TrainingPrompt(sample.turns, { image: sample.image !== undefined }).text;
    const ids = tokenizer.encode(text);
    assert.equal(ids[0], 1);
    assert.equal(tokenizer.decode(ids.slice(1)), text);
  }
  assert.equal(tokenizer.encode(' photo', { addSpecialTokens: false }).length, 1);
});
