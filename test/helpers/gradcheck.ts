/**
 * Finite-difference checks of hand-written backwards. The loss is a fixed random projection
 * of a function's output, so every output element matters; central differences on a sample
 * of entries of each parameter are compared with the analytic gradient, relative to the
 * largest analytic entry (element-wise relative error explodes on tiny entries).
 */
import assert from 'node:assert/strict';
import { seededNormal } from '../../src/models/randomLlava.ts';

export function randomArray(length: number, seed: number, scale = 1): Float32Array {
  const normal = seededNormal(seed);
  return Float32Array.from({ length }, () => scale * normal());
}

/** Σ out ⊙ projection, in float64. */
export function project(out: ArrayLike<number>, projection: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < out.length; i++) sum += out[i] * projection[i];
  return sum;
}

export interface GradCheckOptions {
  /** Entries checked per parameter (spread over the whole array). */
  samples?: number;
  step?: number;
  /** Allowed |fd − analytic| as a fraction of max |analytic|. */
  tolerance?: number;
  /**
   * The true gradient is zero (e.g. a key bias: softmax ignores a shift shared by all
   * scores): check that both the analytic and the numeric values are ~0 in absolute terms.
   */
  expectZero?: boolean;
}

/** Asserts that `analytic` matches d loss / d param; returns the worst relative error. */
export function checkGradient(name: string, loss: () => number, param: Float32Array, analytic: ArrayLike<number>, options: GradCheckOptions = {}): number {
  const samples = Math.min(options.samples ?? 12, param.length);
  const step = options.step ?? 1e-2;
  const tolerance = options.tolerance ?? 1e-2;
  assert.equal(analytic.length, param.length, `${name}: gradient length`);
  let scale = 0;
  for (let i = 0; i < analytic.length; i++) scale = Math.max(scale, Math.abs(analytic[i]));
  const centralDifference = (i: number): number => {
    const original = param[i];
    param[i] = original + step;
    const plus = loss();
    param[i] = original - step;
    const minus = loss();
    param[i] = original;
    return (plus - minus) / (2 * step);
  };
  if (options.expectZero) {
    assert.ok(scale <= 1e-5, `${name}: expected a zero gradient, max |g| is ${scale}`);
    for (let s = 0; s < samples; s++) {
      const i = Math.floor(((s + 0.5) / samples) * param.length);
      const numeric = centralDifference(i);
      assert.ok(Math.abs(numeric) <= 1e-3, `${name}[${i}]: finite difference ${numeric} should be ~0`);
    }
    return 0;
  }
  assert.ok(scale > 0, `${name}: the analytic gradient is all zeros, nothing would be checked`);
  let worst = 0;
  for (let s = 0; s < samples; s++) {
    // Entries spread over the array, plus the largest gradient entry.
    let i = Math.floor(((s + 0.5) / samples) * param.length);
    if (s === 0) for (let j = 0; j < analytic.length; j++) if (Math.abs(analytic[j]) === scale) { i = j; break; }
    const numeric = centralDifference(i);
    const error = Math.abs(numeric - analytic[i]) / scale;
    worst = Math.max(worst, error);
    assert.ok(error <= tolerance, `${name}[${i}]: finite difference ${numeric} vs analytic ${analytic[i]} (error ${error.toExponential(2)} of max |g| ${scale.toExponential(2)})`);
  }
  return worst;
}

/** Largest |a[i] − b[i]| (arrays of the same length). */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Largest |a[i]|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
