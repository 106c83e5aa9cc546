/**
 * Corpus samples as training tokens (encodeSample.ts), with the shipped world tokenizer:
 * labels on the answers only, one decision per turn (the letter of a two-option question marked
 * apart), label weights summing to one per sample, the image token expanded without labels, and
 * packing that keeps everything aligned.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tokenizer } from '../../src/models/Tokenizer.ts';
import { DECISION, DECISION_SHARE, encodeTurns, LETTER_DECISION, NOT_A_DECISION, packSamples } from '../../src/pretrain/encodeSample.ts';
import { repoRoot } from '../helpers/fixtures.ts';

const turns = [
  { user: 'Is there a dog in this photo?', assistant: 'Yes' },
  { user: 'What color is the dog?\nOptions:\nA. red\nB. brown\nPlease give a single character from the options above.', assistant: 'B' },
  { user: 'Describe the dog.', assistant: 'a chubby brown dog with a red collar' },
];

test('encodeTurns: answers labelled, one decision per turn, the option letter marked, weights sum to 1', async () => {
  const tokenizer = await Tokenizer.fromDirectory(join(repoRoot, 'models', 'yollava-world'));
  const imageTokenId = tokenizer.tokenToId('<image>')!;
  const plain = encodeTurns(tokenizer, turns, false, imageTokenId, 16);
  const decisionAt = plain.decisions.flatMap((d, t) => (d === NOT_A_DECISION ? [] : [t]));
  assert.deepEqual(decisionAt.map((t) => plain.decisions[t]), [DECISION, LETTER_DECISION, DECISION]);
  assert.deepEqual(decisionAt.map((t) => tokenizer.decode([plain.ids[t]]).trim()), ['Yes', 'B', 'a']);
  // labels equal the ids on the answers (and nowhere in the questions)
  const labelled = plain.ids.filter((_, t) => plain.labels[t] !== -100);
  assert.ok(tokenizer.decode(labelled).includes('a chubby brown dog with a red collar'));
  assert.ok(!tokenizer.decode(labelled).includes('Options'));
  plain.labels.forEach((l, t) => { if (l !== -100) assert.equal(l, plain.ids[t]); else assert.equal(plain.weights[t], 0); });
  const total = plain.weights.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 1e-9, `weights sum to ${total}`);
  // a multi-token answer: its decision token gets DECISION_SHARE of the turn's third
  assert.ok(Math.abs(plain.weights[decisionAt[2]] - DECISION_SHARE / 3) < 1e-9);

  const pictured = encodeTurns(tokenizer, turns, true, imageTokenId, 16);
  assert.equal(pictured.ids.filter((id) => id === imageTokenId).length, 16);
  assert.equal(pictured.ids.length, pictured.labels.length);
  assert.equal(pictured.ids.length, pictured.decisions.length);
  pictured.ids.forEach((id, t) => { if (id === imageTokenId) assert.equal(pictured.labels[t], -100); });
  assert.deepEqual(pictured.decisions.filter((d) => d !== NOT_A_DECISION), [DECISION, LETTER_DECISION, DECISION]);

  const packed = packSamples([plain, pictured]);
  assert.deepEqual(packed.segments, [0, plain.ids.length]);
  assert.deepEqual(packed.decisions, [...plain.decisions, ...pictured.decisions]);
  assert.deepEqual(packed.labels, [...plain.labels, ...pictured.labels]);
});

test('encodeTurns with promptLoss: the questions\' tokens are labels too, sharing that weight; not the system prompt, not the picture', async () => {
  const tokenizer = await Tokenizer.fromDirectory(join(repoRoot, 'models', 'yollava-world'));
  const imageTokenId = tokenizer.tokenToId('<image>')!;
  const plain = encodeTurns(tokenizer, turns, true, imageTokenId, 16);
  const withPrompt = encodeTurns(tokenizer, turns, true, imageTokenId, 16, { promptLoss: 0.5 });
  assert.deepEqual(withPrompt.ids, plain.ids);
  assert.deepEqual(withPrompt.decisions, plain.decisions);
  const promptAt = withPrompt.ids.flatMap((_, t) => (plain.labels[t] === -100 && withPrompt.labels[t] !== -100 ? [t] : []));
  assert.ok(promptAt.length > 20, `${promptAt.length} prompt labels`);
  const promptText = tokenizer.decode(promptAt.map((t) => withPrompt.ids[t]));
  assert.ok(promptText.includes('Options') && promptText.includes('Describe the dog'), promptText);
  assert.ok(!promptText.includes('curious human'), 'the shared system prompt is not a label');
  for (const t of promptAt) {
    assert.notEqual(withPrompt.ids[t], imageTokenId);
    assert.equal(withPrompt.labels[t], withPrompt.ids[t]);
  }
  // the answers keep their weights; the prompt's add up to promptLoss
  withPrompt.weights.forEach((w, t) => { if (plain.labels[t] !== -100) assert.equal(w, plain.weights[t]); });
  const promptWeight = promptAt.reduce((sum, t) => sum + withPrompt.weights[t], 0);
  assert.ok(Math.abs(promptWeight - 0.5) < 1e-9, `prompt weight ${promptWeight}`);
});
