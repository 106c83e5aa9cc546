/**
 * The convolutional vision tower: conv2d against a direct nested-loop convolution and by
 * finite differences (stride 1 and 2, padding, several channels, a batch), GroupNorm by
 * finite differences, the whole tower (both norms, a batch of 2) to the pixels and to every
 * weight, batch = single-image results, a LLaVA with the conv tower through saveLlava →
 * loadLlava (identical logits), and config errors. Reference kernels (float64 accumulation).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsKernels } from '../../src/engine/jsKernels.ts';
import { readSafetensorsHeader } from '../../src/engine/safetensors.ts';
import { ModelLoadError, parseLlavaConfig, type LlavaConfig } from '../../src/models/config.ts';
import { ConvVisionTower, type ConvVisionConfig, type ConvVisionGrads, type ConvVisionWeights } from '../../src/models/convVisionTower.ts';
import { conv2dBackward, conv2dForward, conv2dOutputHeight, conv2dOutputWidth, convWeightFromTorch, convWeightToTorch, im2colSize, type Conv2dShape } from '../../src/models/layers/conv2d.ts';
import { activationBackward, activationForward } from '../../src/models/layers/activations.ts';
import { groupNormBackward, groupNormForward } from '../../src/models/layers/groupNorm.ts';
import type { Linear, LinearGrads } from '../../src/models/layers/linear.ts';
import { loadLlava } from '../../src/models/loadLlava.ts';
import { createRandomLlava } from '../../src/models/randomLlava.ts';
import { llavaConfigJson, saveLlava } from '../../src/models/saveLlava.ts';
import { checkGradient, project, randomArray } from '../helpers/gradcheck.ts';

const kernels = () => jsKernels;

/** out[n, oy, ox, o] = b[o] + Σ_{c, ky, kx} torch[o, c, ky, kx] · in[n, oy·s − p + ky, ox·s − p + kx, c]. */
function directConv(input: Float32Array, torch: Float32Array, bias: Float32Array | null, shape: Conv2dShape): Float32Array {
  const { batch, height: H, width: W, inChannels: C, outChannels: O, kernel: k, stride: s, padding: p } = shape;
  const Ho = conv2dOutputHeight(shape);
  const Wo = conv2dOutputWidth(shape);
  const out = new Float32Array(batch * Ho * Wo * O);
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        for (let o = 0; o < O; o++) {
          let sum = bias ? bias[o] : 0;
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) {
                const y = oy * s - p + ky;
                const x = ox * s - p + kx;
                if (y < 0 || y >= H || x < 0 || x >= W) continue;
                sum += torch[((o * C + c) * k + ky) * k + kx] * input[((n * H + y) * W + x) * C + c];
              }
            }
          }
          out[((n * Ho + oy) * Wo + ox) * O + o] = sum;
        }
      }
    }
  }
  return out;
}

const CONV_SHAPES: Conv2dShape[] = [
  { batch: 2, height: 5, width: 7, inChannels: 3, outChannels: 4, kernel: 3, stride: 1, padding: 1 },
  { batch: 2, height: 7, width: 6, inChannels: 5, outChannels: 3, kernel: 3, stride: 2, padding: 1 },
  { batch: 1, height: 6, width: 6, inChannels: 12, outChannels: 2, kernel: 3, stride: 2, padding: 0 },
  { batch: 1, height: 4, width: 5, inChannels: 2, outChannels: 3, kernel: 1, stride: 1, padding: 0 },
];

const convLayer = (shape: Conv2dShape, seed: number) => {
  const { outChannels: O, inChannels: C, kernel: k } = shape;
  const torch = randomArray(O * C * k * k, seed);
  const bias = randomArray(O, seed + 1);
  const layer: Linear = { weight: { dtype: 'f32', rows: O, cols: k * k * C, data: convWeightFromTorch(torch, O, C, k) }, bias };
  return { torch, layer };
};

