/**
 * The harness's prompts on a real (tiny, random) model: the shared photo prefix gives the same
 * answer and P(Yes) as running the whole prompt, and as the product's own `recognize`, in llava_v1
 * prompts and in a chat template's (Qwen2, ChatML).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelAsker, multipleChoiceQuestion, recognitionQuestion, type PromptContext } from '../../src/eval/askModel.ts';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { Concept } from '../../src/personalize/Concept.ts';
import { yesNoTokenIds } from '../../src/personalize/conceptPrompts.ts';
import { ConceptSet } from '../../src/personalize/ConceptSet.ts';
import { modelIdentity } from '../../src/personalize/modelIdentity.ts';
import { recognize } from '../../src/personalize/recognize.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';

function randomRows(count: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: count }, () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5));
}

for (const tokenizer of ['llama', 'qwen2'] as const) test(`answers through the shared prefix equal a full recompute, with and without a concept (${tokenizer === 'llama' ? 'llava_v1' : 'a chat template'})`, async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 3, tokenizer });
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const C = vlm.model.hiddenSize;
  const concept = new Concept({
    name: 'bo', latentCount: 2, baseModel: { ...modelIdentity(vlm.model), source: vlm.source },
    training: {}, data: {}, epochs: [], bestEpoch: null, createdAt: '',
  }, randomRows(3 * C, 1), randomRows(C, 2));
  const concepts = new ConceptSet(vlm);
  concepts.add(concept);
  const asker = new ModelAsker(vlm);
  const withConcept: PromptContext = { identifier: '<bo>', text: concept.personalization, referencePhotos: [], extra: concepts.extraTokens() };
  const vanilla: PromptContext = { identifier: '<sks>', text: null, referencePhotos: [] };
  const withReference: PromptContext = { identifier: '<sks>', text: null, referencePhotos: [tiny.photos[2]] };

  const full = async (context: PromptContext, question: string, photo: string | null, maxNewTokens: number) => {
    const photos = [...context.referencePhotos, ...(photo ? [photo] : [])];
    const images = await Promise.all(photos.map((p) => vlm.imageFeatures(p)));
    const result = await vlm.generate(asker.promptText(context, question, photo), images, { maxNewTokens, extra: context.extra, stopStrings: ['\n'] });
    return result.text;
  };
  for (const photo of tiny.photos.slice(0, 2)) {
    for (const context of [vanilla, withConcept, withReference]) {
      const answer = await asker.recognize(context, photo);
      assert.equal(answer.text, await full(context, recognitionQuestion(context.identifier), photo, 8));
      assert.ok(answer.probability > 0 && answer.probability < 1);
    }
    // The same P(Yes) as the product's recognize (same prompt, same first-token scoring).
    const [product] = await recognize(vlm, concepts, concept, [photo]);
    assert.ok(Math.abs((await asker.recognize(withConcept, photo)).probability - product.probability) < 1e-5);
    // In other words (recognize's `question`, "<sks>" standing for the concept), as the asker reads them.
    const [asked] = await recognize(vlm, concepts, concept, [photo], { question: 'Is <sks> in this photo?' });
    const { yes, no } = yesNoTokenIds(vlm);
    const reference = await asker.ask(withConcept, 'Is <bo> in this photo?', photo, { first: yes, second: no }, 1);
    assert.ok(Math.abs(asked.probability - reference.probability) < 1e-5, `${asked.probability} vs ${reference.probability}`);
    assert.ok(Math.abs(asked.probability - product.probability) > 1e-7, 'other words, another probability');
  }
  // Text-only questions share the system prompt's prefix; the answers are unchanged.
  const options = { A: 'red', B: 'blue' };
  for (const context of [vanilla, withConcept, withReference]) {
    const answer = await asker.choose(context, 'What color is <sks>?', options, null);
    assert.equal(answer.text, await full(context, multipleChoiceQuestion(`What color is ${context.identifier}?`, options), null, 12));
  }
  assert.ok(asker.prefixes.hits > 0);
  // Without concept rows an identical prompt is answered once (the vanilla baseline repeats for every subject).
  const asked = asker.questions;
  const again = await asker.recognize(vanilla, tiny.photos[0]);
  assert.equal(asker.questions, asked);
  assert.equal(again.text, (await asker.recognize(vanilla, tiny.photos[0])).text);
  await asker.recognize(withConcept, tiny.photos[0]);
  assert.equal(asker.questions, asked + 1);
  // Tokens added: the concept's text, or the reference photo's image tokens and caption.
  assert.equal(asker.contextTokens(vanilla), 0);
  assert.equal(asker.contextTokens(withConcept), vlm.tokenizer.encode(concept.personalization, { addSpecialTokens: false }).length);
  assert.ok(asker.contextTokens(withReference) > vlm.model.imageTokenCount);
});
