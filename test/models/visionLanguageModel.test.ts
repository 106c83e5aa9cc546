/**
 * A whole checkpoint on disk — weights written by saveLlava, the Llama-style tokenizer
 * fixture, a preprocessor config — loaded as a VisionLanguageModel and asked about a real PNG.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { LlavaConfig } from '../../src/models/config.ts';
import { createRandomLlava } from '../../src/models/randomLlava.ts';
import { saveLlava } from '../../src/models/saveLlava.ts';
import { loadLlava } from '../../src/models/loadLlava.ts';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { maxAbsDiff, repoRoot } from '../helpers/fixtures.ts';

const config: LlavaConfig = {
  vision: { kind: 'clip', hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 2, imageSize: 28, patchSize: 14, numChannels: 3, layerNormEps: 1e-5, hiddenAct: 'quick_gelu' },
  text: { kind: 'llama', hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8, vocabSize: 382, ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: false },
  imageTokenId: 380, projectorAct: 'gelu', projectorBias: true, visionFeatureLayer: -2, visionFeatureSelect: 'default', imageAspectRatio: null,
};

async function checkpoint(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'yollava-vlm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const model = createRandomLlava(config, { seed: 3, std: 0.5 });
  saveLlava(model, dir);
  const tokenizerDir = join(repoRoot, 'test', 'models', 'fixtures', 'llama-tokenizer');
  for (const file of readdirSync(tokenizerDir)) copyFileSync(join(tokenizerDir, file), join(dir, file));
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({
    image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: 28 }, crop_size: { height: 28, width: 28 },
    do_resize: true, do_center_crop: true, do_rescale: true, do_normalize: true, do_convert_rgb: true, resample: 3,
    image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711],
  }));
  const photo = join(dir, 'photo.png');
  await sharp(Buffer.from(Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 37) % 256)), { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(photo);
  return { dir, model, photo };
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
