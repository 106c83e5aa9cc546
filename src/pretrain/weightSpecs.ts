/**
 * The weight lists of `npm run pretrain` (`--mix`, `--recognition-negatives`), parsed in one
 * place; a module of its own so that bench scripts can use them without main.ts's entry point.
 */
import { CORPUS_TASKS, type CorpusTask, type RecognitionOptions } from '../world/index.ts';

export type RecognitionNegatives = NonNullable<RecognitionOptions['negatives']>;
const NEGATIVE_KINDS = { one: 'oneAttribute', two: 'twoAttributes', same: 'sameKind', other: 'otherKind' } as const;

/**
 * "name=w,name=w" → weights under `keys` (accepted name → key); keys not named get 0. `flag`
 * and `noun` word the errors ("--mix: unknown task …").
 */
function parseWeights<K extends string>(flag: string, noun: string, spec: string, keys: Readonly<Record<string, K>>): Record<K, number> {
  const weights = Object.fromEntries(Object.values(keys).map((k) => [k, 0])) as Record<K, number>;
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, weight] = part.split('=');
    if (!Object.hasOwn(keys, name)) throw new Error(`${flag}: unknown ${noun} "${name}" (${noun}s: ${Object.keys(keys).join(', ')})`);
    const value = Number(weight);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${flag}: weight of ${name} must be a non-negative number; got ${weight}`);
    weights[keys[name]] = value;
  }
  if (Object.values<number>(weights).every((v) => v === 0)) throw new Error(`${flag}: give at least one ${noun} a positive weight`);
  return weights;
}

/** "one=0.2,two=0.1,same=0.3,other=0.4" → recognition negative weights (kinds not named get 0). */
export function parseRecognitionNegatives(spec: string): RecognitionNegatives {
  return parseWeights('--recognition-negatives', 'kind', spec, NEGATIVE_KINDS);
}

/** "description_text=1,kind_text=0.2" → task weights; every task not named gets 0. */
export function parseMix(spec: string): Record<CorpusTask, number> {
  return parseWeights('--mix', 'task', spec, Object.fromEntries(CORPUS_TASKS.map((t) => [t, t])) as Record<CorpusTask, CorpusTask>);
}