test('conv2d forward equals a direct convolution (PyTorch weight layout), stride 1 and 2, padding, channels, batch', () => {
  CONV_SHAPES.forEach((shape, i) => {
    const { torch, layer } = convLayer(shape, 10 + i);
    assert.deepEqual(convWeightToTorch(layer.weight.data as Float32Array, shape.outChannels, shape.inChannels, shape.kernel), torch);
    const input = randomArray(shape.batch * shape.height * shape.width * shape.inChannels, 20 + i);
    const expected = directConv(input, torch, layer.bias, shape);
    const out = new Float32Array(expected.length);
    conv2dForward(jsKernels, out, input, layer, shape, new Float32Array(im2colSize(shape)));
    const worst = out.reduce((m, v, j) => Math.max(m, Math.abs(v - expected[j])), 0);
    assert.ok(worst < 1e-5, `shape ${i}: max |difference| ${worst}`);
  });
});

test('conv2d backward: input, weight and bias by finite differences', () => {
  CONV_SHAPES.forEach((shape, i) => {
    const { layer } = convLayer(shape, 30 + i);
    const input = randomArray(shape.batch * shape.height * shape.width * shape.inChannels, 40 + i);
    const rows = shape.batch * conv2dOutputHeight(shape) * conv2dOutputWidth(shape);
    const r = randomArray(rows * shape.outChannels, 50 + i);
    const out = new Float32Array(rows * shape.outChannels);
    const col = new Float32Array(im2colSize(shape));
    const loss = () => { conv2dForward(jsKernels, out, input, layer, shape, col); return project(out, r); };
    const dInput = new Float32Array(input.length);
    const grads: LinearGrads = { weight: new Float32Array(layer.weight.rows * layer.weight.cols), bias: new Float32Array(shape.outChannels) };
    conv2dBackward(jsKernels, dInput, grads, r, input, layer, shape, col);
    checkGradient(`shape ${i} input`, loss, input, dInput, { samples: 16 });
    checkGradient(`shape ${i} weight`, loss, layer.weight.data as Float32Array, grads.weight!, { samples: 16 });
    checkGradient(`shape ${i} bias`, loss, layer.bias!, grads.bias!);
    // Backward ADDS: a second call doubles everything.
    const again = dInput.slice();
    conv2dBackward(jsKernels, again, null, r, input, layer, shape, col);
    assert.ok(again.every((v, j) => Math.abs(v - 2 * dInput[j]) <= 1e-6 * (1 + Math.abs(v))));
  });
});

test('GroupNorm over channels-last maps: input, weight and bias by finite differences', () => {
  const N = 2, P = 5, C = 6, G = 3;
  const x = randomArray(N * P * C, 60, 2);
  const w = randomArray(C, 61);
  const b = randomArray(C, 62);
  const r = randomArray(N * P * C, 63);
  const out = new Float32Array(N * P * C);
  const mean = new Float32Array(N * G);
  const rstd = new Float32Array(N * G);
  const loss = () => { groupNormForward(out, mean, rstd, x, w, b, N, P, C, G, 1e-5); return project(out, r); };
  loss();
  // Each (image, group) is normalised: mean 0 and variance 1 before the affine.
  const plain = new Float32Array(N * P * C);
  groupNormForward(plain, null, null, x, new Float32Array(C).fill(1), new Float32Array(C), N, P, C, G, 1e-5);
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const values: number[] = [];
      for (let p = 0; p < P; p++) for (let c = g * 2; c < g * 2 + 2; c++) values.push(plain[(n * P + p) * C + c]);
      const m = values.reduce((a, v) => a + v, 0) / values.length;
      const v = values.reduce((a, u) => a + (u - m) ** 2, 0) / values.length;
      assert.ok(Math.abs(m) < 1e-5 && Math.abs(v - 1) < 1e-3, `image ${n} group ${g}: mean ${m}, variance ${v}`);
    }
  }
  const dx = new Float32Array(N * P * C);
  const dw = new Float32Array(C);
  const db = new Float32Array(C);
  groupNormBackward(dx, dw, db, r, x, mean, rstd, w, N, P, C, G);
  checkGradient('groupnorm x', loss, x, dx, { step: 1e-3, samples: 20 });
  checkGradient('groupnorm w', loss, w, dw, { step: 1e-3 });
  checkGradient('groupnorm b', loss, b, db, { step: 1e-3 });
});

