// A soft-prompt training step (lossAndGradients over a cached prefix) on the native kernels —
// small-m lm_head products, fused softmax/SwiGLU/RMSNorm, pooled tape buffers — against the
// TypeScript reference, and repeated steps (which reuse the pooled buffers) giving identical results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kernels } from '../../src/engine/kernels.ts';
import { jsKernels } from '../../src/engine/jsKernels.ts';
import { loadNativeKernels } from '../../src/engine/nativeKernels.ts';
import type { LlavaConfig } from '../../src/models/config.ts';
import { createRandomLlava } from '../../src/models/randomLlava.ts';
import { randomArray } from '../helpers/gradcheck.ts';

const loaded = loadNativeKernels();
const skipNative = loaded instanceof Error ? `native addon unavailable: ${loaded.message}; run \`npm run build:native\`` : false;

function config(): LlavaConfig {
  return {
    vision: { kind: 'siglip', hiddenSize: 8, intermediateSize: 8, numLayers: 1, numHeads: 1, imageSize: 8, patchSize: 8, numChannels: 3, layerNormEps: 1e-6, hiddenAct: 'gelu_pytorch_tanh' },
    // sizes past the kernels' vector widths and thread thresholds: F = 600 (SwiGLU rows), V = 5000 (the head)
    text: { kind: 'qwen2', hiddenSize: 64, intermediateSize: 600, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 5000, ropeTheta: 1e4, rmsNormEps: 1e-6, tieWordEmbeddings: false },
    imageTokenId: 4999, projectorAct: 'gelu', projectorBias: true, visionFeatureLayer: -1, visionFeatureSelect: 'full', imageAspectRatio: null,
  };
}

function step(kernels: Kernels) {
  const model = createRandomLlava(config(), { seed: 7, std: 0.05 }, () => kernels);
  const V = 5000, C = 64;
  const prefix = model.prefill({ ids: Array.from({ length: 40 }, (_, i) => (i * 37) % V) });
  const ids = Array.from({ length: 24 }, (_, i) => (i * 101 + 3) % V);
  ids[2] = V; ids[3] = V + 1;
  const labels = ids.map((id, t) => (t >= 10 ? id : -100));
  labels[12] = V;
  const extra = { inputRows: randomArray(2 * C, 1, 0.05), outputRows: randomArray(C, 2, 0.05), outputIds: [V] };
  const run = () => model.lossAndGradients({ ids, labels, extra, cache: prefix });
  return [run(), run(), run()];
}

test('a cached soft-prompt step on the native kernels matches the reference, and repeats exactly', { skip: skipNative }, () => {
  const native = step(loaded as Kernels);
  const reference = step(jsKernels)[0];
  for (const repeat of native.slice(1)) {
    assert.equal(repeat.loss, native[0].loss, 'a repeated step (pooled buffers) gives the same loss');
    assert.deepEqual(repeat.inputRowGrads, native[0].inputRowGrads);
    assert.deepEqual(repeat.outputRowGrads, native[0].outputRowGrads);
  }
  assert.ok(Math.abs(native[0].loss - reference.loss) <= 1e-5 * Math.abs(reference.loss), `loss ${native[0].loss} vs ${reference.loss}`);
  for (const key of ['inputRowGrads', 'outputRowGrads'] as const) {
    const a = native[0][key], b = reference[key];
    const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-4 * scale, `${key}[${i}]: ${a[i]} vs ${b[i]}`);
  }
});
