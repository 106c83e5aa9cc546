/**
 * The text baselines' descriptions written by the base model: a caption of each training
 * photo (concatenated: the long description) and a one-sentence summary of those captions (the
 * short one). Written once per subject into `<out>/contexts/<subject>.json` and reused while
 * the model and photos are the same.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../personalize/writeFileAtomic.ts';
import type { ModelAsker } from './askModel.ts';
import type { EvalSubject } from './dataset.ts';

export const CAPTION_PROMPT = 'Describe the image in detail.';
export const SUMMARY_PROMPT = 'Here are descriptions of several photos that all show the same subject:\n{captions}\nIn one short sentence, describe what this subject looks like.';
/** Photos captioned per subject (the paper's n = 5). */
export const CAPTIONED_PHOTOS = 5;

export interface SubjectDescriptions {
  readonly model: string;
  readonly photos: readonly string[];
  readonly captions: readonly string[];
  readonly summary: string;
  readonly seconds: number;
}

export async function obtainDescriptions(
  asker: ModelAsker, subject: EvalSubject, outDir: string, modelKey: string,
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<SubjectDescriptions> {
  const file = join(outDir, 'contexts', `${subject.conceptName}.json`);
  const photos = subject.trainPhotos.slice(0, CAPTIONED_PHOTOS);
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as SubjectDescriptions;
    if (stored.model === modelKey && JSON.stringify(stored.photos) === JSON.stringify(photos)) return stored;
  }
  const started = performance.now();
  const captions: string[] = [];
  for (const photo of photos) {
    options.onProgress?.(captions.length, photos.length + 1);
    captions.push(await asker.describe(CAPTION_PROMPT, photo, 96, options.signal));
  }
  options.onProgress?.(photos.length, photos.length + 1);
  const list = captions.map((c, i) => `${i + 1}. ${c}`).join('\n');
  const summary = await asker.describe(SUMMARY_PROMPT.replace('{captions}', list), null, 48, options.signal);
  const result: SubjectDescriptions = { model: modelKey, photos, captions, summary, seconds: (performance.now() - started) / 1000 };
  writeFileAtomic(file, `${JSON.stringify(result, null, 1)}\n`);
  return result;
}

export function captionsContext(identifier: string, captions: readonly string[]): string {
  return `Here are descriptions of photos of ${identifier}: ${captions.map((c, i) => `Photo ${i + 1}: ${c}`).join(' ')}`;
}

export function summaryContext(identifier: string, summary: string): string {
  return `Here is a description of ${identifier}: ${summary}`;
}

export function humanContext(identifier: string, description: string): string {
  return `${identifier} is ${description.replace(/[.\s]+$/, '')}.`;
}
