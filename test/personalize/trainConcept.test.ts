/**
 * The trainer on a real tiny checkpoint: the loss falls, every epoch is measured and the best
 * kept, an abort keeps the best epoch so far, a resumed run equals an uninterrupted one, the
 * cached prefix gives the gradients of a full recompute; hard negatives' weight applies; crop
 * windows; concept files round-trip; concepts are refused on another base model; two concepts
 * share one prompt; anchorDecay pulls the rows back to their start; freezeLatentRows keeps them;
 * latentStart (photoStartRows: a photo's image tokens) sets where they start; latentRows 'vocabulary'
 * keeps the latent rows mixes of token embeddings; descriptionInPrompt writes the description into
 * the personalization text. On a model that talks through its chat template (Qwen2 LLaVA, ChatML)
 * a sample is the generation prompt, the answer and "<|im_end|>", and a concept trains, recognizes
 * and chats; a template that never closes an answer is refused before any work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../src/engine/safetensors.ts';
import { cropRegion } from '../../src/models/image/cropRegion.ts';
import { decodeImage } from '../../src/models/image/decodeImage.ts';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { buildConceptData } from '../../src/personalize/conceptData.ts';
import { Concept, ConceptError } from '../../src/personalize/Concept.ts';
import { ConceptSet } from '../../src/personalize/ConceptSet.ts';
import { encodeQuestion, encodeTrainingSample, yesNoTokenIds } from '../../src/personalize/conceptPrompts.ts';
import { recognize } from '../../src/personalize/recognize.ts';
import { balancedNegativeWeight, boundaryShare, HARD_NEGATIVE_SHARE, MAX_SHIFT, photoStartRows, searchShift, trainConcept, type TrainProgress } from '../../src/personalize/trainConcept.ts';
import { VocabularyRows } from '../../src/personalize/vocabularyRows.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';

async function setup(t: { after: (fn: () => void) => void }, tokenizer: 'llama' | 'qwen2' = 'llama') {
  const tiny = await makeTinyCheckpoint(t, { photos: 4, tokenizer });
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const data = buildConceptData({
    name: 'bo', positives: tiny.photos.slice(0, 2), easyNegatives: tiny.photos.slice(2), questionsPerPositive: 3,
    conversations: [{ question: 'What color is <bo>?', answer: '<bo> is red.' }],
  });
  return { tiny, vlm, data };
}

test('training lowers the loss, measures every epoch and keeps the best', async (t) => {
  const { vlm, data } = await setup(t);
  const events: TrainProgress[] = [];
  const epochRows: Array<{ epoch: number; input: Float32Array; accuracy: number }> = [];
  const result = await trainConcept(vlm, data, {
    latentCount: 2, epochs: 4, learningRate: 0.05, seed: 1, onProgress: (p) => events.push(p),
    onEpochRows: (epoch, rows, metrics) => epochRows.push({ epoch, input: rows.input, accuracy: metrics.weightedAccuracy }),
  });
  assert.deepEqual(result.epochs.map((e) => e.epoch), [0, 1, 2, 3, 4], 'the starting rows are measured as epoch 0');
  assert.deepEqual(epochRows.map((e) => [e.epoch, e.accuracy]), result.epochs.map((e) => [e.epoch, e.weightedAccuracy]), 'onEpochRows: every epoch with its check');
  assert.deepEqual(epochRows.find((e) => e.epoch === result.concept.info.bestEpoch)!.input, result.concept.inputRows, 'the best epoch\'s rows are the concept\'s');
  assert.notDeepEqual(epochRows[0].input, epochRows[4].input);
  assert.equal(result.epochs[0].loss, null);
  const losses = result.epochs.slice(1).map((e) => e.loss!);
  assert.ok(losses.every((loss, i) => i === 0 || loss < losses[i - 1]) && losses[3] < losses[0] - 0.3, `loss ${losses.map((l) => l.toFixed(3)).join(' → ')}`);
  const best = Math.max(...result.epochs.map((e) => e.weightedAccuracy));
  assert.equal(result.epochs.find((e) => e.epoch === result.concept.info.bestEpoch)!.weightedAccuracy, best);
  assert.equal(result.concept.info.latentCount, 2);
  assert.equal(result.concept.inputRows.length, 3 * 32);
  assert.deepEqual([...new Set(events.map((e) => e.phase))], ['preparing', 'evaluating', 'training', 'done'], 'epoch 0 is measured before training');
  assert.ok(events.some((e) => e.phase === 'training' && e.remainingSeconds !== null));
  assert.equal(vlm.tokenizer.tokenToId('<bo>'), undefined, 'the training tokens are removed afterwards');
});

test('the cached prefix gives the gradients of a full recompute', async (t) => {
  const { vlm, tiny } = await setup(t);
  const concept = (await trainConcept(vlm, buildConceptData({ name: 'bo', positives: [tiny.photos[0]], questionsPerPositive: 1 }), { latentCount: 2, epochs: 1 })).concept;
  const set = new ConceptSet(vlm);
  set.add(concept);
  const prompt = encodeTrainingSample(vlm, concept, set.identifierId('bo'), 'Is <bo> in this photo?', 'Yes, <bo> is in this photo.', true);
  const features = await vlm.imageFeatures(tiny.photos[0]);
  const extra = set.extraTokens();
  const cached = vlm.model.lossAndGradients({ ids: prompt.suffixIds, labels: prompt.suffixLabels, extra, cache: vlm.model.prefill({ ids: prompt.prefixIds, images: [features] }) });
  const full = vlm.model.lossAndGradients({
    ids: [...prompt.prefixIds, ...prompt.suffixIds], labels: [...prompt.prefixIds.map(() => -100), ...prompt.suffixLabels], images: [features], extra,
  });
  assert.ok(Math.abs(cached.loss - full.loss) < 1e-5);
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  const scale = full.inputRowGrads.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(scale > 0);
  assert.ok(maxDiff(cached.inputRowGrads, full.inputRowGrads) <= 1e-5 * scale + 1e-7);
  assert.ok(maxDiff(cached.outputRowGrads, full.outputRowGrads) <= 1e-5 * scale + 1e-7);
  assert.ok(prompt.suffixLabels.some((label) => label === set.identifierId('bo')), 'the answer predicts <bo> itself');
});

test('an abort keeps the best epoch so far; a resumed run equals an uninterrupted one', async (t) => {
  const { vlm, data, tiny } = await setup(t);
  const options = { latentCount: 2, epochs: 3, learningRate: 0.05, seed: 2 };
  const straight = await trainConcept(vlm, data, options);

  const controller = new AbortController();
  const aborted = await trainConcept(vlm, data, { ...options, signal: controller.signal, onProgress: (p) => { if (p.epoch === 2 && p.phase === 'training') controller.abort(); } });
  assert.equal(aborted.interrupted, true);
  assert.deepEqual(aborted.epochs.map((e) => e.epoch), [0, 1], 'the starting rows and the one finished epoch');
  const bestSoFar = aborted.epochs.reduce((a, b) => (b.weightedAccuracy > a.weightedAccuracy ? b : a));
  assert.equal(aborted.concept.info.bestEpoch, bestSoFar.epoch);

  const checkpointFile = join(tiny.dir, 'bo.training.safetensors');
  await trainConcept(vlm, data, { ...options, epochs: 2, checkpointFile });
  const resumed = await trainConcept(vlm, data, { ...options, checkpointFile, resume: true });
  assert.equal(resumed.epochs.length, 4);
  assert.deepEqual(resumed.epochs.map((e) => e.weightedAccuracy), straight.epochs.map((e) => e.weightedAccuracy));
  const diff = resumed.concept.inputRows.reduce((m, v, i) => Math.max(m, Math.abs(v - straight.concept.inputRows[i])), 0);
  assert.ok(diff < 1e-5, `resumed rows differ by ${diff}`);
  await assert.rejects(() => trainConcept(vlm, buildConceptData({ name: 'bo', positives: [tiny.photos[0]] }), { ...options, checkpointFile, resume: true }), /other training data or settings/);
});

test('a description starts the latent rows at its token embeddings, and the starting rows can be the best', async (t) => {
  const { vlm, data } = await setup(t);
  const description = 'red';
  const ids = vlm.tokenizer.encode(description, { addSpecialTokens: false });
  assert.ok(ids.length >= 2 && ids.length < 6, `${ids.length} tokens`); // a byte-level tiny tokenizer
  const result = await trainConcept(vlm, { ...data, description }, { latentCount: 6, epochs: 0, seed: 3 });
  const C = vlm.model.hiddenSize;
  const table = vlm.model.decoder.weights.embedTokens.data as Float32Array;
  ids.forEach((id, i) => assert.deepEqual(result.concept.inputRows.subarray((i + 1) * C, (i + 2) * C), table.subarray(id * C, (id + 1) * C), `row ${i + 1}`));
  const randomStart = await trainConcept(vlm, data, { latentCount: 6, epochs: 0, seed: 3 });
  const last = (c: Concept) => c.inputRows.subarray(6 * C);
  assert.deepEqual(last(result.concept), last(randomStart.concept), 'rows past the description keep the random start');
  assert.notDeepEqual(result.concept.inputRows.subarray(C, 2 * C), randomStart.concept.inputRows.subarray(C, 2 * C));
  assert.equal(result.concept.info.training.descriptionTokens, ids.length);
  assert.equal(randomStart.concept.info.training.descriptionTokens, 0);
  assert.equal(result.concept.info.bestEpoch, 0);
  assert.deepEqual(result.epochs.map((e) => e.epoch), [0]);
});

test('descriptionInPrompt: the description is also words in the personalization text, in training and after', async (t) => {
  const { vlm, data, tiny } = await setup(t);
  const description = 'a red dog.\n';
  const plain = await trainConcept(vlm, { ...data, description }, { latentCount: 2, epochs: 1, seed: 3 });
  const worded = await trainConcept(vlm, { ...data, description }, { latentCount: 2, epochs: 1, seed: 3, descriptionInPrompt: true });
  assert.equal(plain.concept.info.text, undefined);
  assert.equal(plain.concept.personalization, '<bo> is <bo_0><bo_1>.');
  assert.equal(worded.concept.info.text, 'a red dog');
  assert.equal(worded.concept.personalization, '<bo> is <bo_0><bo_1>. <bo> is a red dog.');
  assert.equal(worded.concept.withName('mam').personalization, '<mam> is <mam_0><mam_1>. <mam> is a red dog.');
  assert.equal(worded.concept.info.training.descriptionInPrompt, 1);
  // The words are in what the rows were trained with: same start and samples, another loss.
  const loss = (r: typeof plain) => r.epochs.find((e) => e.epoch === 1)!.loss!;
  assert.ok(Number.isFinite(loss(worded)) && loss(worded) !== loss(plain), `${loss(worded)} vs ${loss(plain)}`);
  const set = new ConceptSet(vlm);
  set.add(worded.concept);
  const sample = encodeTrainingSample(vlm, worded.concept, set.identifierId('bo'), 'Is <bo> here?', 'Yes', false);
  const words = vlm.tokenizer.encode(' is a red dog.', { addSpecialTokens: false });
  const suffix = sample.suffixIds.join(',');
  assert.ok(suffix.includes(words.slice(1).join(',')), 'the description\'s tokens follow the latent tokens');
  set.remove('bo');
  const file = join(tiny.dir, 'worded.concept.safetensors');
  worded.concept.save(file);
  assert.equal(Concept.load(file).personalization, worded.concept.personalization);
  await assert.rejects(trainConcept(vlm, data, { latentCount: 2, epochs: 0, descriptionInPrompt: true }), /descriptionInPrompt needs a description/);
});

test('anchorDecay pulls the input rows back towards their start (fully at learningRate × anchorDecay = 1)', async (t) => {
  const { vlm, data, tiny } = await setup(t);
  const options = { latentCount: 2, epochs: 2, learningRate: 0.05, seed: 4, targetFalsePositiveRate: null };
  const start = (await trainConcept(vlm, data, { ...options, epochs: 0 })).concept.inputRows;
  // The rows after the last step are in the training checkpoint (the concept keeps the best epoch's).
  const trainedRows = async (anchorDecay: number) => {
    const checkpointFile = join(tiny.dir, `anchor-${anchorDecay}.safetensors`);
    const { concept } = await trainConcept(vlm, data, { ...options, anchorDecay, checkpointFile });
    assert.equal(concept.info.training.anchorDecay, anchorDecay);
    return readSafetensors(checkpointFile).get('input')!.data as Float32Array;
  };
  const distance = (rows: Float32Array) => Math.sqrt(rows.reduce((sum, v, i) => sum + (v - start[i]) ** 2, 0));
  const free = distance(await trainedRows(0)), half = distance(await trainedRows(5)), held = distance(await trainedRows(20));
  assert.ok(free > 0.01, `free rows moved ${free}`);
  assert.ok(held < 1e-5, `fully anchored rows moved ${held}`);
  assert.ok(half > held && half < free, `${half} should lie between ${held} and ${free}`);
});

test('freezeLatentRows: the latent rows stay at their start; <name>\'s rows learn', async (t) => {
  const { vlm, data, tiny } = await setup(t);
  const described = { ...data, description: 'red' };
  const options = { latentCount: 2, epochs: 2, learningRate: 0.05, seed: 4, targetFalsePositiveRate: null };
  const start = (await trainConcept(vlm, described, { ...options, epochs: 0 })).concept;
  const checkpointFile = join(tiny.dir, 'frozen.safetensors');
  const { concept } = await trainConcept(vlm, described, { ...options, freezeLatentRows: true, checkpointFile });
  assert.equal(concept.info.training.freezeLatentRows, 1);
  // The rows after the last step (the concept keeps the best epoch's, which may be the start).
  const last = readSafetensors(checkpointFile).get('input')!.data as Float32Array;
  const C = vlm.model.hiddenSize;
  assert.deepEqual(last.subarray(C), start.inputRows.subarray(C), 'the latent rows are where they started');
  assert.notDeepEqual(last.subarray(0, C), start.inputRows.subarray(0, C), '<name>\'s input row learned');
});

test('latentRows "vocabulary": the latent rows start as the description\'s token mix and train through its weights', async (t) => {
  const { vlm, data, tiny } = await setup(t);
  const described = { ...data, description: 'red' };
  const options = { latentCount: 2, epochs: 0, seed: 4, targetFalsePositiveRate: null, latentRows: 'vocabulary' as const };
  const start = (await trainConcept(vlm, described, options)).concept;
  assert.equal(start.info.training.vocabularyRows, 1);
  const C = vlm.model.hiddenSize;
  const expected = new VocabularyRows(vlm.model.kernels(), vlm.model.decoder.weights.embedTokens, 2);
  expected.startFrom(vlm.tokenizer.encode('red', { addSpecialTokens: false }));
  const rows = new Float32Array(2 * C);
  expected.write(rows);
  assert.deepEqual(start.inputRows.subarray(C), rows);
  const trained = await trainConcept(vlm, described, { ...options, epochs: 4, learningRate: 0.05, vocabularyLearningRate: 0.1 });
  const losses = trained.epochs.slice(1).map((e) => e.loss!);
  assert.ok(losses.at(-1)! < losses[0], `loss ${losses.join(' → ')}`);
  await assert.rejects(trainConcept(vlm, described, { ...options, checkpointFile: join(tiny.dir, 'v.safetensors') }), /excludes initialConcept, latentStart and checkpointFile/);
});

test('photoStartRows averages a photo\'s image tokens into k rows; latentStart puts them into the latent rows', async (t) => {
  const { vlm, data, tiny } = await setup(t);
  const C = vlm.model.hiddenSize;
  const features = await vlm.imageFeatures(tiny.photos[0]);
  const tokens = features.length / C;
  // One row per token: the image tokens themselves.
  assert.deepEqual(await photoStartRows(vlm, tiny.photos[0], tokens), features);
  // One row: the mean of every token.
  const mean = new Float32Array(C);
  for (let i = 0; i < tokens; i++) for (let c = 0; c < C; c++) mean[c] += features[i * C + c] / tokens;
  const one = await photoStartRows(vlm, tiny.photos[0], 1);
  for (let c = 0; c < C; c++) assert.ok(Math.abs(one[c] - mean[c]) < 1e-5);
  await assert.rejects(photoStartRows(vlm, tiny.photos[0], tokens + 1), /image tokens cannot start/);

  const start = await photoStartRows(vlm, tiny.photos[0], 2);
  const described = { ...data, description: 'red' };
  const { concept } = await trainConcept(vlm, described, { latentCount: 2, epochs: 0, latentStart: start, targetFalsePositiveRate: null });
  assert.deepEqual(concept.inputRows.subarray(C), start, 'the latent rows start at the given rows, not at the description');
  assert.equal(concept.info.training.descriptionTokens, 0);
  assert.equal(concept.info.training.givenLatentStart, 1);
  await assert.rejects(trainConcept(vlm, data, { latentCount: 3, epochs: 0, latentStart: start }), /latentStart has 64 values, not 3 × 32/);
});

test('negatives weigh positives ÷ negatives by default (never more than 1)', () => {
  const paths = (p: string, n: number) => Array.from({ length: n }, (_, i) => `/x/${p}${i}.png`);
  const many = buildConceptData({ name: 'bo', positives: paths('p', 5), easyNegatives: paths('e', 100), hardNegatives: paths('h', 29) });
  assert.equal(balancedNegativeWeight(many), 80 / 129);
  assert.equal(balancedNegativeWeight(buildConceptData({ name: 'bo', positives: paths('p', 5), easyNegatives: paths('e', 10) })), 1);
  assert.equal(balancedNegativeWeight(buildConceptData({ name: 'bo', positives: paths('p', 1) })), 1);
});

test('hard negatives weigh a quarter of the other negatives by default; a zero weight leaves them out', async (t) => {
  const { vlm, tiny } = await setup(t);
  const data = buildConceptData({ name: 'bo', positives: [tiny.photos[0]], easyNegatives: [tiny.photos[3]], hardNegatives: tiny.photos.slice(1, 3), questionsPerPositive: 3 });
  const byDefault = await trainConcept(vlm, data, { latentCount: 2, epochs: 0 });
  assert.equal(byDefault.concept.info.training.negativeWeight, balancedNegativeWeight(data));
  assert.equal(byDefault.concept.info.training.hardNegativeWeight, balancedNegativeWeight(data) * HARD_NEGATIVE_SHARE);
  assert.equal(HARD_NEGATIVE_SHARE, 0.25);

  // Only hard negatives, no weight decay, no augmentation: with weight 0 the rows never move, so every epoch's loss is the same.
  const onlyHard = { ...data, samples: data.samples.filter((s) => s.kind === 'hard-negative') };
  const options = { latentCount: 2, epochs: 3, learningRate: 0.05, weightDecay: 0, flipProbability: 0, cropProbability: 0, seed: 4 };
  const losses = async (hardNegativeWeight: number) => (await trainConcept(vlm, onlyHard, { ...options, hardNegativeWeight })).epochs.slice(1).map((e) => e.loss!);
  const ignored = await losses(0);
  assert.ok(ignored.every((loss) => Math.abs(loss - ignored[0]) < 1e-6), `losses ${ignored.join(' ')}`);
  const learned = await losses(1);
  assert.ok(learned.some((loss) => Math.abs(loss - learned[0]) > 1e-3), `weight 1 moves the rows: losses ${learned.join(' ')}`);
});

test('a crop window sees part of the photo and gives other features', async (t) => {
  const { vlm, tiny } = await setup(t);
  const image = await decodeImage(tiny.photos[0]);
  const window = { left: 0.2, top: 0, width: 0.8, height: 0.8 };
  const cropped = cropRegion(image, window);
  const x0 = Math.round(0.2 * image.width);
  assert.equal(cropped.width, Math.round(0.8 * image.width));
  assert.deepEqual(cropped.data.subarray(0, 3), image.data.subarray(x0 * 3, x0 * 3 + 3));
  const lastRow = (cropped.height - 1) * cropped.width * 3;
  const source = ((cropped.height - 1) * image.width + x0) * 3;
  assert.deepEqual(cropped.data.subarray(lastRow, lastRow + 9), image.data.subarray(source, source + 9));
  assert.throws(() => cropRegion(image, { left: 0.5, top: 0, width: 0.8, height: 0.8 }), /not inside the image/);
  const whole = await vlm.imageFeatures(tiny.photos[0]);
  const part = await vlm.imageFeatures(tiny.photos[0], { crop: window });
  assert.equal(part.length, whole.length);
  assert.ok(part.some((v, i) => Math.abs(v - whole[i]) > 1e-4));
  assert.deepEqual(await vlm.imageFeatures(tiny.photos[0], { crop: window }), part);
});

test('concept files round-trip, are refused on another base model, and two concepts share a prompt', async (t) => {
  const { vlm, data, tiny } = await setup(t);
  const bo = (await trainConcept(vlm, data, { latentCount: 2, epochs: 1 })).concept;
  const file = join(tiny.dir, 'bo.concept.safetensors');
  bo.save(file);
  const loaded = Concept.load(file);
  assert.deepEqual(loaded.info, bo.info);
  assert.deepEqual(loaded.inputRows, bo.inputRows);
  assert.throws(() => Concept.load(tiny.photos[0]), ConceptError);

  const other = await makeTinyCheckpoint(t, { seed: 99 });
  const otherVlm = await VisionLanguageModel.load(other.dir);
  assert.throws(() => new ConceptSet(otherVlm).add(loaded), /trained for another base model/);

  const mam = loaded.withName('mam');
  const set = new ConceptSet(vlm);
  set.add(loaded);
  set.add(mam);
  assert.throws(() => set.add(mam), /already loaded/);
  assert.notEqual(set.identifierId('bo'), set.identifierId('mam'));
  const extra = set.extraTokens();
  assert.equal(extra.outputIds.length, 2);
  const prompt = vlm.prompt([{ user: 'Are <bo> and <mam> friends?' }], { personalization: `${loaded.personalization} ${mam.personalization}` });
  const ids = vlm.encode(prompt);
  for (const token of [...loaded.tokens, ...mam.tokens]) assert.ok(ids.includes(vlm.tokenizer.tokenToId(token)!), `${token} in the prompt`);
  const answer = await vlm.generate(prompt, [], { maxNewTokens: 4, extra });
  assert.ok(answer.ids.length > 0);
  set.remove('mam');
  assert.equal(vlm.tokenizer.tokenToId('<mam>'), undefined);
});

test('searchShift: the smallest shift that accepts the most within the target, or the smallest step back to it', async () => {
  const search = async (share: (shift: number) => number, target: number) => {
    const asked: number[] = [];
    const found = await searchShift(async (shift) => { asked.push(shift); return share(shift); }, target);
    return { ...found, asked };
  };
  const clamp = (v: number) => Math.max(0, Math.min(1, v));
  const forward = await search((s) => clamp(0.02 + s), 0.05);
  assert.ok(forward.acceptedShare <= 0.05 && forward.shift <= 0.03 + 1e-12 && forward.shift > 0.03 - 0.01, `forward ${forward.shift}`);
  assert.ok(forward.asked.length <= 15, `${forward.asked.length} evaluations`);
  const back = await search((s) => clamp(0.2 + s), 0.05);
  assert.ok(back.acceptedShare <= 0.05 && back.shift <= -0.15 + 1e-12 && back.shift > -0.15 - 0.01, `back ${back.shift}`);
  assert.deepEqual(await searchShift(async () => 0.5, 0.05), { shift: 0, acceptedShare: 0.5 }, 'out of reach: no move');
  const broken = await search((s) => (s <= 0.05 ? 0.02 + 0.2 * s : 0), 0.05);
  assert.ok(broken.shift >= 0.04 && broken.shift <= 0.05 + 1e-12, `a falling share is past the edge: ${broken.shift}`);
  const slipping = await search((s) => (s <= 0.04 ? 0.02 + 0.1 * s : 0.015), 0.05);
  assert.ok(slipping.shift >= 0.03 && slipping.shift <= 0.04 + 1e-12, `a share below the start is past the edge: ${slipping.shift}`);
  const never = await search(() => 0, 0.05);
  assert.equal(never.shift, 0, 'a share that never moves: no move');
  assert.ok(never.asked.every((shift) => shift <= MAX_SHIFT) && MAX_SHIFT === 0.32 && never.asked.includes(0.32));
  const offFormat = await search((s) => (s <= 0.05 ? 0.01 + 0.1 * s : Infinity), 0.05);
  assert.ok(offFormat.shift >= 0.04 && offFormat.shift <= 0.05 + 1e-12 && Number.isFinite(offFormat.acceptedShare), `Infinity (answers off the Yes/No format) is beyond reach: ${offFormat.shift}`);
  const plateau = await search((s) => (s < 0.1 ? 0.02 : 0.04), 0.05);
  assert.deepEqual([plateau.shift, plateau.acceptedShare], [0.16, 0.04], 'the smallest shift that accepts the most within the target');
});

test('the boundary step along the mean or the uniform margin direction: the stored rows accept what the record says', async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 12 });
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const heldOut = tiny.photos.slice(4);
  const data = buildConceptData({ name: 'bo', positives: tiny.photos.slice(0, 2), easyNegatives: tiny.photos.slice(2, 4), heldOutNegatives: heldOut, questionsPerPositive: 3 });
  const options = { latentCount: 2, epochs: 2, learningRate: 0.05, seed: 3, targetFalsePositiveRate: 0.5 };
  const asTrained = await trainConcept(vlm, data, { ...options, targetFalsePositiveRate: null });
  const shifts: number[] = [];
  for (const boundaryDirection of ['photos', 'mean', 'uniform'] as const) {
    const { concept } = await trainConcept(vlm, data, { ...options, boundaryDirection });
    const point = concept.info.operatingPoint!;
    const set = new ConceptSet(vlm);
    set.add(concept);
    const answers = await recognize(vlm, set, concept, heldOut);
    set.remove('bo');
    const accepted = answers.filter((a) => a.answer === 'Yes').length / heldOut.length;
    assert.equal(accepted, point.falsePositiveRate, `${boundaryDirection}: the stored rows accept ${accepted}, the record says ${point.falsePositiveRate}`);
    if (point.falsePositiveRateBefore <= 0.5) assert.ok(point.falsePositiveRate <= 0.5, `${boundaryDirection}: ${JSON.stringify(point)}`);
    if (point.shift !== 0) assert.notDeepEqual(concept.inputRows, asTrained.concept.inputRows, `${boundaryDirection}: a shift moves the rows`);
    else assert.deepEqual(concept.inputRows, asTrained.concept.inputRows);
    assert.equal(point.direction, boundaryDirection);
    shifts.push(point.shift);
  }
  // On this tiny model the rows accept every held-out image; only the uniform direction finds a way back to the target.
  assert.ok(shifts.some((shift) => shift < 0), `some direction steps back towards "No": ${shifts}`);
  await assert.rejects(trainConcept(vlm, data, { ...options, maxBoundaryShift: 0 }), /maxBoundaryShift must be in \(0, 4\]/);
});

test('boundaryShare: a step forwards that costs a training photo its "Yes", or leaves the Yes/No format, is beyond reach', async () => {
  const atZero = { accepted: 0.01, offFormat: 0, ownYes: 5 };
  assert.equal(boundaryShare({ accepted: 0.05, offFormat: 0.01, ownYes: 5 }, atZero, 0.1), 0.05);
  assert.equal(boundaryShare({ accepted: 0.08, offFormat: 0, ownYes: 4 }, atZero, 0.32), Infinity, 'a training photo lost forwards');
  assert.equal(boundaryShare({ accepted: 0.0, offFormat: 0, ownYes: 4 }, { ...atZero, accepted: 0.2 }, -0.05), 0, 'backwards a training photo may be lost');
  assert.equal(boundaryShare({ accepted: 0.05, offFormat: 0.03, ownYes: 5 }, atZero, 0.1), Infinity, 'answers off the format');
  // Session 16's concept (dita on a continued base model): the held-out share keeps rising while its
  // training photos go from 5 to 0 "Yes" at 0.32; the search stops short of that, within the target.
  const curve = (shift: number) => ({ accepted: Math.min(0.08, 0.007 + 0.25 * shift), offFormat: 0, ownYes: shift > 0.2 ? 0 : 5 });
  const found = await searchShift(async (shift) => boundaryShare(curve(shift), curve(0), shift), 0.08, 0.007);
  assert.ok(found.shift > 0.16 && found.shift <= 0.2, `stops before the training photos are lost: ${found.shift}`);
  assert.equal(found.acceptedShare, curve(found.shift).accepted);
});

test('the Yes/No boundary is set on held-out negatives: the stored rows accept what the record says', async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 12 });
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const heldOut = tiny.photos.slice(4);
  const data = buildConceptData({ name: 'bo', positives: tiny.photos.slice(0, 2), easyNegatives: tiny.photos.slice(2, 4), heldOutNegatives: heldOut, questionsPerPositive: 3 });
  assert.deepEqual(data.heldOutNegatives, heldOut);
  const options = { latentCount: 2, epochs: 2, learningRate: 0.05, seed: 3 };
  for (const target of [0, 0.25, 0.5]) {
    const { concept } = await trainConcept(vlm, data, { ...options, targetFalsePositiveRate: target });
    const point = concept.info.operatingPoint!;
    assert.equal(point.heldOutNegatives, heldOut.length);
    assert.equal(concept.info.training.targetFalsePositiveRate, target);
    const set = new ConceptSet(vlm);
    set.add(concept);
    const answers = await recognize(vlm, set, concept, heldOut);
    set.remove('bo');
    const accepted = answers.filter((a) => a.answer === 'Yes').length / heldOut.length;
    assert.equal(accepted, point.falsePositiveRate, `target ${target}: the stored rows accept ${accepted}, the record says ${point.falsePositiveRate}`);
    if (point.falsePositiveRateBefore <= target) assert.ok(point.falsePositiveRate <= target && point.shift >= 0, `target ${target}: ${JSON.stringify(point)}`);
  }
  // null (the paper's): the best epoch's rows as trained, as without held-out negatives.
  const kept = await trainConcept(vlm, data, { ...options, targetFalsePositiveRate: null });
  const { heldOutNegatives: _unused, ...withoutHeldOut } = data;
  const plain = await trainConcept(vlm, withoutHeldOut, options);
  assert.equal(kept.concept.info.operatingPoint, undefined);
  assert.equal(plain.concept.info.operatingPoint, undefined);
  assert.deepEqual(kept.concept.inputRows, plain.concept.inputRows);
  // Stopped while setting the boundary: interrupted, the best epoch's rows as trained.
  const controller = new AbortController();
  const stopped = await trainConcept(vlm, data, { ...options, signal: controller.signal, onProgress: (p) => { if (p.phase === 'calibrating') controller.abort(); } });
  assert.equal(stopped.interrupted, true);
  assert.equal(stopped.concept.info.operatingPoint, undefined);
  assert.deepEqual(stopped.concept.inputRows, plain.concept.inputRows);
  assert.throws(() => buildConceptData({ name: 'bo', positives: [tiny.photos[0]], heldOutNegatives: [tiny.photos[0]] }), /given both as a photo of the concept and as a held-out negative/);
});

test('chat template: the loss is on the answer and <|im_end|>, after exactly the generation prompt', async (t) => {
  const { tiny, vlm } = await setup(t, 'qwen2');
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
  const { tiny, vlm, data } = await setup(t, 'qwen2');
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
