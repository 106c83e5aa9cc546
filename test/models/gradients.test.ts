/**
 * Finite-difference tests of every hand-written backward: activations, norms, linear,
 * attention (GQA, causal with a cached prefix, and full), RoPE, the decoder, the vision
 * towers and the projector with all their weight gradients, and the loss with respect to
 * extra token rows. Run on the float64-accumulating reference kernels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsKernels } from '../../src/engine/jsKernels.ts';
import type { Kernels } from '../../src/engine/kernels.ts';
import { loadNativeKernels } from '../../src/engine/nativeKernels.ts';
import { activationBackward, activationForward, swigluBackward, swigluForward, type ActivationName } from '../../src/models/layers/activations.ts';
import { attentionBackward, attentionBackwardScratchSize, attentionForward, type AttentionShape } from '../../src/models/layers/attention.ts';
import { linearBackward, linearForward, type Linear } from '../../src/models/layers/linear.ts';
import { layerNormBackward, layerNormForward, rmsNormBackward, rmsNormForward } from '../../src/models/layers/norms.ts';
import { RotaryTable } from '../../src/models/layers/rope.ts';
import { newDecoderLayerGrads } from '../../src/models/decoder.ts';
import { newVisionGrads, VisionTower } from '../../src/models/visionTower.ts';
import { createRandomLlava } from '../../src/models/randomLlava.ts';
import type { LlavaConfig } from '../../src/models/config.ts';
import type { LinearGrads } from '../../src/models/layers/linear.ts';
import { checkGradient, maxAbs, maxAbsDifference, project, randomArray } from '../helpers/gradcheck.ts';

const kernels = () => jsKernels;

test('activations', () => {
  for (const name of ['silu', 'gelu', 'gelu_pytorch_tanh', 'quick_gelu'] as ActivationName[]) {
    const x = randomArray(40, 1, 2);
    const r = randomArray(40, 2);
    const out = new Float32Array(40);
    const loss = () => { activationForward(name, out, x); return project(out, r); };
    const dx = new Float32Array(40);
    activationBackward(name, dx, r, x);
    checkGradient(name, loss, x, dx, { samples: 40, step: 1e-3 });
  }
  const gate = randomArray(30, 3, 2);
  const up = randomArray(30, 4);
  const r = randomArray(30, 5);
  const out = new Float32Array(30);
  const loss = () => { swigluForward(out, gate, up); return project(out, r); };
  const dGate = new Float32Array(30);
  const dUp = new Float32Array(30);
  swigluBackward(dGate, dUp, r, gate, up);
  checkGradient('swiglu gate', loss, gate, dGate, { samples: 30, step: 1e-3 });
  checkGradient('swiglu up', loss, up, dUp, { samples: 30, step: 1e-3 });
});

test('RMSNorm and LayerNorm, with weight gradients', () => {
  const T = 3, C = 16;
  const x = randomArray(T * C, 6, 2);
  const w = randomArray(C, 7);
  const b = randomArray(C, 8);
  const r = randomArray(T * C, 9);
  const out = new Float32Array(T * C);
  const rstd = new Float32Array(T);
  const mean = new Float32Array(T);
  const rmsLoss = () => { rmsNormForward(out, rstd, x, w, T, C, 1e-6); return project(out, r); };
  rmsLoss();
  const dx = new Float32Array(T * C);
  const dw = new Float32Array(C);
  rmsNormBackward(dx, dw, r, x, rstd, w, T, C);
  checkGradient('rmsnorm x', rmsLoss, x, dx, { step: 1e-3 });
  checkGradient('rmsnorm w', rmsLoss, w, dw, { step: 1e-3 });

  const lnLoss = () => { layerNormForward(out, mean, rstd, x, w, b, T, C, 1e-5); return project(out, r); };
  lnLoss();
  const dx2 = new Float32Array(T * C);
  const dw2 = new Float32Array(C);
  const db2 = new Float32Array(C);
  layerNormBackward(dx2, dw2, db2, r, x, mean, rstd, w, T, C);
  checkGradient('layernorm x', lnLoss, x, dx2, { step: 1e-3 });
  checkGradient('layernorm w', lnLoss, w, dw2, { step: 1e-3 });
  checkGradient('layernorm b', lnLoss, b, db2, { step: 1e-3 });
});

test('linear, with weight and bias gradients', () => {
  const T = 4, K = 10, N = 7;
  const x = randomArray(T * K, 10);
  const weight = randomArray(N * K, 11);
  const bias = randomArray(N, 12);
  const layer: Linear = { weight: { dtype: 'f32', rows: N, cols: K, data: weight }, bias };
  const r = randomArray(T * N, 13);
  const out = new Float32Array(T * N);
  const loss = () => { linearForward(jsKernels, out, x, layer, T); return project(out, r); };
  const dx = new Float32Array(T * K);
  const grads: LinearGrads = { weight: new Float32Array(N * K), bias: new Float32Array(N) };
  linearBackward(jsKernels, dx, false, grads, r, x, layer, T);
  checkGradient('linear x', loss, x, dx);
  checkGradient('linear W', loss, weight, grads.weight!);
  checkGradient('linear b', loss, bias, grads.bias!);
});

test('attention: grouped heads, causal over a cached prefix, and full', () => {
  for (const shape of [
    { T: 3, past: 4, heads: 4, kvHeads: 2, headDim: 6, capacity: 9, causal: true },
    { T: 5, past: 0, heads: 2, kvHeads: 2, headDim: 4, capacity: 5, causal: false },
  ] satisfies AttentionShape[]) {
    const { T, past, heads: H, kvHeads: KVH, headDim: D, capacity } = shape;
    const Tk = past + T;
    const q = randomArray(H * T * D, 20, 1.5);
    const keys = randomArray(KVH * capacity * D, 21, 1.5);
    const values = randomArray(KVH * capacity * D, 22);
    const r = randomArray(T * H * D, 23);
    const out = new Float32Array(T * H * D);
    const probs = new Float32Array(H * T * Tk);
    const loss = () => { attentionForward(jsKernels, out, probs, q, keys, values, shape); return project(out, r); };
    loss();
    const dq = new Float32Array(H * T * D);
    const dkNew = new Float32Array(KVH * T * D);
    const dvNew = new Float32Array(KVH * T * D);
    attentionBackward(jsKernels, dq, dkNew, dvNew, r, probs, q, keys, values, shape, new Float32Array(attentionBackwardScratchSize(shape)));
    checkGradient('attention q', loss, q, dq, { step: 1e-3 });
    // Gradients exist for the new tokens' rows [past, Tk) of each KV head only.
    for (const [name, param, grad] of [['k', keys, dkNew], ['v', values, dvNew]] as const) {
      const view = new Float32Array(KVH * T * D);
      const indices: number[] = [];
      for (let g = 0; g < KVH; g++) for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) indices.push((g * capacity + past + t) * D + d);
      const proxy = () => { indices.forEach((index, i) => { param[index] = view[i]; }); return loss(); };
      indices.forEach((index, i) => { view[i] = param[index]; });
      checkGradient(`attention ${name} (new rows)`, proxy, view, grad, { step: 1e-3 });
    }
  }
});

test('RoPE backward is the transpose rotation', () => {
  const table = new RotaryTable(8, 10000);
  const T = 3, H = 2;
  const x = randomArray(T * H * 8, 30);
  const r = randomArray(T * H * 8, 31);
  const loss = () => { const y = x.slice(); table.apply(y, T, H, 5); return project(y, r); };
  const dx = r.slice();
  table.apply(dx, T, H, 5, true);
  checkGradient('rope', loss, x, dx, { samples: 20, step: 1e-3 });
});

function tinyConfig(text: 'llama' | 'qwen2', vision: 'clip' | 'siglip'): LlavaConfig {
  return {
    vision: { kind: vision, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 2, imageSize: 8, patchSize: 4, numChannels: 3, layerNormEps: 1e-5, hiddenAct: vision === 'clip' ? 'quick_gelu' : 'gelu_pytorch_tanh' },
    text: { kind: text, hiddenSize: 16, intermediateSize: 20, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 4, vocabSize: 30, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false },
    imageTokenId: 29, projectorAct: 'gelu', projectorBias: true, visionFeatureLayer: -1, visionFeatureSelect: 'full', imageAspectRatio: null,
  };
}

for (const kind of ['llama', 'qwen2'] as const) {
  test(`${kind} decoder: input and every weight gradient, after a cached prefix`, () => {
    const model = createRandomLlava(tinyConfig(kind, 'clip'), { seed: 40, std: 0.3 }, kernels);
    const decoder = model.decoder;
    const C = 16, T = 4;
    const prefix = model.prefill({ ids: [1, 2, 3] });
    const embeds = randomArray(T * C, 41);
    const r = randomArray(T * C, 42);
    const loss = () => {
      const cache = prefix.clone();
      return project(decoder.forward(embeds, T, cache).hidden, r);
    };
    const cache = prefix.clone();
    const { tape } = decoder.forward(embeds, T, cache, { tape: true });
    const grads = newDecoderLayerGrads(decoder.weights);
    const dEmbeds = decoder.backward(tape!, r, grads);
    checkGradient('embeds', loss, embeds, dEmbeds);
    decoder.weights.layers.forEach((w, l) => {
      const g = grads[l];
      checkGradient(`layer ${l} input norm`, loss, w.inputNorm, g.inputNorm);
      checkGradient(`layer ${l} post norm`, loss, w.postNorm, g.postNorm);
      for (const name of ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const) {
        checkGradient(`layer ${l} ${name}.weight`, loss, w[name].weight.data as Float32Array, g[name].weight!);
        if (w[name].bias) checkGradient(`layer ${l} ${name}.bias`, loss, w[name].bias!, g[name].bias!); // RoPE makes the key bias matter
      }
    });
    assert.equal(kind === 'qwen2', decoder.weights.layers[0].q.bias !== null);
  });
}

for (const kind of ['clip', 'siglip'] as const) {
  test(`${kind} vision tower and projector: pixel and every weight gradient`, () => {
    const model = createRandomLlava(tinyConfig('llama', kind), { seed: 50, std: 0.3 }, kernels);
    const tower = model.visionTower;
    assert.ok(tower instanceof VisionTower);
    const pixels = randomArray(3 * 8 * 8, 51);
    const N = tower.numTokens;
    const r = randomArray(N * 16, 52);
    const loss = () => project(tower.forward(pixels).hiddenStates.at(-1)!, r);
    const { tape } = tower.forward(pixels, { tape: true });
    const grads = newVisionGrads(tower.weights);
    const dPixels = tower.backward(tape!, r, grads);
    checkGradient('pixels', loss, pixels, dPixels);
    const w = tower.weights;
    checkGradient('patch embedding', loss, w.patchEmbedding.weight.data as Float32Array, grads.patchEmbedding.weight!);
    if (w.patchEmbedding.bias) checkGradient('patch bias', loss, w.patchEmbedding.bias, grads.patchEmbedding.bias!);
    checkGradient('position embedding', loss, w.positionEmbedding, grads.positionEmbedding);
    if (w.classEmbedding) checkGradient('class embedding', loss, w.classEmbedding, grads.classEmbedding!);
    if (w.preNorm) {
      checkGradient('pre-norm weight', loss, w.preNorm.weight, grads.preNorm!.weight);
      checkGradient('pre-norm bias', loss, w.preNorm.bias, grads.preNorm!.bias);
    }
    w.layers.forEach((layer, l) => {
      const g = grads.layers[l];
      for (const name of ['norm1', 'norm2'] as const) {
        checkGradient(`layer ${l} ${name}.weight`, loss, layer[name].weight, g[name].weight);
        checkGradient(`layer ${l} ${name}.bias`, loss, layer[name].bias, g[name].bias);
      }
      for (const name of ['q', 'k', 'v', 'o', 'fc1', 'fc2'] as const) {
        checkGradient(`layer ${l} ${name}.weight`, loss, layer[name].weight.data as Float32Array, g[name].weight!);
        checkGradient(`layer ${l} ${name}.bias`, loss, layer[name].bias!, g[name].bias!, { expectZero: name === 'k' });
      }
    });

    const projector = model.projector;
    const features = randomArray(5 * 16, 53);
    const rp = randomArray(5 * 16, 54);
    const projectorLoss = () => project(projector.forward(features, 5).output, rp);
    const pg = { linear1: { weight: new Float32Array(16 * 16), bias: new Float32Array(16) }, linear2: { weight: new Float32Array(16 * 16), bias: new Float32Array(16) } };
    const dFeatures = projector.backward(projector.forward(features, 5, true).tape!, rp, pg);
    checkGradient('projector input', projectorLoss, features, dFeatures);
    checkGradient('projector linear1', projectorLoss, projector.weights.linear1.weight.data as Float32Array, pg.linear1.weight);
    checkGradient('projector bias1', projectorLoss, projector.weights.linear1.bias!, pg.linear1.bias);
    checkGradient('projector linear2', projectorLoss, projector.weights.linear2.weight.data as Float32Array, pg.linear2.weight);
  });
}

test('loss gradients of extra token rows; a cached prefix gives the full-recompute gradients', () => {
  const model = createRandomLlava(tinyConfig('qwen2', 'siglip'), { seed: 60, std: 0.3 }, kernels);
  const C = 16, V = 30;
  const pixels = randomArray(3 * 8 * 8, 61);
  const image = model.encodeImage(pixels);
  const imageTokens = Array(model.imageTokenCount).fill(29);
  const prefixIds = [1, 5, ...imageTokens, 7];
  // suffix: "<c> is <c_0><c_1>. question answer" with the concept token also predicted.
  const suffixIds = [V, 8, V + 1, V + 2, 9, 10, 11, V, 12];
  const suffixLabels = [-100, -100, -100, -100, -100, -100, 11, V, 12];
  const extra = { inputRows: randomArray(3 * C, 62), outputRows: randomArray(C, 63), outputIds: [V] };
  const full = model.lossAndGradients({
    ids: [...prefixIds, ...suffixIds], images: [image], extra,
    labels: [...prefixIds.map(() => -100), ...suffixLabels],
  });
  const cache = model.prefill({ ids: prefixIds, images: [image] });
  const cached = model.lossAndGradients({ ids: suffixIds, extra, labels: suffixLabels, cache });
  assert.equal(cache.length, prefixIds.length, 'the prefix cache is left as it was');
  assert.ok(Math.abs(full.loss - cached.loss) < 1e-6, `loss ${full.loss} vs ${cached.loss}`);
  assert.ok(maxAbsDifference(full.inputRowGrads, cached.inputRowGrads) < 1e-6);
  assert.ok(maxAbsDifference(full.outputRowGrads, cached.outputRowGrads) < 1e-6);
  const loss = () => model.lossAndGradients({ ids: suffixIds, extra, labels: suffixLabels, cache }).loss;
  checkGradient('extra input rows', loss, extra.inputRows as Float32Array, cached.inputRowGrads, { step: 1e-3 });
  checkGradient('extra output row', loss, extra.outputRows as Float32Array, cached.outputRowGrads, { step: 1e-3 });
});

test('loss gradients of every language weight and of the image features (pretraining)', () => {
  const model = createRandomLlava(tinyConfig('llama', 'clip'), { seed: 70, std: 0.3 }, kernels);
  const C = 16, V = 30;
  const image = model.encodeImage(randomArray(3 * 8 * 8, 71));
  const ids = [1, ...Array(model.imageTokenCount).fill(29), 4, 5, 6, 7, 2];
  const labels = ids.map((id, t) => (t >= ids.length - 4 ? id : -100));
  const weights = model.decoder.weights;
  const grads = {
    layers: newDecoderLayerGrads(weights),
    embedTokens: new Float32Array(V * C),
    norm: new Float32Array(C),
    lmHead: new Float32Array(V * C),
  };
  const result = model.lossAndGradients({ ids, labels, images: [image] }, { weightGrads: grads, imageGrads: true });
  const loss = () => model.lossAndGradients({ ids, labels, images: [image] }).loss;
  checkGradient('embed_tokens', loss, weights.embedTokens.data as Float32Array, grads.embedTokens, { step: 1e-3 });
  checkGradient('final norm', loss, weights.norm, grads.norm, { step: 1e-3 });
  checkGradient('lm_head', loss, weights.lmHead.data as Float32Array, grads.lmHead, { step: 1e-3 });
  checkGradient('layer 1 down', loss, weights.layers[1].down.weight.data as Float32Array, grads.layers[1].down.weight!, { step: 1e-3 });
  checkGradient('image features', loss, image, result.imageGrads![0], { step: 1e-3 });
});

test('packed sequences equal separate runs; label weights weight the mean', () => {
  const model = createRandomLlava(tinyConfig('qwen2', 'clip'), { seed: 80, std: 0.3 }, kernels);
  const C = 16, V = 30;
  const extra = { inputRows: randomArray(2 * C, 81), outputRows: randomArray(C, 82), outputIds: [V] };
  const a = { ids: [1, V, 4, 5, 6], labels: [-100, -100, 4, 5, 6] };
  const b = { ids: [1, 7, V + 1, 8, V, 9, 2], labels: [-100, -100, -100, 8, V, 9, 2] };
  const separate = [a, b].map((s) => model.lossAndGradients({ ...s, extra }));
  const counts = [3, 4];
  const packed = model.lossAndGradients({ ids: [...a.ids, ...b.ids], labels: [...a.labels, ...b.labels], extra, segments: [0, a.ids.length] });
  const total = counts[0] + counts[1];
  const expectedLoss = (separate[0].loss * counts[0] + separate[1].loss * counts[1]) / total;
  assert.ok(Math.abs(packed.loss - expectedLoss) < 1e-5, `${packed.loss} vs ${expectedLoss}`);
  for (const key of ['inputRowGrads', 'outputRowGrads'] as const) {
    const expected = separate[0][key].map((v, i) => (v * counts[0] + separate[1][key][i] * counts[1]) / total);
    const diff = maxAbsDifference(packed[key], expected);
    assert.ok(diff < 1e-5, `${key}: ${diff}`);
  }
  // Weight gradients through the block-by-block attention of packed sequences.
  const layerGrads = () => ({ layers: newDecoderLayerGrads(model.decoder.weights), embedTokens: null, norm: null, lmHead: null });
  const separateGrads = [a, b].map((s) => { const g = layerGrads(); model.lossAndGradients({ ...s, extra }, { weightGrads: g }); return g; });
  const packedGrads = layerGrads();
  model.lossAndGradients({ ids: [...a.ids, ...b.ids], labels: [...a.labels, ...b.labels], extra, segments: [0, a.ids.length] }, { weightGrads: packedGrads });
  for (const key of ['q', 'k', 'v', 'o'] as const) {
    for (let l = 0; l < packedGrads.layers.length; l++) {
      const expected = separateGrads[0].layers[l][key].weight!.map((v, i) => (v * counts[0] + separateGrads[1].layers[l][key].weight![i] * counts[1]) / total);
      const diff = maxAbsDifference(packedGrads.layers[l][key].weight!, expected);
      assert.ok(diff < 1e-5, `layer ${l} ${key}: ${diff}`);
    }
  }
  assert.throws(() => model.lossAndGradients({ ids: [...a.ids, ...b.ids], labels: [...a.labels, 7, ...b.labels.slice(1)], extra, segments: [0, a.ids.length] }), /label on its first token/);

  // Weight 0 on a label is the same as no label; weights 2 and 1 weight the mean.
  const zero = model.lossAndGradients({ ...b, extra, labelWeights: [1, 1, 1, 0, 1, 1, 1] });
  const dropped = model.lossAndGradients({ ids: b.ids, labels: [-100, -100, -100, -100, V, 9, 2], extra });
  assert.ok(Math.abs(zero.loss - dropped.loss) < 1e-6);
  const weights = [1, 1, 1, 2, 1, 1, 1];
  const weighted = model.lossAndGradients({ ...b, extra, labelWeights: weights });
  const loss = () => model.lossAndGradients({ ...b, extra, labelWeights: weights }).loss;
  checkGradient('weighted loss, input rows', loss, extra.inputRows as Float32Array, weighted.inputRowGrads, { step: 1e-3 });
});

// Pretraining's shared prefix: BOS and the system prompt run once per packed micro-batch.
const nativeKernels = loadNativeKernels();
for (const [name, kernelSet] of [['TypeScript', jsKernels], ['native', nativeKernels instanceof Error ? null : nativeKernels]] as Array<[string, Kernels | null]>) {
  for (const kind of ['llama', 'qwen2'] as const) {
    test(`${kind} (${name} kernels): a shared prefix gives the loss and gradients of packing every sequence with its own copy`, { skip: kernelSet ? false : 'native addon unavailable' }, () => {
      const model = createRandomLlava(tinyConfig(kind, 'clip'), { seed: 90, std: 0.3 }, () => kernelSet!);
      const C = 16, V = 30;
      const image = model.encodeImage(randomArray(3 * 8 * 8, 91));
      const prefix = [1, 4, 5, 6, 7];
      const a = { ids: [8, ...Array(model.imageTokenCount).fill(29), 9, 10, 2], labels: [-100, ...Array(model.imageTokenCount).fill(-100), -100, 10, 2] };
      const b = { ids: [11, 12, 13, 14, 2], labels: [-100, -100, 13, 14, 2] };
      const c = { ids: [15, 16, 2], labels: [-100, 16, 2] };
      const noLabels = prefix.map(() => -100);
      const newGrads = () => ({ layers: newDecoderLayerGrads(model.decoder.weights), embedTokens: new Float32Array(V * C), norm: new Float32Array(C), lmHead: new Float32Array(V * C) });
      const copiesGrads = newGrads();
      const copies = model.lossAndGradients({
        ids: [...prefix, ...a.ids, ...prefix, ...b.ids, ...prefix, ...c.ids],
        labels: [...noLabels, ...a.labels, ...noLabels, ...b.labels, ...noLabels, ...c.labels],
        labelWeights: [...noLabels.map(() => 1), ...a.ids.map(() => 2), ...noLabels.map(() => 1), ...b.ids.map(() => 1), ...noLabels.map(() => 1), ...c.ids.map(() => 0.5)],
        images: [image],
        segments: [0, prefix.length + a.ids.length, 2 * prefix.length + a.ids.length + b.ids.length],
      }, { weightGrads: copiesGrads, imageGrads: true });
      const sharedGrads = newGrads();
      const shared = model.lossAndGradients({
        ids: [...a.ids, ...b.ids, ...c.ids],
        labels: [...a.labels, ...b.labels, ...c.labels],
        labelWeights: [...a.ids.map(() => 2), ...b.ids.map(() => 1), ...c.ids.map(() => 0.5)],
        images: [image],
        segments: [0, a.ids.length, a.ids.length + b.ids.length],
        sharedPrefix: prefix,
      }, { weightGrads: sharedGrads, imageGrads: true });
      assert.ok(Math.abs(shared.loss - copies.loss) < 1e-5, `loss ${shared.loss} vs ${copies.loss}`);
      const close = (what: string, got: Float32Array, want: Float32Array) => {
        const scale = maxAbs(want);
        assert.ok(scale > 0, `${what}: no gradient at all`);
        const diff = maxAbsDifference(got, want);
        assert.ok(diff <= 1e-5 * Math.max(1, scale), `${what}: differs by ${diff} (largest ${scale})`);
      };
      close('image features', shared.imageGrads![0], copies.imageGrads![0]);
      close('embed_tokens', sharedGrads.embedTokens, copiesGrads.embedTokens);
      close('final norm', sharedGrads.norm, copiesGrads.norm);
      close('lm_head', sharedGrads.lmHead, copiesGrads.lmHead);
      copiesGrads.layers.forEach((want, l) => {
        const got = sharedGrads.layers[l];
        for (const key of ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const) {
          close(`layer ${l} ${key}`, got[key].weight!, want[key].weight!);
          if (want[key].bias) close(`layer ${l} ${key} bias`, got[key].bias!, want[key].bias!);
        }
        close(`layer ${l} input norm`, got.inputNorm, want.inputNorm);
        close(`layer ${l} post norm`, got.postNorm, want.postNorm);
      });
      // One sequence alone after the prefix (a micro-batch of one sample).
      const oneCopy = newGrads();
      const one = model.lossAndGradients({ ids: [...prefix, ...b.ids], labels: [...noLabels, ...b.labels], segments: [0] }, { weightGrads: oneCopy });
      const oneShared = newGrads();
      const oneSharedResult = model.lossAndGradients({ ids: b.ids, labels: b.labels, segments: [0], sharedPrefix: prefix }, { weightGrads: oneShared });
      assert.ok(Math.abs(oneSharedResult.loss - one.loss) < 1e-5, `one sequence: loss ${oneSharedResult.loss} vs ${one.loss}`);
      close('one sequence: embed_tokens', oneShared.embedTokens, oneCopy.embedTokens);
      close('one sequence: layer 0 k', oneShared.layers[0].k.weight!, oneCopy.layers[0].k.weight!);
      // The prefix's own tokens get embedding gradients only through what the sequences read.
      assert.ok(prefix.some((id) => sharedGrads.embedTokens.subarray(id * C, (id + 1) * C).some((v) => v !== 0)));
      assert.throws(() => model.lossAndGradients({ ids: a.ids, labels: a.labels, images: [image], sharedPrefix: prefix }), /shared prefix goes with packed sequences/);
    });
  }
}
