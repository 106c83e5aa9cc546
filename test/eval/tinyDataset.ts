/**
 * A tiny evaluation set in the public Yo'LLaVA layout, written by tests: a few subjects with
 * train/test photos (small PNGs, a different pattern per subject), a negative pool, the
 * visual-QA file keyed by "./yollava-data/test/<subject>/<i>.png" paths, the text-QA file,
 * and a world.json with descriptions for all subjects but the last.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export interface TinyDatasetOptions {
  readonly subjects?: readonly string[];
  readonly trainPhotos?: number;
  readonly testPhotos?: number;
  readonly poolImages?: number;
}

async function writePattern(path: string, seed: number, variant: number): Promise<void> {
  const width = 24, height = 20;
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const x = i % width, y = Math.floor(i / width);
    pixels[3 * i] = (seed * 70 + x * 9 + variant * 5) % 256;
    pixels[3 * i + 1] = (seed * 40 + y * 11 + variant * 13) % 256;
    pixels[3 * i + 2] = ((x + y + seed) % 4 < 2 ? 200 : 30) + variant;
  }
  await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toFile(path);
}

/** Writes `<dir>/yollava-data/…`; returns the dataset folder (dir). */
export async function writeTinyDataset(dir: string, options: TinyDatasetOptions = {}): Promise<string> {
  const subjects = options.subjects ?? ['bo', 'mam', 'toro'];
  const root = join(dir, 'yollava-data');
  const visual: Record<string, Record<string, unknown>> = {};
  const text: Record<string, unknown[]> = {};
  const world: Record<string, unknown> = {};
  for (const [s, subject] of subjects.entries()) {
    for (const split of ['train', 'test'] as const) {
      mkdirSync(join(root, split, subject), { recursive: true });
      const count = split === 'train' ? options.trainPhotos ?? 3 : options.testPhotos ?? 2;
      for (let i = 0; i < count; i++) await writePattern(join(root, split, subject, `${i}.png`), s + 1, (split === 'train' ? 0 : 50) + i);
    }
    visual[subject] = {
      [`./yollava-data/test/${subject}/0.png`]: { question: 'What color is <sks>?', options: { A: 'red', B: 'blue' }, correct_answer: s % 2 ? 'B' : 'A' },
    };
    text[subject] = [
      { question: 'Is <sks> large?', options: { A: 'Yes', B: 'No' }, correct_answer: 'A' },
      { question: 'What is <sks> made of?', options: { A: 'wood', B: 'metal' }, correct_answer: 'B' },
    ];
    if (s < subjects.length - 1) world[subject] = { kind: s === 0 ? 'pet' : 'object', description: `a small ${['red', 'blue', 'green'][s % 3]} thing` };
  }
  mkdirSync(join(root, 'pool'), { recursive: true });
  for (let i = 0; i < (options.poolImages ?? 6); i++) await writePattern(join(root, 'pool', `${i}.png`), 10 + i, i);
  writeFileSync(join(root, 'yollava-visual-qa.json'), JSON.stringify(visual, null, 1));
  writeFileSync(join(root, 'yollava-text-qa.json'), JSON.stringify(text, null, 1));
  writeFileSync(join(root, 'world.json'), JSON.stringify({ generator: 'test', subjects: world }, null, 1));
  return dir;
}
