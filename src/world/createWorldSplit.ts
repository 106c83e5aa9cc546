/**
 * The benchmark split: which individuals are the 40 benchmark subjects for a seed, and which
 * individuals pretraining must never see (the subjects and all their look-alikes up to 2
 * attributes away), so that personalizing on a subject is never a lookup of something known.
 */
import { attributeDistance, individualIndex, lookAlikes, randomIndividual } from './individuals.ts';
import { BENCHMARK_KIND_COUNTS, KINDS, combinationCount, type Individual, type Kind } from './kindSchemas.ts';
import { Rng } from './Rng.ts';

export const DEFAULT_BENCHMARK_SEED = 0;
/** Look-alikes up to this many attributes away from a subject are held out of pretraining. */
export const HELD_OUT_DISTANCE = 2;
/** Benchmark subjects of one kind differ from each other in at least this many attributes. */
const MIN_SUBJECT_DISTANCE = 3;

export interface BenchmarkSubject {
  /** Folder name in the dataset (a neutral made-up word). */
  readonly name: string;
  readonly individual: Individual;
}

export interface WorldSplit {
  readonly seed: number;
  /** 40 subjects: 10 people, 5 pets, 5 landmarks, 15 objects, 5 characters. */
  readonly subjects: readonly BenchmarkSubject[];
  /** True for a subject or any individual within HELD_OUT_DISTANCE attributes of one. */
  isHeldOut(individual: Individual): boolean;
}

const CONSONANTS = 'bdfgklmnprstvz';
const VOWELS = 'aeiou';

/** A made-up two-syllable name, e.g. "tamo". */
function syllableName(rng: Rng): string {
  let name = '';
  for (let i = 0; i < 2; i++) name += CONSONANTS[rng.int(CONSONANTS.length)] + VOWELS[rng.int(VOWELS.length)];
  return name;
}

export function createWorldSplit(seed: number = DEFAULT_BENCHMARK_SEED): WorldSplit {
  const rng = Rng.from('benchmark-split', seed);
  const subjects: BenchmarkSubject[] = [];
  const names = new Set<string>();
  for (const kind of KINDS) {
    const chosen: Individual[] = [];
    while (chosen.length < BENCHMARK_KIND_COUNTS[kind]) {
      const candidate = randomIndividual(rng, kind);
      if (chosen.some((c) => attributeDistance(c, candidate) < MIN_SUBJECT_DISTANCE)) continue;
      chosen.push(candidate);
      let name = syllableName(rng);
      while (names.has(name)) name = syllableName(rng);
      names.add(name);
      subjects.push({ name, individual: candidate });
    }
  }
  const byKind = new Map<Kind, Individual[]>();
  for (const s of subjects) byKind.set(s.individual.kind, [...(byKind.get(s.individual.kind) ?? []), s.individual]);
  return {
    seed,
    subjects,
    isHeldOut: (individual) =>
      (byKind.get(individual.kind) ?? []).some((s) => attributeDistance(s, individual) <= HELD_OUT_DISTANCE),
  };
}

const splitCache = new Map<number, WorldSplit>();

/** Whether pretraining must exclude this individual, for the benchmark of `seed`. */
export function isHeldOut(individual: Individual, seed: number = DEFAULT_BENCHMARK_SEED): boolean {
  let split = splitCache.get(seed);
  if (!split) {
    split = createWorldSplit(seed);
    splitCache.set(seed, split);
  }
  return split.isHeldOut(individual);
}

/** A random individual of a kind that no given split holds out (rejection sampling). */
export function randomTrainingIndividual(rng: Rng, kind: Kind, splits: readonly WorldSplit[]): Individual {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const candidate = randomIndividual(rng, kind);
    if (!splits.some((s) => s.isHeldOut(candidate))) return candidate;
  }
  throw new Error(`no ${kind} outside the held-out sets after 1000 draws`);
}

/** Exact share of each kind's individuals that a split holds out of pretraining. */
export function heldOutShare(split: WorldSplit): Record<Kind, number> {
  const out = {} as Record<Kind, number>;
  for (const kind of KINDS) {
    const held = new Set<number>();
    for (const s of split.subjects) {
      if (s.individual.kind !== kind) continue;
      for (let d = 0; d <= HELD_OUT_DISTANCE; d++) for (const l of lookAlikes(s.individual, d)) held.add(individualIndex(l));
    }
    out[kind] = held.size / combinationCount(kind);
  }
  return out;
}
