/**
 * The shipped base model, models/yollava-world: loads through the normal loader
 * (VisionLanguageModel.load), has LLaVA's structure with our conv tower, fits the package
 * budget, preprocesses pictures exactly as pretraining did, and answers a prompt.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { BaseModelScorer } from '../../src/pretrain/evaluate.ts';
import { scenePixelValues } from '../../src/pretrain/worldModelConfig.ts';
import { composeScene, createWorldSplit, describeIndividual, recognitionEvalQuestion, renderScene, Rng } from '../../src/world/index.ts';
import { repoRoot } from '../helpers/fixtures.ts';

const MODEL_DIR = join(repoRoot, 'models', 'yollava-world');

test('models/yollava-world loads through VisionLanguageModel.load and answers', async () => {
  assert.ok(existsSync(join(MODEL_DIR, 'model.safetensors')), `${MODEL_DIR}/model.safetensors is missing: run npm run pretrain`);
  assert.ok(statSync(join(MODEL_DIR, 'model.safetensors')).size <= 25 * 1024 * 1024, 'weights over 25 MB');
  const vlm = await VisionLanguageModel.load(MODEL_DIR);
  assert.equal(vlm.config.vision.kind, 'conv');
  assert.equal(vlm.config.text.kind, 'llama');
  assert.equal(vlm.promptFormat, 'llava_v1');
  assert.equal(vlm.tokenizer.tokenToId('<image>'), vlm.config.imageTokenId);
  assert.equal(vlm.model.imageTokenCount, 16);
  // The image processor gives what pretraining fed the tower.
  const rng = new Rng(11);
  const subject = createWorldSplit(0).subjects[0].individual;
  const rendered = renderScene(composeScene(rng, [subject]));
  const processed = vlm.imageProcessor.preprocess({ width: 64, height: 64, data: rendered.pixels }).pixelValues;
  const direct = scenePixelValues(rendered.pixels);
  let worst = 0;
  for (let i = 0; i < direct.length; i++) worst = Math.max(worst, Math.abs(direct[i] - processed[i]));
  assert.ok(worst < 1e-6, `preprocessing differs by ${worst}`);
  const features = await vlm.imageFeatures({ width: 64, height: 64, data: rendered.pixels });
  const answer = await vlm.generate(vlm.prompt([{ user: `<bo> is ${describeIndividual(subject)}. ${recognitionEvalQuestion('<bo>')}` }], { image: true }), [features], { maxNewTokens: 4 });
  assert.ok(answer.ids.length >= 1);
  // First-token scoring works on it (the evaluation's path).
  const scorer = new BaseModelScorer(vlm.model, vlm.tokenizer);
  assert.notEqual(scorer.answerToken('Yes'), scorer.answerToken('No'));
  assert.notEqual(scorer.answerToken('A'), scorer.answerToken('B'));
});

test('models/yollava-world ships its training summary, log and held-out metrics', () => {
  const summary = JSON.parse(readFileSync(join(MODEL_DIR, 'training-summary.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(summary.model, 'yollava-world');
  const metrics = JSON.parse(readFileSync(join(MODEL_DIR, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  for (const key of ['mcq', 'recognition', 'textQa', 'captions', 'unknownName']) assert.ok(key in metrics, key);
  assert.ok(existsSync(join(MODEL_DIR, 'pretrain-log.jsonl')));
});