test('relu (the cheap activation for conv towers): forward and backward', () => {
  const x = Float32Array.from(randomArray(40, 64, 2), (v) => (Math.abs(v) < 0.05 ? v + 0.1 : v)); // away from the kink
  const r = randomArray(40, 65);
  const out = new Float32Array(40);
  activationForward('relu', out, x);
  assert.ok(out.every((v, i) => v === Math.max(0, x[i])));
  const dx = new Float32Array(40);
  activationBackward('relu', dx, r, x);
  checkGradient('relu', () => { activationForward('relu', out, x); return project(out, r); }, x, dx, { samples: 40, step: 1e-3 });
});

function tinyConvConfig(norm: 'group_norm' | 'layer_norm'): ConvVisionConfig {
  return {
    kind: 'conv', imageSize: 8, numChannels: 3, kernelSize: 3, stemChannels: 4, stemStride: 1,
    stages: [{ channels: 6, stride: 2 }, { channels: 8, stride: 2 }],
    hiddenSize: 8, numLayers: 2, norm, numGroups: 2, hiddenAct: 'gelu', layerNormEps: 1e-5,
  };
}

function tinyLlavaConfig(vision: ConvVisionConfig): LlavaConfig {
  return {
    vision,
    text: { kind: 'llama', hiddenSize: 16, intermediateSize: 20, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 4, vocabSize: 30, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false },
    imageTokenId: 29, projectorAct: 'gelu', projectorBias: true, visionFeatureLayer: -1, visionFeatureSelect: 'full', imageAspectRatio: null,
  };
}

/** Every weight array of the tower with its gradient, named as in a checkpoint. */
function namedParameters(w: ConvVisionWeights, g: ConvVisionGrads): [string, Float32Array, Float32Array][] {
  const list: [string, Float32Array, Float32Array][] = [
    ['stem.weight', w.stem.weight.data as Float32Array, g.stem.weight!],
    ['stem_norm.weight', w.stemNorm.weight, g.stemNorm.weight!],
    ['stem_norm.bias', w.stemNorm.bias, g.stemNorm.bias!],
  ];
  w.stages.forEach((s, i) => {
    const gs = g.stages[i];
    list.push(
      [`stages.${i}.conv1.weight`, s.conv1.weight.data as Float32Array, gs.conv1.weight!],
      [`stages.${i}.norm1.weight`, s.norm1.weight, gs.norm1.weight!], [`stages.${i}.norm1.bias`, s.norm1.bias, gs.norm1.bias!],
      [`stages.${i}.conv2.weight`, s.conv2.weight.data as Float32Array, gs.conv2.weight!],
      [`stages.${i}.norm2.weight`, s.norm2.weight, gs.norm2.weight!], [`stages.${i}.norm2.bias`, s.norm2.bias, gs.norm2.bias!],
    );
  });
  list.push(['position_embedding', w.positionEmbedding, g.positionEmbedding!]);
  return list;
}

for (const norm of ['group_norm', 'layer_norm'] as const) {
  test(`conv tower (${norm}), a batch of 2: pixel and every weight gradient by finite differences`, () => {
    const model = createRandomLlava(tinyLlavaConfig(tinyConvConfig(norm)), { seed: 70, std: 0.3 }, kernels);
    const tower = model.visionTower;
    assert.ok(tower instanceof ConvVisionTower);
    assert.deepEqual(tower.sides, [8, 4, 2]);
    assert.equal(tower.numTokens, 4);
    const batch = 2;
    const pixels = randomArray(batch * 3 * 8 * 8, 71);
    const r = randomArray(batch * 4 * 8, 72);
    const loss = () => project(tower.forwardBatch(pixels, batch).hiddenStates.at(-1)!, r);
    const { hiddenStates, tape } = tower.forwardBatch(pixels, batch, { tape: true });
    assert.deepEqual(hiddenStates.map((h) => h.length), [batch * 64 * 4, batch * 16 * 6, batch * 4 * 8]);
    const grads = tower.newGrads();
    const dPixels = tower.backward(tape!, r, grads);
    checkGradient('pixels', loss, pixels, dPixels, { samples: 24 });
    for (const [name, param, grad] of namedParameters(tower.weights, grads)) checkGradient(name, loss, param, grad, { samples: 12 });

    // Frozen weights (null gradients) change nothing else.
    const frozen = tower.newGrads();
    frozen.stem.weight = null;
    frozen.stages[1].conv2.weight = null;
    frozen.stages[0].norm1 = { weight: null, bias: null };
    frozen.positionEmbedding = null;
    const dPixelsFrozen = tower.backward(tape!, r, frozen);
    assert.deepEqual(dPixelsFrozen, dPixels);
    assert.deepEqual(frozen.stages[0].conv1.weight, grads.stages[0].conv1.weight);
    assert.deepEqual(tower.backward(tape!, r, null), dPixels);
  });
}

