/**
 * Peak resident memory of a 7B-parameter LLaVA-1.5-shaped model held in BF16 (CLIP ViT-L/14
 * at 336 px, projector, Llama-7B with 32064 tokens), built in memory with random weights
 * (tiled: no file is needed), then run: an image through the vision tower, a prompt with its
 * 576 image tokens through the decoder, and greedy decoding. Prints one JSON line.
 *
 *   node --expose-gc --import tsx bench/memory7b.ts [--prompt-text-tokens 24] [--new-tokens 4]
 */
import { parseArgs } from 'node:util';
import type { LlavaConfig } from '../src/models/config.ts';
import { createRandomLlava } from '../src/models/randomLlava.ts';
import { VisionTower } from '../src/models/visionTower.ts';
import { getKernels } from '../src/engine/backend.ts';

const { values } = parseArgs({ options: { 'prompt-text-tokens': { type: 'string', default: '24' }, 'new-tokens': { type: 'string', default: '4' } } });
const textTokens = Number(values['prompt-text-tokens']);
const newTokens = Number(values['new-tokens']);

const config: LlavaConfig = {
  vision: { kind: 'clip', hiddenSize: 1024, intermediateSize: 4096, numLayers: 24, numHeads: 16, imageSize: 336, patchSize: 14, numChannels: 3, layerNormEps: 1e-5, hiddenAct: 'quick_gelu' },
  text: { kind: 'llama', hiddenSize: 4096, intermediateSize: 11008, numLayers: 32, numHeads: 32, numKvHeads: 32, headDim: 128, vocabSize: 32064, ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: false },
  imageTokenId: 32000, projectorAct: 'gelu', projectorBias: true, visionFeatureLayer: -2, visionFeatureSelect: 'default', imageAspectRatio: null,
};

const gib = (bytes: number) => bytes / 2 ** 30;
const started = performance.now();
const model = createRandomLlava(config, { seed: 7, dtype: 'bf16', tiled: true });
let parameters = 0;
const count = (m: { rows: number; cols: number }) => { parameters += m.rows * m.cols; };
const d = model.decoder.weights;
count(d.embedTokens); count(d.lmHead);
for (const l of d.layers) for (const k of ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const) count(l[k].weight);
const tower = model.visionTower;
if (!(tower instanceof VisionTower)) throw new Error('expected a CLIP tower');
for (const l of tower.weights.layers) for (const k of ['q', 'k', 'v', 'o', 'fc1', 'fc2'] as const) count(l[k].weight);
const builtSeconds = (performance.now() - started) / 1000;
const afterBuild = process.memoryUsage().rss;
process.stderr.write(`built ${(parameters / 1e9).toFixed(2)}B parameters in ${builtSeconds.toFixed(0)} s, RSS ${gib(afterBuild).toFixed(2)} GiB; running (${getKernels().name})…\n`);

const pixels = Float32Array.from({ length: 3 * 336 * 336 }, (_, i) => Math.sin(i * 0.001));
const runStarted = performance.now();
const features = model.encodeImage(pixels);
const visionSeconds = (performance.now() - runStarted) / 1000;
const ids = [1, ...Array(model.imageTokenCount).fill(config.imageTokenId), ...Array.from({ length: textTokens }, (_, i) => 100 + i)];
const result = await model.generate({ ids, images: [features] }, { maxNewTokens: newTokens });
const runSeconds = (performance.now() - runStarted) / 1000;
const peakBytes = process.resourceUsage().maxRSS * 1024;
process.stdout.write(JSON.stringify({
  parameters, dtype: 'bf16', promptTokens: ids.length, generated: result.ids.length,
  buildSeconds: builtSeconds, visionSeconds, runSeconds,
  rssAfterBuildGiB: gib(afterBuild), peakRssGiB: gib(peakBytes), kernels: getKernels().name,
}) + '\n');
