/**
 * Measures how wide each attribute is in pixels: for every pair of values of every attribute,
 * the same individual is drawn with either value (same pose, place, scale) and we find the
 * largest k×k square of pixels that differ. The minimum over pairs and trials is the
 * attribute's width: what a vision tower must resolve to tell the two look-alikes apart.
 */
import { Canvas } from './Canvas.ts';
import { MIN_SCALE } from './composeScene.ts';
import { randomIndividual, withAttribute } from './individuals.ts';
import { KIND_SCHEMAS, KINDS, type Individual, type Kind } from './kindSchemas.ts';
import { PALETTE } from './palette.ts';
import { IMAGE_SIZE } from './renderScene.ts';
import { Rng } from './Rng.ts';
import { drawIndividual, spriteSize } from './sprites/drawIndividual.ts';
import { POSES_BY_KIND, type PoseName } from './sprites/poses.ts';

/** A channel difference at least this large counts as a visible difference. */
export const VISIBLE_DIFFERENCE = 24;
/** A neutral backdrop unlike every attribute colour. */
const BACKDROP = [0, 128, 128] as const;

export interface AttributeWidth {
  kind: Kind;
  attribute: string;
  /** Smallest, over value pairs and trials, of the largest differing square's side (px). */
  minWidth: number;
  /** The value pair and trial that gave it. */
  worst: { a: string; b: string; individual: Individual };
}

/** One individual alone on a neutral backdrop, standing on the bottom edge (RGB, IMAGE_SIZE²). */
export function drawAlone(ind: Individual, pose: PoseName, mirrored: boolean, scale: number, dx: number): Uint8Array {
  const c = new Canvas(IMAGE_SIZE, IMAGE_SIZE);
  c.fillPixels(0, 0, IMAGE_SIZE, IMAGE_SIZE, BACKDROP);
  const { width, height } = spriteSize(ind);
  c.beginSprite(0, (IMAGE_SIZE - width * scale) / 2 + dx, IMAGE_SIZE - height * scale - 0.2, scale, width, mirrored);
  drawIndividual(c, ind, pose);
  c.endSprite();
  return c.rgb;
}

/** Worst case for shape attributes: every colour attribute set to one colour where allowed. */
function monochrome(rng: Rng, ind: Individual): Individual {
  const colorSpecs = KIND_SCHEMAS[ind.kind].filter((s) => s.values.some((v) => v in PALETTE));
  const candidates = Object.keys(PALETTE).filter((name) => colorSpecs.filter((s) => s.values.includes(name)).length >= 2);
  if (candidates.length === 0) return ind;
  const color = rng.pick(candidates);
  const attributes = { ...ind.attributes };
  for (const s of colorSpecs) if (s.values.includes(color)) attributes[s.name] = color;
  for (const s of KIND_SCHEMAS[ind.kind]) if (s.values.includes('plain')) attributes[s.name] = 'plain';
  for (const s of KIND_SCHEMAS[ind.kind]) if (s.values.includes('none') && rng.chance(0.5)) attributes[s.name] = 'none';
  return { kind: ind.kind, attributes };
}

/** Side of the largest square of differing pixels between two RGB images. */
export function largestDifferingSquare(a: Uint8Array, b: Uint8Array, size = IMAGE_SIZE): number {
  const dp = new Int32Array((size + 1) * (size + 1));
  let best = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      const differs =
        Math.abs(a[o] - b[o]) >= VISIBLE_DIFFERENCE ||
        Math.abs(a[o + 1] - b[o + 1]) >= VISIBLE_DIFFERENCE ||
        Math.abs(a[o + 2] - b[o + 2]) >= VISIBLE_DIFFERENCE;
      const k = (y + 1) * (size + 1) + (x + 1);
      if (differs) {
        dp[k] = 1 + Math.min(dp[k - 1], dp[k - size - 1], dp[k - size - 2]);
        if (dp[k] > best) best = dp[k];
      }
    }
  }
  return best;
}

/** Attribute widths at a given scale, over `trials` random individuals per value pair. */
export function measureAttributeWidths(options: { scale?: number; trials?: number; seed?: number } = {}): AttributeWidth[] {
  const scale = options.scale ?? MIN_SCALE;
  const trials = options.trials ?? 6;
  const rng = new Rng(options.seed ?? 7);
  const out: AttributeWidth[] = [];
  for (const kind of KINDS) {
    for (const spec of KIND_SCHEMAS[kind]) {
      let result: AttributeWidth | null = null;
      for (let i = 0; i < spec.values.length; i++) {
        for (let j = i + 1; j < spec.values.length; j++) {
          for (let t = 0; t < trials; t++) {
            const base = rng.chance(0.3) ? monochrome(rng, randomIndividual(rng, kind)) : randomIndividual(rng, kind);
            const pose = rng.pick(POSES_BY_KIND[kind] as readonly PoseName[]);
            const mirrored = rng.chance(0.5);
            const dx = rng.range(-0.5, 0.5);
            const a = withAttribute(base, spec.name, spec.values[i]);
            const b = withAttribute(base, spec.name, spec.values[j]);
            const width = largestDifferingSquare(drawAlone(a, pose, mirrored, scale, dx), drawAlone(b, pose, mirrored, scale, dx));
            if (!result || width < result.minWidth) {
              result = { kind, attribute: spec.name, minWidth: width, worst: { a: spec.values[i], b: spec.values[j], individual: base } };
            }
          }
        }
      }
      if (result) out.push(result);
    }
  }
  return out;
}