const WRITTEN = { gateValues: 2, groupValues: [[3, 2], [0, 4]] };

test('written tokens: the soft words after the map tokens, by hand and by finite differences (pixels, every weight, head and table)', () => {
  const model = createRandomLlava(tinyLlavaConfig({ ...tinyConvConfig('group_norm'), writtenTokens: WRITTEN }), { seed: 75, std: 0.3 }, kernels);
  const tower = model.visionTower as ConvVisionTower;
  assert.equal(tower.mapTokens, 4);
  assert.equal(tower.numTokens, 4 + 3);
  assert.equal(model.imageTokenCount, 7);
  const batch = 2;
  const C = 8;
  const pixels = randomArray(batch * 3 * 8 * 8, 76);
  const last = tower.forwardBatch(pixels, batch).hiddenStates.at(-1)!;
  const mapOnly = tower.forwardBatch(pixels, batch, { written: false }).hiddenStates.at(-1)!;
  assert.equal(mapOnly.length, batch * 4 * C);

  // Image 1 by hand: the mean map token, softmax groups, gate-weighted table rows.
  const { head, table } = tower.weights.written!;
  const mean = new Float64Array(C);
  for (let t = 0; t < 4; t++) for (let c = 0; c < C; c++) mean[c] += mapOnly[(4 + t) * C + c] / 4;
  const logit = (r: number) => head.bias![r] + mean.reduce((s, x, c) => s + x * (head.weight.data as Float32Array)[r * C + c], 0);
  const softmax = (rows: number[]) => { const e = rows.map((r) => Math.exp(logit(r))); const z = e.reduce((a, b) => a + b); return e.map((v) => v / z); };
  const gate = softmax([0, 1]);
  const expected: number[][] = [[], [], []];
  for (let c = 0; c < C; c++) {
    expected[0][c] = gate[0] * table[0 * C + c] + gate[1] * table[1 * C + c];
    const g1a = softmax([2, 3, 4]); const g1b = softmax([5, 6]); const g2b = softmax([7, 8, 9, 10]);
    expected[1][c] = gate[0] * g1a.reduce((s, p, v) => s + p * table[(2 + v) * C + c], 0) + gate[1] * g1b.reduce((s, p, v) => s + p * table[(5 + v) * C + c], 0);
    expected[2][c] = gate[1] * g2b.reduce((s, p, v) => s + p * table[(7 + v) * C + c], 0);
  }
  for (let n = 0; n < batch; n++) assert.deepEqual(last.subarray(n * 7 * C, (n * 7 + 4) * C), mapOnly.subarray(n * 4 * C, (n + 1) * 4 * C));
  for (let j = 0; j < 3; j++) for (let c = 0; c < C; c++) assert.ok(Math.abs(last[(7 + 4 + j) * C + c] - expected[j][c]) < 1e-5, `token ${j} channel ${c}`);

  const r = randomArray(batch * 7 * C, 77);
  const loss = () => project(tower.forwardBatch(pixels, batch).hiddenStates.at(-1)!, r);
  const { tape } = tower.forwardBatch(pixels, batch, { tape: true });
  const grads = tower.newGrads();
  const dPixels = tower.backward(tape!, r, grads);
  checkGradient('pixels', loss, pixels, dPixels, { samples: 24 });
  for (const [name, param, grad] of namedParameters(tower.weights, grads)) checkGradient(name, loss, param, grad, { samples: 12 });
  checkGradient('written_head.weight', loss, head.weight.data as Float32Array, grads.written!.head.weight!, { samples: 24 });
  checkGradient('written_head.bias', loss, head.bias!, grads.written!.head.bias!, { samples: 11 });
  checkGradient('written_table', loss, table, grads.written!.table!, { samples: 24 });
  // A frozen written layer still passes its share to the map.
  const frozen = tower.newGrads();
  frozen.written = null;
  assert.deepEqual(tower.backward(tape!, r, frozen), dPixels);
});

