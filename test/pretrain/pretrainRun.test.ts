/**
 * A short pretraining run of the tiny configuration: the tokenizer, stage 1 (tower on attribute
 * labels) and stage 2 (instruction tuning) whose losses fall; the model folder loads through
 * the normal loader; and resuming from a checkpoint ends where an uninterrupted run ends.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors } from '../../src/engine/safetensors.ts';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { growDecoder } from '../../src/pretrain/growDecoder.ts';
import { withLayerLrScale } from '../../src/pretrain/stage2Instruct.ts';
import { parseLookAlikeWeights, parseMix, parsePhases, parsePretrainArgs, parseRecognitionNegatives, pretrain, type PretrainOptions } from '../../src/pretrain/main.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'yollava-pretrain-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function options(dir: string, overrides: Partial<PretrainOptions> = {}): PretrainOptions {
  return {
    seed: 3, stage: 'all', out: join(dir, 'model'), cache: join(dir, 'cache'), minutes: 10, resume: true, size: 'tiny',
    stage1Steps: 30, stage2Steps: 40, tokensPerStep: 256, eval: false, evalItems: 10, quiet: true,
    stage1Batch: 16, vocabSize: 600, evalEvery: 0, ...overrides,
  };
}

interface LogLine { stage: unknown; step?: number; loss?: number }

function losses(file: string, stage: number): number[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine)
    .filter((l) => l.stage === stage && typeof l.loss === 'number').map((l) => l.loss!);
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The largest |a − b| over every weight of two model files. */
function maxWeightDifference(a: string, b: string): number {
  const x = readSafetensors(a);
  const y = readSafetensors(b);
  assert.deepEqual([...x.keys()], [...y.keys()]);
  let worst = 0;
  for (const [name, tensor] of x) {
    const u = tensor.data as Float32Array;
    const v = y.get(name)!.data as Float32Array;
    for (let i = 0; i < u.length; i++) worst = Math.max(worst, Math.abs(u[i] - v[i]));
  }
  return worst;
}

test('tiny pretraining: both stages\' losses fall, the model folder loads and answers', async (t) => {
  const dir = tempDir(t);
  const report = await pretrain(options(dir));
  assert.equal(report.stage1?.done, true);
  assert.equal(report.stage2?.done, true);
  const log = join(dir, 'model', 'pretrain-log.jsonl');
  const s1 = losses(log, 1);
  const s2 = losses(log, 2);
  assert.equal(s1.length, 3);
  assert.equal(s2.length, 4);
  assert.ok(s1[2] < s1[0], `stage 1 loss ${s1.join(' → ')}`);
  assert.ok(s2[3] < s2[0] && mean(s2.slice(2)) < s2[0] - 0.2, `stage 2 loss ${s2.join(' → ')}`);
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json', 'training-summary.json']) {
    assert.ok(existsSync(join(dir, 'model', file)), file);
  }
  const vlm = await VisionLanguageModel.load(join(dir, 'model'));
  assert.equal(vlm.config.vision.kind, 'conv');
  assert.equal(vlm.model.imageTokenCount, 16);
  const answer = await vlm.generate(vlm.prompt([{ user: 'What is in this photo?' }], { image: true }), [new Float32Array(16 * 32)], { maxNewTokens: 3 });
  assert.ok(answer.ids.length >= 1);
});

test('resume: a run cut after 20 steps and resumed ends with the weights of an uninterrupted run', async (t) => {
  const dir = tempDir(t);
  const whole = options(join(dir, 'a'), { stage1Steps: 10, stage2Steps: 24 });
  await pretrain(whole);
  const cut = options(join(dir, 'b'), { stage1Steps: 10, stage2Steps: 24 });
  // Stage 1 in two sittings (stage 2 waits for it), then stage 2 in two sittings.
  await pretrain({ ...cut, stage: '1', stage1Steps: 10 });
  await pretrain({ ...cut, stage: '2', stage2Steps: 24, minutes: 0 }); // zero budget: no step, a checkpoint at step 0
  const stateAt0 = JSON.parse(readFileSync(join(dir, 'b', 'cache', 'tiny-seed-3', 'stage2', 'state.json'), 'utf8')) as { step: number };
  assert.equal(stateAt0.step, 0);
  await pretrain({ ...cut, stage: '2' });
  const worst = maxWeightDifference(join(dir, 'a', 'model', 'model.safetensors'), join(dir, 'b', 'model', 'model.safetensors'));
  assert.ok(worst < 1e-4, `max |Δ| ${worst}`);
});

