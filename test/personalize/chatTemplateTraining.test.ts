/**
 * Concepts on a model that talks through its chat template (Qwen2-based LLaVA, ChatML): a training
 * sample is the generation prompt followed by the answer and "<|im_end|>", the loss is on exactly
 * those tokens, "Yes"/"No" are read where generation would write them, and a concept trains,
 * recognizes and chats. A template that does not close its answers with an end token is refused
 * before any work, naming the model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { buildConceptData } from '../../src/personalize/conceptData.ts';
import { ConceptError } from '../../src/personalize/Concept.ts';
import { encodeQuestion, encodeTrainingSample, yesNoTokenIds } from '../../src/personalize/conceptPrompts.ts';
import { ConceptSet } from '../../src/personalize/ConceptSet.ts';
import { recognize } from '../../src/personalize/recognize.ts';
import { trainConcept } from '../../src/personalize/trainConcept.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';

async function qwen2Concept(t: { after: (fn: () => void) => void }) {
  const tiny = await makeTinyCheckpoint(t, { photos: 4, tokenizer: 'qwen2' });
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const data = buildConceptData({
    name: 'bo', positives: tiny.photos.slice(0, 2), easyNegatives: tiny.photos.slice(2), questionsPerPositive: 3,
    conversations: [{ question: 'What color is <bo>?', answer: '<bo> is red.' }],
  });
  return { tiny, vlm, data };
}

test('chat template: the loss is on the answer and <|im_end|>, after exactly the generation prompt', async (t) => {
  const { tiny, vlm } = await qwen2Concept(t);
  assert.equal(vlm.promptFormat, 'chat_template');
  const { concept } = await trainConcept(vlm, buildConceptData({ name: 'bo', positives: [tiny.photos[0]], questionsPerPositive: 1 }), { latentCount: 2, epochs: 1 });
  const set = new ConceptSet(vlm);
  set.add(concept);
  const identifierId = set.identifierId('bo');
  const sample = encodeTrainingSample(vlm, concept, identifierId, 'Is <bo> in this photo?', 'Yes', true);
  const ids = [...sample.prefixIds, ...sample.suffixIds];
  const labels = [...sample.prefixIds.map(() => -100), ...sample.suffixLabels];
  const firstLabel = labels.findIndex((label) => label !== -100);
  const labelled = ids.filter((_, i) => labels[i] !== -100);
  assert.equal(vlm.tokenizer.decode(labelled, { skipSpecialTokens: false }), 'Yes<|im_end|>');
  assert.equal(labelled.at(-1), vlm.tokenizer.tokenToId('<|im_end|>'));
  assert.deepEqual(labels.slice(firstLabel, firstLabel + labelled.length), ids.slice(firstLabel, firstLabel + labelled.length), 'the labels are one run');
  const question = encodeQuestion(vlm, concept, identifierId, 'Is <bo> in this photo?', true);
  assert.deepEqual(ids.slice(0, firstLabel), [...question.prefixIds, ...question.suffixIds], 'the answer follows the generation prompt');
  assert.equal(yesNoTokenIds(vlm).yes, ids[firstLabel]);
  assert.notEqual(yesNoTokenIds(vlm).no, ids[firstLabel]);
});

test('chat template: a concept trains (the loss falls), recognizes and chats', async (t) => {
  const { tiny, vlm, data } = await qwen2Concept(t);
  const result = await trainConcept(vlm, data, { latentCount: 2, epochs: 4, learningRate: 0.05, seed: 1 });
  const losses = result.epochs.slice(1).map((e) => e.loss!);
  assert.ok(losses[3] < losses[0] - 0.3, `loss ${losses.map((l) => l.toFixed(3)).join(' → ')}`);
  const set = new ConceptSet(vlm);
  set.add(result.concept);
  const [found] = await recognize(vlm, set, result.concept, [tiny.photos[0]]);
  assert.ok(found.probability > 0 && found.probability < 1);
  const prompt = vlm.prompt([{ user: 'What color is <bo>?' }], { personalization: result.concept.personalization });
  assert.match(prompt, /^<\|im_start\|>system\n.*<\|im_start\|>user\n<bo> is <bo_0><bo_1>\. What color is <bo>\?<\|im_end\|>\n<\|im_start\|>assistant\n$/s);
  const answer = await vlm.generate(prompt, [], { maxNewTokens: 4, extra: set.extraTokens() });
  assert.ok(answer.promptTokens > 0 && answer.ids.length > 0);
});

test('chat template: one that does not close its answers with an end token is refused before training', async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 2, tokenizer: 'qwen2' });
  const configFile = join(tiny.dir, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  // Each message ends with "\n" instead of "<|im_end|>\n" (the system line keeps its own).
  const changed = config.chat_template.replace("{{- '<|im_end|>\\n' -}}", "{{- '\\n' -}}");
  assert.notEqual(changed, config.chat_template);
  config.chat_template = changed;
  writeFileSync(configFile, JSON.stringify(config));
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const data = buildConceptData({ name: 'bo', positives: [tiny.photos[0]], questionsPerPositive: 1 });
  await assert.rejects(trainConcept(vlm, data, { latentCount: 2, epochs: 1 }), (error: unknown) =>
    error instanceof ConceptError && error.message.includes(tiny.dir) && /does not close answer 1 with an end-of-turn token \(<\|im_end\|>/.test(error.message));
});
