/** Paths and comparison helpers shared by the tests. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type StoredTensor } from '../../src/engine/safetensors.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');

/** The shared fixtures sit beside the checkout (../shared); YOLLAVA_FIXTURES overrides. */
export const fixturesRoot = process.env.YOLLAVA_FIXTURES ?? resolve(repoRoot, '..', 'shared', 'fixtures', 'reference');

export const fixtureModels = ['tiny-llava-clip-llama', 'tiny-llava-siglip-qwen2'] as const;

export function fixtureDir(name: string): string {
  const dir = join(fixturesRoot, name);
  if (!existsSync(dir)) throw new Error(`fixture folder ${dir} is missing (set YOLLAVA_FIXTURES to the reference fixtures)`);
  return dir;
}

export function readReference(name: string): Map<string, StoredTensor> {
  return readSafetensors(join(fixtureDir(name), 'reference.safetensors'));
}

export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ expected ${expected.length}`);
  let max = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

/** max|a − e| / max|e| (the fixtures' gradient tolerance measure). */
export function maxRelDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  return maxAbsDiff(actual, expected) / (scale || 1);
}

export function f32(tensor: StoredTensor | undefined, name = 'tensor'): Float32Array {
  if (!tensor) throw new Error(`reference has no ${name}`);
  return tensor.data as Float32Array;
}

export function ints(tensor: StoredTensor | undefined, name = 'tensor'): number[] {
  if (!tensor) throw new Error(`reference has no ${name}`);
  return Array.from(tensor.data as Int32Array);
}