test('conv tower: a batch computes what single images compute; early stop at a stage; gradients to the pixels from an early state', () => {
  const model = createRandomLlava(tinyLlavaConfig(tinyConvConfig('group_norm')), { seed: 80, std: 0.3 }, kernels);
  const tower = model.visionTower as ConvVisionTower;
  const batch = 3;
  const size = 3 * 8 * 8;
  const pixels = randomArray(batch * size, 81);
  const batched = tower.forwardBatch(pixels, batch).hiddenStates;
  // With a tape (separate buffers) and without (in place): the same states.
  assert.deepEqual(tower.forwardBatch(pixels, batch, { tape: true }).hiddenStates, batched);
  for (let n = 0; n < batch; n++) {
    const single = tower.forward(pixels.subarray(n * size, (n + 1) * size)).hiddenStates;
    single.forEach((state, i) => {
      const part = batched[i].subarray(n * state.length, (n + 1) * state.length);
      const worst = state.reduce((m, v, j) => Math.max(m, Math.abs(v - part[j])), 0);
      assert.ok(worst < 1e-6, `image ${n} state ${i}: ${worst}`);
    });
  }
  // Stopping after stage 0: no position embedding, and the backward starts there.
  const image = pixels.slice(0, size);
  const early = tower.forward(image, { layers: 1, tape: true });
  assert.equal(early.hiddenStates.length, 2);
  const r = randomArray(early.hiddenStates[1].length, 82);
  const dPixels = tower.backward(early.tape!, r, null);
  checkGradient('pixels through stage 0', () => project(tower.forward(image, { layers: 1 }).hiddenStates[1], r), image, dPixels);
});

