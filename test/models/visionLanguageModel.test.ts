/**
 * A whole checkpoint on disk — weights written by saveLlava, the Llama-style tokenizer
 * fixture, a preprocessor config — loaded as a VisionLanguageModel and asked about a real PNG.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadLlava } from '../../src/models/loadLlava.ts';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { maxAbsDiff } from '../helpers/fixtures.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';

async function checkpoint(t: { after: (fn: () => void) => void }) {
  const tiny = await makeTinyCheckpoint(t);
  return { dir: tiny.dir, model: tiny.model, photo: tiny.photos[0] };
}

test('saveLlava round-trips through the loader', async (t) => {
  const { dir, model } = await checkpoint(t);
  const { model: loaded, unusedTensors } = loadLlava(dir);
  assert.deepEqual(unusedTensors, []);
  const ids = [1, 20, 30, 40, 50];
  const a = model.logitsAt(model.forward({ ids }, model.decoder.newCache()), [4]);
  const b = loaded.logitsAt(loaded.forward({ ids }, loaded.decoder.newCache()), [4]);
  assert.equal(maxAbsDiff(a, b), 0);
});

test('a checkpoint folder answers about a photo, streaming its text', async (t) => {
  const { dir, photo } = await checkpoint(t);
  const vlm = await VisionLanguageModel.load(dir);
  assert.equal(vlm.promptFormat, 'llava_v1');
  const prompt = vlm.prompt([{ user: 'What is this?' }], { image: true });
  assert.match(prompt, /^A chat between .* USER: <image>\nWhat is this\? ASSISTANT:$/);
  const ids = vlm.encode(prompt);
  assert.equal(ids.filter((id) => id === 380).length, vlm.model.imageTokenCount);
  assert.equal(ids[0], 1, 'BOS first');

  const features = await vlm.imageFeatures(photo);
  assert.equal(await vlm.imageFeatures(photo), features, 'features are computed once per photo');
  assert.notEqual(await vlm.imageFeatures(photo, { flip: true }), features);

  const chunks: string[] = [];
  const answer = await vlm.generate(prompt, [features], { maxNewTokens: 12, onText: (chunk) => chunks.push(chunk) });
  assert.equal(answer.ids.length > 0, true);
  assert.equal(chunks.join('').trim(), answer.text);
  const again = await vlm.generate(prompt, [features], { maxNewTokens: 12 });
  assert.deepEqual(again.ids, answer.ids, 'greedy decoding is deterministic');

  const sampled = await vlm.generate(prompt, [features], { maxNewTokens: 12, temperature: 1, topP: 0.9, seed: 5 });
  const resampled = await vlm.generate(prompt, [features], { maxNewTokens: 12, temperature: 1, topP: 0.9, seed: 5 });
  assert.deepEqual(sampled.ids, resampled.ids, 'a seed makes sampling reproducible');

  const controller = new AbortController();
  const aborted = await vlm.generate(prompt, [features], { maxNewTokens: 50, onText: () => controller.abort(), signal: controller.signal });
  assert.ok(aborted.stoppedBy === 'aborted' || aborted.stoppedBy === 'stop-token');
  assert.ok(aborted.ids.length < 50);

  const textOnly = await vlm.generate(vlm.prompt([{ user: 'Hello' }]), [], { maxNewTokens: 4 });
  assert.equal(textOnly.promptTokens, vlm.encode(vlm.prompt([{ user: 'Hello' }])).length);
  await assert.rejects(() => vlm.generate(prompt, [], { maxNewTokens: 2 }), /image tokens but 0 image/);
});

test('generateJointly takes, each step, the token of highest summed log-probability over the inputs', async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 3 });
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const prompt = vlm.prompt([{ user: 'What is this?' }], { image: true });
  const ids = vlm.encode(prompt);
  const imageSets = [];
  for (const photo of tiny.photos) imageSets.push([await vlm.imageFeatures(photo)]);
  const joint = await vlm.model.generateJointly(imageSets.map((images) => ({ ids, images })), { maxNewTokens: 8 });
  assert.equal(joint.ids.length, 8);

  // Each token again from a full forward pass of every input (no cache reuse), in float64.
  const logSoftmax = (row: Float32Array) => {
    const max = Math.max(...row);
    const logSum = max + Math.log(row.reduce((sum, x) => sum + Math.exp(x - max), 0));
    return Array.from(row, (x) => x - logSum);
  };
  for (let step = 0; step < joint.ids.length; step++) {
    const sequence = [...ids, ...joint.ids.slice(0, step)];
    const summed = new Array<number>(vlm.model.vocabSize).fill(0);
    for (const images of imageSets) {
      const hidden = vlm.model.forward({ ids: sequence, images }, vlm.model.decoder.newCache(sequence.length + 1));
      logSoftmax(vlm.model.logitsAt(hidden, [sequence.length - 1])).forEach((x, j) => { summed[j] += x; });
    }
    summed[vlm.model.config.imageTokenId] = -Infinity;
    assert.equal(joint.ids[step], summed.indexOf(Math.max(...summed)), `step ${step}`);
  }

  // One input is plain greedy decoding; the photos' own greedy answers are not all the joint one.
  const alone = await Promise.all(imageSets.map((images) => vlm.model.generate({ ids, images }, { maxNewTokens: 8 })));
  assert.deepEqual((await vlm.model.generateJointly([{ ids, images: imageSets[0]! }], { maxNewTokens: 8 })).ids, alone[0]!.ids);
  assert.ok(alone.some((answer) => answer.ids.join() !== joint.ids.join()), 'the joint answer differs from some photo\'s own');

  const text = await vlm.generateJointly(prompt, imageSets, { maxNewTokens: 8 });
  assert.deepEqual(text.ids, joint.ids);
  assert.equal(text.text, vlm.tokenizer.decode(joint.ids, { skipSpecialTokens: true }).trim());
  await assert.rejects(() => vlm.model.generateJointly([], {}), /at least one input/);
});
