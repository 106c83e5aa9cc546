/**
 * The weight lists of `npm run pretrain` (`--mix`, `--recognition-negatives`,
 * `--look-alike-weights`), parsed in one
 * place; a module of its own so that bench scripts can use them without main.ts's entry point.
 */
import { CORPUS_TASKS, KIND_SCHEMAS, type CorpusTask, type Kind, type RecognitionOptions } from '../world/index.ts';

import type { Stage2Phase } from './stage2Instruct.ts';

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

/**
 * "person.hairStyle=4,landmark.flag=3" → how often a look-alike changes each named attribute
 * (the others weigh 1).
 */
export function parseLookAlikeWeights(spec: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, weight] = part.split('=');
    const [kind, attribute] = key.split('.');
    const schema = Object.hasOwn(KIND_SCHEMAS, kind) ? KIND_SCHEMAS[kind as Kind] : null;
    if (!schema || !schema.some((s) => s.name === attribute)) {
      const known = schema ? schema.map((s) => `${kind}.${s.name}`).join(', ') : `kinds ${Object.keys(KIND_SCHEMAS).join(', ')}`;
      throw new Error(`--look-alike-weights: unknown attribute "${key}" (${known})`);
    }
    const value = Number(weight);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--look-alike-weights: weight of ${key} must be a positive number; got ${weight}`);
    weights[key] = value;
  }
  if (Object.keys(weights).length === 0) throw new Error('--look-alike-weights: name at least one attribute, e.g. person.hairStyle=4');
  return weights;
}

/**
 * A stage-2 curriculum: "option_match=1@1100; description_text=0.8,kind_text=0.2@4000; mcq=1,…" →
 * phases, each mix for the steps before its "@step", the last one (no "@") to the end.
 */
export function parsePhases(spec: string): Stage2Phase[] {
  const parts = spec.split(';').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new Error('--phases: give at least one phase, e.g. option_match=1@1100;description_text=1');
  let previous = 0;
  const phases: Stage2Phase[] = [];
  parts.forEach((part, i) => {
    if (part === 'written') {
      // A marker, not a phase: the tower gets written tokens where the phase before it ends.
      const before = phases[phases.length - 1];
      if (!before || before.untilStep === undefined || i === parts.length - 1) throw new Error('--phases: "written" goes between two phases (after one that ends "@STEP")');
      if (phases.some((phase) => phase.thenWrittenTokens)) throw new Error('--phases: "written" can be given once');
      phases[phases.length - 1] = { ...before, thenWrittenTokens: true };
      return;
    }
    const [mixSpec, until, extra] = part.split('@').map((p) => p.trim());
    if (extra !== undefined) throw new Error(`--phases: phase ${phases.length + 1} ("${part}") has more than one "@"`);
    const last = i === parts.length - 1;
    if (last) {
      if (until !== undefined) throw new Error(`--phases: the last phase runs to the end of the schedule; drop its "@${until}"`);
      phases.push({ mix: parseMix(mixSpec) });
      return;
    }
    const untilStep = Number(until);
    if (until === undefined || !Number.isInteger(untilStep) || untilStep <= previous) {
      throw new Error(`--phases: phase ${phases.length + 1} ("${part}") needs "@STEP", a step after ${previous} where the next phase begins`);
    }
    previous = untilStep;
    phases.push({ mix: parseMix(mixSpec), untilStep });
  });
  return phases;
}