test('a LLaVA with the conv tower: saveLlava → loadLlava gives identical features and logits', () => {
  const config = tinyLlavaConfig({ ...tinyConvConfig('group_norm'), stemStride: 2, stages: [{ channels: 6, stride: 2 }, { channels: 8, stride: 1 }] });
  const model = createRandomLlava(config, { seed: 90, std: 0.3 }, kernels);
  assert.equal(model.imageTokenCount, 4);
  const dir = mkdtempSync(join(tmpdir(), 'yollava-conv-'));
  try {
    saveLlava(model, dir);
    const header = readSafetensorsHeader(join(dir, 'model.safetensors'));
    assert.deepEqual(header.tensors.get('model.vision_tower.stem.weight')!.shape, [4, 3, 3, 3]);
    assert.deepEqual(header.tensors.get('model.vision_tower.stages.1.conv2.weight')!.shape, [8, 8, 3, 3]);
    assert.deepEqual(header.tensors.get('model.vision_tower.position_embedding')!.shape, [4, 8]);
    const loaded = loadLlava(dir, { kernels });
    assert.deepEqual(loaded.unusedTensors, []);
    assert.deepEqual(loaded.config.vision, config.vision);
    assert.ok(loaded.model.visionTower instanceof ConvVisionTower);
    const pixels = randomArray(3 * 8 * 8, 91);
    const features = model.encodeImage(pixels);
    assert.deepEqual(loaded.model.encodeImage(pixels), features);
    const ids = [1, 29, 29, 29, 29, 5, 6, 7];
    const labels = [-100, -100, -100, -100, -100, 6, 7, 8];
    const expected = model.lossAndGradients({ ids, labels, images: [features] }, { keepLogits: true });
    const actual = loaded.model.lossAndGradients({ ids, labels, images: [loaded.model.encodeImage(pixels)] }, { keepLogits: true });
    assert.deepEqual(actual.logits, expected.logits);
    assert.equal(actual.loss, expected.loss);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a conv tower with written tokens: saveLlava → loadLlava keeps config, head and table (same features)', () => {
  const config = tinyLlavaConfig({ ...tinyConvConfig('layer_norm'), writtenTokens: WRITTEN });
  const model = createRandomLlava(config, { seed: 95, std: 0.3 }, kernels);
  const dir = mkdtempSync(join(tmpdir(), 'yollava-written-'));
  try {
    saveLlava(model, dir);
    const header = readSafetensorsHeader(join(dir, 'model.safetensors'));
    assert.deepEqual(header.tensors.get('model.vision_tower.written_head.weight')!.shape, [11, 8]);
    assert.deepEqual(header.tensors.get('model.vision_tower.written_table')!.shape, [11, 8]);
    const loaded = loadLlava(dir, { kernels });
    assert.deepEqual(loaded.unusedTensors, []);
    assert.deepEqual(loaded.config.vision, config.vision);
    const pixels = randomArray(3 * 8 * 8, 96);
    assert.equal(loaded.model.imageTokenCount, 7);
    assert.deepEqual(loaded.model.encodeImage(pixels), model.encodeImage(pixels));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('conv vision_config errors are ModelLoadErrors that say what is wrong', () => {
  const good = llavaConfigJson(tinyLlavaConfig(tinyConvConfig('group_norm')));
  assert.equal((good.vision_config as Record<string, unknown>).model_type, 'yollava_conv_vision');
  assert.deepEqual(parseLlavaConfig('config.json', good).vision, tinyConvConfig('group_norm'));
  const broken = (vision: Record<string, unknown>, root: Record<string, unknown> = {}) =>
    ({ ...good, ...root, vision_config: { ...(good.vision_config as Record<string, unknown>), ...vision } });
  const cases: [Record<string, unknown>, RegExp | null, Record<string, unknown>?][] = [
    [{ stage_strides: [2] }, /stage_strides lists 1 strides for 2 stage_channels/],
    [{ stage_channels: [] }, /stage_channels must be a non-empty list/],
    [{ hidden_size: 16 }, /hidden_size 16 differs from the last stage's 8 channels/],
    [{ num_groups: 3 }, /num_groups 3 does not divide 4 channels/],
    [{ kernel_size: 2 }, /kernel_size 2 must be odd/],
    [{ norm_type: 'batch_norm' }, /norm_type "batch_norm" is not supported/],
    [{ stem_channels: undefined }, /stem_channels must be a positive integer/],
    [{ stage_channels: [6, 0] }, /stage_channels must be a non-empty list of positive integers, got \[6,0\]/],
    [{ num_hidden_layers: 3 }, /num_hidden_layers 3 differs from the 2 stages/],
    [{ hidden_act: 'relu6' }, /hidden_act: unsupported activation "relu6"/],
    [{ hidden_act: 'relu', norm_type: 'layer_norm', num_groups: 3 }, null],
    [{ written_tokens: { gate_values: 2, group_values: [[3]] } }, /written_tokens: group_values\[0\] lists 1 groups for 2 gate values/],
    [{ written_tokens: { gate_values: 0, group_values: [] } }, /written_tokens.gate_values must be a positive integer/],
    [{ written_tokens: [1] }, /written_tokens must be an object/],
    [{}, /vision_feature_layer -2 must select the conv tower's last hidden state/, { vision_feature_layer: -2 }],
    [{}, /vision_feature_select_strategy must be "full"/, { vision_feature_select_strategy: 'default' }],
  ];
  for (const [vision, message, root] of cases) {
    if (!message) { // valid: layer_norm ignores num_groups
      const parsed = parseLlavaConfig('config.json', broken(vision, root)).vision as ConvVisionConfig;
      assert.equal(parsed.hiddenAct, 'relu');
      continue;
    }
    assert.throws(() => parseLlavaConfig('config.json', broken(vision, root)), (error: unknown) => {
      assert.ok(error instanceof ModelLoadError, `${JSON.stringify(vision)}: ${String(error)}`);
      assert.match(error.message, message);
      assert.match(error.message, /^config\.json: /);
      return true;
    });
  }
});