test('--workers 2: stage 2 on two worker processes, in two sittings, takes the steps one process takes', async (t) => {
  const dir = tempDir(t);
  // One stage 1 for both runs, then stage 2 from the same start: 3 micro-batches a step, so both workers add gradients.
  const base = options(join(dir, 'one'), { stage1Steps: 5, stage2Steps: 6, tokensPerStep: 1200 });
  await pretrain({ ...base, stage: '1' });
  await pretrain({ ...base, stage: '2', minutes: 0 });
  const start = readSafetensors(join(dir, 'one', 'model', 'model.safetensors'));
  cpSync(join(dir, 'one'), join(dir, 'two'), { recursive: true });
  await pretrain({ ...base, stage: '2' });
  // In two sittings (stopped after 3 steps, the next step's samples already gathered), then resumed.
  let checks = 0;
  const two = { ...base, out: join(dir, 'two', 'model'), cache: join(dir, 'two', 'cache'), stage: '2' as const, workers: 2 };
  await pretrain({ ...two, stopRequested: () => ++checks > 3 });
  const cut = JSON.parse(readFileSync(join(dir, 'two', 'cache', 'tiny-seed-3', 'stage2', 'state.json'), 'utf8')) as { step: number };
  assert.equal(cut.step, 3);
  await pretrain(two);
  const one = readSafetensors(join(dir, 'one', 'model', 'model.safetensors'));
  const parallel = readSafetensors(join(dir, 'two', 'model', 'model.safetensors'));
  // The updates agree (float sums in another order differ slightly; a missing or doubled share would not).
  let moved = 0;
  let apart = 0;
  for (const [name, tensor] of one) {
    if (name.includes('vision_tower')) continue;
    const x = tensor.data as Float32Array;
    const y = parallel.get(name)!.data as Float32Array;
    const x0 = start.get(name)!.data as Float32Array;
    for (let i = 0; i < x.length; i++) {
      moved += (x[i] - x0[i]) ** 2;
      apart += (x[i] - y[i]) ** 2;
    }
  }
  assert.ok(moved > 0, 'stage 2 moved the weights');
  assert.ok(Math.sqrt(apart / moved) < 0.01, `updates differ by ${Math.sqrt(apart / moved)} of their norm`);
  const stepLosses = (out: string) => readFileSync(join(out, 'pretrain-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine & { workers?: number })
    .filter((l) => l.stage === 2 && typeof l.loss === 'number');
  const lastOne = stepLosses(join(dir, 'one', 'model')).at(-1)!;
  const lastTwo = stepLosses(join(dir, 'two', 'model')).at(-1)!;
  assert.equal(lastTwo.workers, 2);
  assert.equal(lastTwo.step, 6);
  assert.ok(Math.abs(lastOne.loss! - lastTwo.loss!) < 1e-3, `loss at step 6: ${lastOne.loss} vs ${lastTwo.loss}`);
});

test('warm start: without checkpoints, stage 2 continues from the model folder\'s weights and summary', async (t) => {
  const dir = tempDir(t);
  const first = options(dir, { stage1Steps: 5, stage2Steps: 10 });
  await pretrain(first);
  const summaryFile = join(dir, 'model', 'training-summary.json');
  const before = JSON.parse(readFileSync(summaryFile, 'utf8')) as { stage2: { step: number; samples: number } };
  assert.equal(before.stage2.step, 10);
  rmSync(join(dir, 'cache'), { recursive: true, force: true });
  const report = await pretrain({ ...first, stage2Steps: 16 });
  assert.equal(report.stage1, null, 'stage 1 is not redone');
  const after = JSON.parse(readFileSync(summaryFile, 'utf8')) as { stage2: { step: number; samples: number } };
  assert.equal(after.stage2.step, 16);
  assert.ok(after.stage2.samples > before.stage2.samples);
  // New optimizer moments: the lr ramps up again from step 10, and the checkpoint keeps that.
  const stage2State = () => JSON.parse(readFileSync(join(dir, 'cache', 'tiny-seed-3', 'stage2', 'state.json'), 'utf8')) as { rewarmFrom: number | null };
  assert.equal(stage2State().rewarmFrom, 10);
  // The next sitting resumes from the checkpoints the warm start left (it once failed: no stage-1 checkpoint).
  await pretrain({ ...first, stage2Steps: 20 });
  const third = JSON.parse(readFileSync(summaryFile, 'utf8')) as { stage2: { step: number } };
  assert.equal(third.stage2.step, 20);
  assert.equal(stage2State().rewarmFrom, 10);
});

test('warm start: stage 1 goes on from the model folder\'s tower with new heads, and stage 2 then reads the new tower', async (t) => {
  const dir = tempDir(t);
  const first = options(dir, { stage1Steps: 5, stage2Steps: 10 });
  await pretrain(first);
  const towerBefore = readSafetensors(join(dir, 'model', 'model.safetensors')).get('model.vision_tower.stem.weight');
  assert.ok(towerBefore, 'the model has a stem weight');
  rmSync(join(dir, 'cache'), { recursive: true, force: true });
  const report = await pretrain({ ...first, stage: '1', stage1Steps: 9 });
  assert.equal(report.stage1?.step, 9);
  assert.equal(report.stage1?.done, true);
  await pretrain({ ...first, stage: '2', stage2Steps: 12 });
  const summary = JSON.parse(readFileSync(join(dir, 'model', 'training-summary.json'), 'utf8')) as { stage1: { step: number }; stage2: { step: number } };
  assert.equal(summary.stage1.step, 9);
  assert.equal(summary.stage2.step, 12);
  const towerAfter = readSafetensors(join(dir, 'model', 'model.safetensors')).get('model.vision_tower.stem.weight')!;
  const x = towerBefore.data as Float32Array;
  const y = towerAfter.data as Float32Array;
  let moved = 0;
  for (let i = 0; i < x.length; i++) moved = Math.max(moved, Math.abs(x[i] - y[i]));
  assert.ok(moved > 1e-5, `the shipped tower changed by ${moved}`);
});

test('--stage written: the folder\'s tower writes 11 soft-word tokens; stage 2 continues through them from the checkpoints and from the folder alone, the written layer frozen', async (t) => {
  const dir = tempDir(t);
  const first = options(dir, { stage1Steps: 5, stage2Steps: 10 });
  await pretrain(first);
  const model = join(dir, 'model');
  const weightsFile = join(model, 'model.safetensors');
  const projectorBefore = readSafetensors(weightsFile).get('model.multi_modal_projector.linear_1.weight')!.data as Float32Array;
  await pretrain({ ...first, stage: 'written', writtenPictures: 64 });
  const vlm = await VisionLanguageModel.load(model);
  assert.equal(vlm.model.imageTokenCount, 16 + 11);
  const summary = () => JSON.parse(readFileSync(join(model, 'training-summary.json'), 'utf8')) as { imageTokens: number; writtenTokens: { pictures: number; tableCosine: number }; stage2: { step: number } };
  assert.equal(summary().imageTokens, 27);
  assert.equal(summary().writtenTokens.pictures, 64);
  assert.ok(summary().writtenTokens.tableCosine > 0.3, `table fit ${summary().writtenTokens.tableCosine}`);
  const written = readSafetensors(weightsFile);
  const table = written.get('model.vision_tower.written_table')!.data as Float32Array;
  assert.deepEqual(written.get('model.multi_modal_projector.linear_1.weight')!.data, projectorBefore, 'only the tower changed');
  await assert.rejects(pretrain({ ...first, stage: 'written', writtenPictures: 64 }), /already writes tokens/);

  // From the checkpoints (the stage-1 one now holds the written layer), then from the folder alone.
  await pretrain({ ...first, stage: '2', stage2Steps: 13 });
  assert.equal(summary().stage2.step, 13);
  rmSync(join(dir, 'cache'), { recursive: true, force: true });
  await pretrain({ ...first, stage: '2', stage2Steps: 16 });
  assert.equal(summary().stage2.step, 16);
  const after = readSafetensors(weightsFile);
  assert.deepEqual(after.get('model.vision_tower.written_table')!.data, table, 'stage 2 does not train the written layer');
  assert.notDeepEqual(after.get('model.multi_modal_projector.linear_1.weight')!.data, projectorBefore, 'the projector learned');
  assert.equal((await VisionLanguageModel.load(model)).model.imageTokenCount, 27);
});

test('"written" in --phases: the sitting gives the tower written tokens where the phase before it ends, goes on through them, and later sittings keep them', async (t) => {
  const dir = tempDir(t);
  const phases = parsePhases('description_text=1@6;written;mcq=1,attribute=1');
  assert.deepEqual(phases.map((p) => [p.untilStep, p.thenWrittenTokens ?? false]), [[6, true], [undefined, false]]);
  const run = options(dir, { stage1Steps: 5, stage2Steps: 10, phases, writtenPictures: 64 });
  const report = await pretrain(run);
  assert.equal(report.stage2?.step, 10);
  const model = join(dir, 'model');
  const summary = () => JSON.parse(readFileSync(join(model, 'training-summary.json'), 'utf8')) as { imageTokens: number; writtenTokens?: { atStep: number }; stage2: { step: number } };
  assert.equal(summary().imageTokens, 27);
  assert.equal(summary().writtenTokens?.atStep, 6);
  const log = readFileSync(join(model, 'pretrain-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { stage: unknown; step?: number });
  const writtenAt = log.findIndex((l) => l.stage === 'written');
  assert.ok(writtenAt > 0, 'the log records the written tokens');
  assert.deepEqual(log.slice(writtenAt + 1).filter((l) => l.stage === 2 && l.step !== undefined).map((l) => l.step), [10], 'stage 2 went on after them');
  assert.equal((await VisionLanguageModel.load(model)).model.imageTokenCount, 27);
  const table = readSafetensors(join(model, 'model.safetensors')).get('model.vision_tower.written_table')!.data;
  // A later sitting resumes with the written tower (from the stage-1 checkpoint) and does not fit it again.
  await pretrain({ ...run, stage2Steps: 12 });
  assert.equal(summary().stage2.step, 12);
  assert.equal(summary().writtenTokens?.atStep, 6);
  assert.deepEqual(readSafetensors(join(model, 'model.safetensors')).get('model.vision_tower.written_table')!.data, table);
  assert.equal(readFileSync(join(model, 'pretrain-log.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"stage":"written"')).length, 1);
});

test('--language-from: a fresh stage 2 starts its projector and decoder from another folder, the tower from stage 1; a foreign tokenizer is refused', async (t) => {
  const dir = tempDir(t);
  const donor = options(join(dir, 'donor'), { stage1Steps: 5, stage2Steps: 10 });
  await pretrain(donor);
  const donorWeights = readSafetensors(join(dir, 'donor', 'model', 'model.safetensors'));
  // A new model: its own stage 1, then stage 2 from the donor's language side, zero steps.
  const fresh = options(join(dir, 'fresh'), { stage1Steps: 6, stage2Steps: 10, languageFrom: join(dir, 'donor', 'model') });
  await pretrain({ ...fresh, stage: '1' });
  await pretrain({ ...fresh, stage: '2', minutes: 0 });
  const freshWeights = readSafetensors(join(dir, 'fresh', 'model', 'model.safetensors'));
  const maxDiff = (name: string) => {
    const x = donorWeights.get(name)!.data as Float32Array;
    const y = freshWeights.get(name)!.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
    return worst;
  };
  assert.equal(maxDiff('model.multi_modal_projector.linear_1.weight'), 0);
  assert.equal(maxDiff('model.language_model.layers.0.self_attn.q_proj.weight'), 0);
  assert.equal(maxDiff('lm_head.weight'), 0);
  assert.ok(maxDiff('model.vision_tower.stem.weight') > 1e-5, 'the tower is the new stage 1\'s');
  const summary = JSON.parse(readFileSync(join(dir, 'fresh', 'model', 'training-summary.json'), 'utf8')) as { languageFrom: { folder: string; trainingSummary: { stage2: { step: number } } } };
  assert.equal(summary.languageFrom.folder, join(dir, 'donor', 'model'));
  assert.equal(summary.languageFrom.trainingSummary.stage2.step, 10, 'the donor\'s own history is kept');
  // Another vocabulary size means another tokenizer: refused with the file named.
  const other = options(join(dir, 'other'), { stage1Steps: 2, stage2Steps: 2, vocabSize: 500, languageFrom: join(dir, 'donor', 'model') });
  await assert.rejects(pretrain(other), /--language-from .*tokenizer\.json differs/);
});

test('--decoder-layers grows a trained folder: new layers on top start as the identity, train, and resume grown; another depth is refused', async (t) => {
  const dir = tempDir(t);
  const first = options(dir, { stage1Steps: 5, stage2Steps: 10 });
  await pretrain(first);
  const folder = join(dir, 'model');
  const configOf = () => JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as { text_config: { num_hidden_layers: number } };
  assert.equal(configOf().text_config.num_hidden_layers, 2);

  // Grown in memory: the same logits to the last bit, since the new layers add zero.
  const vlm = await VisionLanguageModel.load(folder);
  const ids = vlm.tokenizer.encode('USER: What kind of subject is a dog? ASSISTANT:');
  const lastLogits = (model: typeof vlm.model) => model.logitsAt(model.forward({ ids }, model.decoder.newCache(ids.length)), [ids.length - 1]);
  const grown = growDecoder(vlm.model, 4, { seed: 5 });
  assert.equal(grown.decoder.weights.layers.length, 4);
  assert.deepEqual(lastLogits(grown), lastLogits(vlm.model));
  assert.throws(() => growDecoder(vlm.model, 1), /cannot grow a 2-layer decoder to 1 layers/);

  // A warm start with --decoder-layers 3: the folder comes back with 3 layers, the new one trained.
  rmSync(join(dir, 'cache'), { recursive: true, force: true });
  await pretrain({ ...first, stage2Steps: 14, decoderLayers: 3 });
  assert.equal(configOf().text_config.num_hidden_layers, 3);
  const weights = readSafetensors(join(folder, 'model.safetensors'));
  const o = weights.get('model.language_model.layers.2.self_attn.o_proj.weight')!.data as Float32Array;
  assert.ok(o.some((x) => x !== 0), 'the new layer\'s output projection left zero');
  // The next sitting resumes 3 layers deep without the flag; a flag for another depth is refused.
  await pretrain({ ...first, stage2Steps: 16 });
  assert.equal(configOf().text_config.num_hidden_layers, 3);
  await assert.rejects(pretrain({ ...first, stage2Steps: 18, decoderLayers: 2 }), /--decoder-layers 2: the stage-2 checkpoint in .* has 3 decoder layers/);
  assert.equal(parsePretrainArgs(['--decoder-layers', '6']).decoderLayers, 6);
  assert.deepEqual(parsePretrainArgs(['--layer-lr-scale', '4:10']).layerLrScale, { fromLayer: 4, scale: 10 });
  assert.throws(() => parsePretrainArgs(['--layer-lr-scale', '4']), /--layer-lr-scale must be LAYER:SCALE/);
  // Only the named layers' parameters get the scale; the arrays stay the model's.
  const params = [{ name: 'decoder.layers.1.o.weight', value: new Float32Array(1), grad: new Float32Array(1) }, { name: 'decoder.layers.2.o.weight', value: new Float32Array(1), grad: new Float32Array(1) }, { name: 'projector.linear_1.weight', value: new Float32Array(1), grad: new Float32Array(1) }];
  const scaled = withLayerLrScale(params, { fromLayer: 2, scale: 10 });
  assert.deepEqual(scaled.map((p) => p.lrScale), [undefined, 10, undefined]);
  assert.equal(scaled[1].value, params[1].value);
  assert.throws(() => parsePretrainArgs(['--decoder-layers', '0']), /--decoder-layers must be an integer/);
});

test('--mix names the stage-2 tasks and their weights; the rest get 0; bad names and weights are refused', () => {
  const mix = parseMix('description_text=1, kind_text=0.25');
  assert.equal(mix.description_text, 1);
  assert.equal(mix.kind_text, 0.25);
  assert.equal(mix.recognition, 0);
  assert.equal(parsePretrainArgs(['--mix', 'mcq=2']).mix?.mcq, 2);
  assert.throws(() => parseMix('descriptions=1'), /unknown task "descriptions"/);
  assert.throws(() => parseMix('mcq=-1'), /non-negative/);
  assert.throws(() => parseMix('mcq=0'), /at least one task/);
});

test('--recognition-negatives weighs the kinds of recognition negatives; the rest get 0; bad input is refused', () => {
  assert.deepEqual(parseRecognitionNegatives('same=0.3, other=0.7'), { oneAttribute: 0, twoAttributes: 0, sameKind: 0.3, otherKind: 0.7 });
  assert.equal(parsePretrainArgs(['--recognition-negatives', 'one=1']).recognitionNegatives?.oneAttribute, 1);
  assert.equal(parsePretrainArgs([]).recognitionNegatives, undefined);
  assert.throws(() => parseRecognitionNegatives('three=1'), /unknown kind "three"/);
  assert.throws(() => parseRecognitionNegatives('one=x'), /non-negative/);
  assert.throws(() => parseRecognitionNegatives('one=0'), /at least one kind/);
});

test('--look-alike-weights names kind.attribute weights; unknown attributes and bad weights are refused', () => {
  assert.deepEqual(parseLookAlikeWeights('person.hairStyle=4, landmark.flag=2.5'), { 'person.hairStyle': 4, 'landmark.flag': 2.5 });
  assert.deepEqual(parsePretrainArgs(['--look-alike-weights', 'pet.collar=3']).lookAlikeWeights, { 'pet.collar': 3 });
  assert.equal(parsePretrainArgs([]).lookAlikeWeights, undefined);
  assert.throws(() => parseLookAlikeWeights('person.wings=2'), /unknown attribute "person.wings" \(person.gender, /);
  assert.throws(() => parseLookAlikeWeights('dragon.color=2'), /unknown attribute "dragon.color" \(kinds person, /);
  assert.throws(() => parseLookAlikeWeights('person.skin=0'), /positive number/);
  assert.throws(() => parseLookAlikeWeights(''), /name at least one attribute/);
});

test('--phases: a curriculum of mixes with the step each ends at; malformed lists are refused', () => {
  const phases = parsePhases('option_match=1@1100; description_text=0.8,kind_text=0.2@4000; mcq=1');
  assert.deepEqual(phases.map((p) => p.untilStep), [1100, 4000, undefined]);
  assert.equal(phases[0].mix.option_match, 1);
  assert.equal(phases[0].mix.mcq, 0);
  assert.equal(phases[1].mix.kind_text, 0.2);
  assert.deepEqual(parsePretrainArgs(['--phases', 'mcq=1@5;caption=1']).phases?.map((p) => p.untilStep), [5, undefined]);
  assert.throws(() => parsePhases('mcq=1@5;caption=1@9'), /the last phase runs to the end/);
  assert.throws(() => parsePhases('mcq=1;caption=1'), /phase 1 \("mcq=1"\) needs "@STEP"/);
  assert.throws(() => parsePhases('written;mcq=1@5;caption=1'), /"written" goes between two phases/);
  assert.throws(() => parsePhases('mcq=1@5;caption=1@8;written'), /"written" goes between two phases/);
  assert.throws(() => parsePhases('mcq=1@5;written;caption=1@8;written;mcq=1'), /"written" can be given once/);
  assert.throws(() => parsePhases('mcq=1@9;caption=1@4;kind_text=1'), /phase 2 .* a step after 9/);
  assert.throws(() => parsePhases('mcq=1@5@6;caption=1'), /more than one "@"/);
  assert.throws(() => parsePhases('wings=1@5;caption=1'), /unknown task "wings"/);
  assert.throws(() => parsePretrainArgs(['--phases', 'mcq=1@5;caption=1', '--mix', 'mcq=1']), /--phases and --mix exclude each other/);
  assert.throws(() => parsePretrainArgs(['--phases', 'mcq=1@5;caption=1', '--recognition-focus-from', '0.5']), /--phases and --recognition-focus-from exclude each other/);
  assert.equal(parsePretrainArgs(['--recognition-focus-from', '0.5']).recognitionFocusFrom, 0.5);
});

test('--phases: a curriculum in one run ends with the weights of its phases run as sittings with --mix', async (t) => {
  const dir = tempDir(t);
  const [first, second] = ['option_match=1', 'caption=0.5,mcq=0.5'];
  // One stage 1 for both runs, then stage 2 from the same start.
  const base = options(join(dir, 'whole'), { stage1Steps: 5, stage2Steps: 6, tokensPerStep: 600 });
  await pretrain({ ...base, stage: '1' });
  await pretrain({ ...base, stage: '2', minutes: 0 });
  cpSync(join(dir, 'whole'), join(dir, 'sittings'), { recursive: true });
  await pretrain({ ...base, stage: '2', phases: parsePhases(`${first}@3;${second}`) });
  // The same as two sittings: the first mix until step 3, then the second (no recognition focus).
  const sittings = { ...base, out: join(dir, 'sittings', 'model'), cache: join(dir, 'sittings', 'cache'), stage: '2' as const, recognitionFocusFrom: 1 };
  let checks = 0;
  await pretrain({ ...sittings, mix: parseMix(first), stopRequested: () => ++checks > 3 });
  await pretrain({ ...sittings, mix: parseMix(second) });
  const wholeFile = join(dir, 'whole', 'model', 'model.safetensors');
  const worst = maxWeightDifference(wholeFile, join(dir, 'sittings', 'model', 'model.safetensors'));
  assert.ok(worst < 1e-4, `max |Δ| ${worst}`);
  // Not the same as either mix alone: the second phase changed what was trained on.
  const onlyFirst = options(join(dir, 'first'), { stage1Steps: 5, stage2Steps: 6, tokensPerStep: 600, recognitionFocusFrom: 1, mix: parseMix(first) });
  cpSync(join(dir, 'whole', 'cache', 'tiny-seed-3', 'stage1'), join(dir, 'first', 'cache', 'tiny-seed-3', 'stage1'), { recursive: true });
  cpSync(join(dir, 'whole', 'model'), join(dir, 'first', 'model'), { recursive: true, filter: (f) => !f.endsWith('.safetensors') && !f.endsWith('.jsonl') && !f.endsWith('training-summary.json') });
  await pretrain({ ...onlyFirst, stage: '2' });
  const apart = maxWeightDifference(wholeFile, join(dir, 'first', 'model', 'model.safetensors'));
  assert.ok(apart > 1e-3, `the second phase mattered: max |Δ| ${apart}`);
  const summary = JSON.parse(readFileSync(join(dir, 'whole', 'model', 'training-summary.json'), 'utf8')) as { stage2: { phases?: { untilStep?: number }[]; mix?: unknown } };
  assert.deepEqual(summary.stage2.phases?.map((p) => p.untilStep ?? null), [3, null]);
  assert.equal(summary.stage2.mix, undefined);
});

test('--no-yes-no-options / --yes-no-options-text-only set the corpus form of yes/no checks; both at once are refused', () => {
  assert.equal(parsePretrainArgs([]).yesNoOptions, undefined);
  assert.equal(parsePretrainArgs(['--no-yes-no-options']).yesNoOptions, false);
  assert.equal(parsePretrainArgs(['--yes-no-options-text-only']).yesNoOptions, 'text');
  assert.throws(() => parsePretrainArgs(['--no-yes-no-options', '--yes-no-options-text-only']), /exclude each other/);
});

test('Ctrl-C ends a sitting after the current step: checkpoint and model folder written, exit code 0', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'model');
  const cache = join(dir, 'cache');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/pretrain/main.ts', '--size', 'tiny', '--seed', '3', '--out', out, '--cache', cache,
    '--stage1-steps', '5', '--stage2-steps', '100000', '--tokens-per-step', '256'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let signalled = false;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!signalled && /\[stage 2\] step \d+\/100000/.test(stderr)) {
      signalled = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr.slice(-2000));
  assert.match(stderr, /SIGINT: stopping after this step/);
  const summary = JSON.parse(readFileSync(join(out, 'training-summary.json'), 'utf8')) as { stage2: { step: number; done: boolean } };
  assert.ok(summary.stage2.step >= 10 && summary.stage2.step < 100000, `stopped at ${summary.stage2.step}`);
  assert.equal(summary.stage2.done, false);
  const state = JSON.parse(readFileSync(join(cache, 'tiny-seed-3', 'stage2', 'state.json'), 'utf8')) as { step: number };
  assert.equal(state.step, summary.stage2.step, 'the checkpoint is where the sitting stopped');
});
