/**
 * A whole tiny checkpoint on disk, for tests that load a real VisionLanguageModel: a random
 * LLaVA (CLIP 28 px + Llama, hidden 32) written by saveLlava, the Llama tokenizer fixture
 * (vocab 382, `<image>` = 380) — or a Qwen2 decoder with the Qwen2 tokenizer fixture and its chat
 * template — a CLIP preprocessor_config.json, and a few small PNG photos.
 * The folder is removed when the test ends.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { LlavaConfig } from '../../src/models/config.ts';
import type { LlavaModel } from '../../src/models/llava.ts';
import { createRandomLlava } from '../../src/models/randomLlava.ts';
import { saveLlava } from '../../src/models/saveLlava.ts';
import { repoRoot } from './fixtures.ts';

export const TINY_LLAVA_CONFIG: LlavaConfig = {
  vision: { kind: 'clip', hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 2, imageSize: 28, patchSize: 14, numChannels: 3, layerNormEps: 1e-5, hiddenAct: 'quick_gelu' },
  text: { kind: 'llama', hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8, vocabSize: 382, ropeTheta: 10000, rmsNormEps: 1e-5, tieWordEmbeddings: false },
  imageTokenId: 380, projectorAct: 'gelu', projectorBias: true, visionFeatureLayer: -2, visionFeatureSelect: 'default', imageAspectRatio: null,
};

/** The same shape with a Qwen2 decoder, for the Qwen2 tokenizer fixture (vocab 294, `<image>` 293, a ChatML template). */
export const TINY_QWEN2_LLAVA_CONFIG: LlavaConfig = {
  ...TINY_LLAVA_CONFIG,
  text: { ...TINY_LLAVA_CONFIG.text, kind: 'qwen2', vocabSize: 294, ropeTheta: 1e6, rmsNormEps: 1e-6 },
  imageTokenId: 293,
};

export interface TinyCheckpointOptions {
  /** Seed of the random weights. Default 3. */
  readonly seed?: number;
  /** Standard deviation of the random weights. Default 0.5 (varied enough that greedy answers differ by prompt). */
  readonly std?: number;
  /** How many photos to write (photo-0.png …, 40×30, each a different pattern). Default 1. */
  readonly photos?: number;
  /** Another shape; it must keep the tokenizer's vocab and `<image>` id, and a 28 px CLIP vision tower. */
  readonly config?: LlavaConfig;
  /** The tokenizer fixture: 'llama' (default; llava_v1 prompts) or 'qwen2' (its chat template; TINY_QWEN2_LLAVA_CONFIG by default). */
  readonly tokenizer?: 'llama' | 'qwen2';
}

export interface TinyCheckpoint {
  /** The checkpoint folder (VisionLanguageModel.load(dir)). */
  readonly dir: string;
  readonly config: LlavaConfig;
  /** The model that was saved. */
  readonly model: LlavaModel;
  /** Paths of the photos written into dir. */
  readonly photos: string[];
}

export async function makeTinyCheckpoint(t: { after: (fn: () => void) => void }, options: TinyCheckpointOptions = {}): Promise<TinyCheckpoint> {
  const tokenizer = options.tokenizer ?? 'llama';
  const config = options.config ?? (tokenizer === 'qwen2' ? TINY_QWEN2_LLAVA_CONFIG : TINY_LLAVA_CONFIG);
  const dir = mkdtempSync(join(tmpdir(), 'yollava-tiny-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const model = createRandomLlava(config, { seed: options.seed ?? 3, std: options.std ?? 0.5 });
  saveLlava(model, dir);
  const tokenizerDir = join(repoRoot, 'test', 'models', 'fixtures', `${tokenizer}-tokenizer`);
  for (const file of readdirSync(tokenizerDir)) copyFileSync(join(tokenizerDir, file), join(dir, file));
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({
    image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: 28 }, crop_size: { height: 28, width: 28 },
    do_resize: true, do_center_crop: true, do_rescale: true, do_normalize: true, do_convert_rgb: true, resample: 3,
    image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711],
  }));
  const photos: string[] = [];
  for (let p = 0; p < (options.photos ?? 1); p++) {
    const path = join(dir, `photo-${p}.png`);
    const pixels = Buffer.from(Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * (37 + 10 * p) + 50 * p) % 256));
    await sharp(pixels, { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(path);
    photos.push(path);
  }
  return { dir, config, model, photos };
}
