/**
 * Every tensor of both reference models, at the fixtures' tolerances: vision hidden states,
 * selected and projected features, input embeddings, decoder hidden states, logits with and
 * without image, greedy tokens with a KV cache, soft-prompt losses and gradients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadLlava } from '../../src/models/loadLlava.ts';
import type { LlavaModel } from '../../src/models/llava.ts';
import { f32, fixtureDir, fixtureModels, ints, maxAbsDiff, maxRelDiff, readReference } from '../helpers/fixtures.ts';

const ACTIVATION_TOLERANCE = 1e-4;
const LOSS_TOLERANCE = 1e-5;
const GRADIENT_TOLERANCE = 1e-4;

function softInputs(model: LlavaModel, ids: number[], positions: number[], P: Float32Array, wNew: Float32Array) {
  const V = model.vocabSize;
  const remapped = ids.slice();
  positions.forEach((position, i) => { remapped[position] = V + i; });
  return { ids: remapped, extra: { inputRows: P, outputRows: wNew, outputIds: [V] } };
}

for (const name of fixtureModels) {
  test(`${name}: every reference tensor`, async (t) => {
    const { model, unusedTensors } = loadLlava(fixtureDir(name));
    const ref = readReference(name);
    const C = model.hiddenSize;
    assert.deepEqual(unusedTensors, []);

    const pixelValues = f32(ref.get('pixel_values'), 'pixel_values');
    const { hiddenStates } = model.visionTower.forward(pixelValues);
    await t.test('vision hidden states', () => {
      const expected = f32(ref.get('vision_hidden_states'));
      const perState = expected.length / hiddenStates.length;
      hiddenStates.forEach((state, i) => {
        const diff = maxAbsDiff(state, expected.subarray(i * perState, (i + 1) * perState));
        assert.ok(diff <= ACTIVATION_TOLERANCE, `state ${i}: max diff ${diff}`);
      });
      const last = model.config.vision.kind === 'siglip' ? model.visionTower.postNorm(hiddenStates.at(-1)!, model.visionTower.numTokens) : hiddenStates.at(-1)!;
      assert.ok(maxAbsDiff(last, f32(ref.get('vision_last_hidden_state'))) <= ACTIVATION_TOLERANCE);
    });

    const selected = model.selectImageFeatures(hiddenStates);
    await t.test('selected and projected image features', () => {
      assert.ok(maxAbsDiff(selected, f32(ref.get('image_features_selected'))) <= ACTIVATION_TOLERANCE);
      const projected = model.encodeImage(pixelValues);
      const diff = maxAbsDiff(projected, f32(ref.get('image_features_projected')));
      assert.ok(diff <= ACTIVATION_TOLERANCE, `projected: ${diff}`);
    });

    const features = model.encodeImage(pixelValues);
    const ids = ints(ref.get('input_ids'));
    await t.test('input embeddings, hidden states, logits', () => {
      const embeds = model.embed({ ids, images: [features] });
      assert.ok(maxAbsDiff(embeds, f32(ref.get('inputs_embeds'))) <= ACTIVATION_TOLERANCE);
      const states: Float32Array[] = [];
      const cache = model.decoder.newCache();
      const hidden = model.forward({ ids, images: [features] }, cache, (_, x) => states.push(x.slice()));
      const expectedStates = f32(ref.get('text_hidden_states'));
      const per = ids.length * C;
      assert.equal(states.length * per, expectedStates.length);
      states.forEach((state, i) => {
        const diff = maxAbsDiff(state, expectedStates.subarray(i * per, (i + 1) * per));
        assert.ok(diff <= ACTIVATION_TOLERANCE, `text hidden state ${i}: ${diff}`);
      });
      assert.ok(maxAbsDiff(hidden, f32(ref.get('last_hidden_state_prenorm'))) <= ACTIVATION_TOLERANCE);
      const rows = ids.map((_, i) => i);
      const logits = model.logitsAt(hidden, rows);
      const diff = maxAbsDiff(logits, f32(ref.get('logits')));
      assert.ok(diff <= ACTIVATION_TOLERANCE, `logits: ${diff}`);
    });

    await t.test('text-only logits', () => {
      const textIds = ints(ref.get('text_input_ids'));
      const hidden = model.forward({ ids: textIds }, model.decoder.newCache());
      const logits = model.logitsAt(hidden, textIds.map((_, i) => i));
      assert.ok(maxAbsDiff(logits, f32(ref.get('text_logits'))) <= ACTIVATION_TOLERANCE);
    });

    await t.test('greedy generation with a KV cache', async () => {
      const expectedIds = ints(ref.get('generated_ids'));
      const result = await model.generate({ ids, images: [features] }, { maxNewTokens: expectedIds.length, keepLogits: true });
      assert.deepEqual(result.ids, expectedIds);
      const expectedLogits = f32(ref.get('generated_logits'));
      const width = model.vocabSize;
      result.logits.forEach((row, k) => {
        const diff = maxAbsDiff(row, expectedLogits.subarray(k * width, (k + 1) * width));
        assert.ok(diff <= ACTIVATION_TOLERANCE, `generated logits ${k}: ${diff}`);
      });
    });

    for (const variant of ['soft', 'text_soft'] as const) {
      await t.test(`${variant} loss and gradients`, () => {
        const baseIds = ints(ref.get(variant === 'soft' ? 'input_ids' : 'text_input_ids'));
        const positions = ints(ref.get(`${variant}_positions`));
        const P = f32(ref.get('soft_P_init')).slice();
        const wNew = f32(ref.get('soft_w_new')).slice();
        const labels = ints(ref.get(`${variant}_labels`));
        const input = softInputs(model, baseIds, positions, P, wNew);
        const result = model.lossAndGradients(
          { ...input, labels, images: variant === 'soft' ? [features] : [] },
          { keepLogits: true },
        );
        const expectedLoss = f32(ref.get(`${variant}_loss`))[0];
        assert.ok(Math.abs(result.loss - expectedLoss) <= LOSS_TOLERANCE, `loss ${result.loss} vs ${expectedLoss}`);
        const gradP = maxRelDiff(result.inputRowGrads, f32(ref.get(`${variant}_grad_P`)));
        const gradW = maxRelDiff(result.outputRowGrads, f32(ref.get(`${variant}_grad_w_new`)));
        assert.ok(gradP <= GRADIENT_TOLERANCE, `grad P rel diff ${gradP}`);
        assert.ok(gradW <= GRADIENT_TOLERANCE, `grad w_new rel diff ${gradW}`);
        // The logits at the loss rows equal the reference's full soft logits at those rows.
        const fullLogits = f32(ref.get(`${variant}_logits`));
        const width = model.vocabSize + 1;
        let row = 0;
        for (let position = 0; position + 1 < labels.length; position++) {
          if (labels[position + 1] === -100) continue;
          const diff = maxAbsDiff(result.logits!.subarray(row * width, (row + 1) * width), fullLogits.subarray(position * width, (position + 1) * width));
          assert.ok(diff <= ACTIVATION_TOLERANCE, `soft logits at ${position}: ${diff}`);
          row++;
        }
      });
    }
  });
}
