/** Where the CLI finds the base model and the concept library, and how it reports loading. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import { ConceptLibrary } from '../personalize/ConceptLibrary.ts';
import { ConceptSet } from '../personalize/ConceptSet.ts';
import { CliError } from './CliError.ts';

/** The shipped default model, inside the package. */
export const DEFAULT_MODEL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'yollava-world');

export const modelOptions = {
  model: { type: 'string', short: 'm' },
  library: { type: 'string' },
} as const;

export const modelOptionsHelp = `  -m, --model <dir>     base model folder (HF layout; default: $YOLLAVA_MODEL, else the shipped default model)
      --library <dir>   concept library (default: $YOLLAVA_HOME/concepts, else ~/.yollava/concepts)`;

export function modelDir(value: string | undefined): string {
  const dir = value ?? process.env.YOLLAVA_MODEL ?? DEFAULT_MODEL_DIR;
  if (!existsSync(join(dir, 'config.json'))) {
    if (!value && !process.env.YOLLAVA_MODEL) throw new CliError(`the shipped default model is not in ${dir} yet; pass --model <dir> (a LLaVA checkpoint folder in Hugging Face layout)`);
    throw new CliError(`${dir}: not a model folder (no config.json)`);
  }
  return dir;
}

export async function openModel(value: string | undefined): Promise<VisionLanguageModel> {
  const dir = modelDir(value);
  const started = performance.now();
  let lastPercent = -1;
  const vlm = await VisionLanguageModel.load(dir, {
    onProgress: ({ loadedBytes, totalBytes }) => {
      const percent = Math.floor((100 * loadedBytes) / Math.max(1, totalBytes));
      if (process.stderr.isTTY && percent !== lastPercent && totalBytes > 200e6) {
        lastPercent = percent;
        process.stderr.write(`\rloading ${dir}: ${percent}%`);
      }
    },
  });
  if (lastPercent >= 0) process.stderr.write('\r\x1b[K');
  const seconds = (performance.now() - started) / 1000;
  if (seconds > 2) process.stderr.write(`loaded ${dir} in ${seconds.toFixed(1)} s\n`);
  return vlm;
}

export function openLibrary(value: string | undefined): ConceptLibrary {
  return new ConceptLibrary(value);
}

/** Loads concepts by name from the library onto the model. */
export function attachConcepts(vlm: VisionLanguageModel, library: ConceptLibrary, names: readonly string[]): ConceptSet {
  const set = new ConceptSet(vlm);
  for (const name of names) set.add(library.load(name));
  return set;
}
