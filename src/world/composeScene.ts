/** Lays out individuals in a random scene: background, scale, place, pose, light, props. */
import {
  HORIZON_RANGE,
  INDOOR_BACKGROUNDS,
  OUTDOOR_BACKGROUNDS,
  type BackgroundName,
} from './drawBackground.ts';
import {
  INDOOR_OCCLUDERS,
  INDOOR_PROPS,
  OUTDOOR_OCCLUDERS,
  OUTDOOR_PROPS,
  PROP_SIZES,
  type PropName,
} from './drawProp.ts';
import type { Individual, Kind } from './kindSchemas.ts';
import {
  IMAGE_SIZE,
  LIGHTINGS,
  renderScene,
  type EntitySpec,
  type LightingName,
  type PropSpec,
  type SceneSpec,
} from './renderScene.ts';
import type { Rng } from './Rng.ts';
import { spriteSize } from './sprites/drawIndividual.ts';
import { POSES_BY_KIND, type PoseName } from './sprites/poses.ts';

/** Smallest scale (pixels per design unit): every attribute is ≥ 3 px wide from here up. */
export const MIN_SCALE = 1;

/** Largest scale of a lone individual of each kind (it still fits the frame). */
export const MAX_SCALE: Readonly<Record<Kind, number>> = {
  person: 1.5,
  pet: 1.7,
  landmark: 1.35,
  object: 2.0,
  character: 1.75,
};

export interface ComposeOptions {
  /** Force indoor or outdoor (a landmark always makes the scene outdoor). */
  setting?: 'indoor' | 'outdoor';
  background?: BackgroundName;
  /** Chance that a prop stands in front of one individual and hides part of it. Default 0.2. */
  occlusionChance?: number;
  /** Index (into `individuals`) of the individual that must be partly hidden. */
  occlude?: number;
  /** Accepted hidden fraction for an occluded individual. Default [0.1, 0.45]. */
  occlusionRange?: readonly [number, number];
  /** Most background props. Default 2. */
  maxProps?: number;
  /** Largest pixel-noise amplitude. Default 8. */
  maxNoise?: number;
  lighting?: LightingName;
  /** Chance to mirror the whole picture. Default 0 (individuals are mirrored one by one). */
  flipChance?: number;
  /** Scale range for every individual, overriding the kind defaults (clamped to fit). */
  scaleRange?: readonly [number, number];
}

const LIGHTING_WEIGHTS = [0.5, 0.2, 0.15, 0.15];

/**
 * A random scene containing exactly the given individuals (1–3 fit well), in draw order from
 * back to front. Landmarks stand far back; nearer individuals may overlap farther ones.
 */
export function composeScene(rng: Rng, individuals: readonly Individual[], options: ComposeOptions = {}): SceneSpec {
  if (individuals.length === 0) throw new Error('composeScene: needs at least one individual');
  const hasLandmark = individuals.some((i) => i.kind === 'landmark');
  const setting = hasLandmark ? 'outdoor' : (options.setting ?? (rng.chance(0.5) ? 'indoor' : 'outdoor'));
  const background =
    options.background && (hasLandmark ? OUTDOOR_BACKGROUNDS.includes(options.background) : true)
      ? options.background
      : rng.pick(setting === 'indoor' ? INDOOR_BACKGROUNDS : OUTDOOR_BACKGROUNDS);
  const [h0, h1] = HORIZON_RANGE[background];
  const horizon = h0 + rng.int(h1 - h0 + 1);
  const size = IMAGE_SIZE;
  const n = individuals.length;

  // Scales: lone subjects fill more of the frame; groups are drawn smaller.
  const crowd = n === 1 ? 1 : n === 2 ? 0.4 : 0.15;
  const boxes = individuals.map((ind) => {
    const { width, height } = spriteSize(ind);
    const fit = Math.min((size - 1) / height, size / width);
    let lo = MIN_SCALE;
    let hi = Math.min(MAX_SCALE[ind.kind], fit);
    if (options.scaleRange) {
      lo = Math.max(MIN_SCALE, Math.min(options.scaleRange[0], fit));
      hi = Math.max(lo, Math.min(options.scaleRange[1], fit));
    }
    const scale = lo + rng.next() * (hi - lo) * (options.scaleRange ? 1 : crowd);
    return { ind, width, height, scale, w: width * scale, h: height * scale };
  });

  // Horizontal layout: free space shared out at random; overlap evenly when they do not fit.
  const order = rng.shuffled(boxes.map((_, i) => i));
  const total = boxes.reduce((s, b) => s + b.w, 0);
  const xs = new Array<number>(n);
  if (total <= size) {
    const gaps = Array.from({ length: n + 1 }, () => rng.next() + 0.05);
    const gapSum = gaps.reduce((s, g) => s + g, 0);
    let x = 0;
    order.forEach((bi, k) => {
      x += (gaps[k] / gapSum) * (size - total);
      xs[bi] = x;
      x += boxes[bi].w;
    });
  } else {
    const step = n > 1 ? (size - boxes[order[n - 1]].w) / (n - 1) : 0;
    order.forEach((bi, k) => {
      xs[bi] = Math.max(0, Math.min(size - boxes[bi].w, k * step + rng.range(-2, 2)));
    });
  }

  const entities: Array<EntitySpec & { source: number }> = boxes.map((b, i) => {
    const far = b.ind.kind === 'landmark';
    const lo = Math.max(Math.ceil(b.h), horizon + (far ? 1 : 4));
    const hi = far ? Math.max(lo, Math.min(size, horizon + 12)) : size;
    const baseline = Math.min(size, lo + rng.int(Math.max(1, hi - lo + 1)));
    const poses = POSES_BY_KIND[b.ind.kind] as readonly PoseName[];
    return {
      source: i,
      individual: b.ind,
      x: round2(xs[i]),
      baseline,
      scale: round2(b.scale),
      mirrored: rng.chance(0.5),
      pose: rng.chance(0.6) ? poses[0] : rng.pick(poses),
    };
  });
  // Farther (higher baseline row = nearer) individuals are drawn first.
  entities.sort((a, b) => a.baseline - b.baseline || a.source - b.source);

  const indoor = setting === 'indoor';
  const props: PropSpec[] = [];
  const propCount = rng.int((options.maxProps ?? 2) + 1);
  for (let i = 0; i < propCount; i++) {
    const prop = rng.pick(indoor ? INDOOR_PROPS : OUTDOOR_PROPS);
    const scale = round2(rng.range(0.7, 1.2));
    props.push({
      prop,
      x: round2(rng.range(-4, size - PROP_SIZES[prop].width * scale + 4)),
      baseline: Math.min(size, horizon + 1 + rng.int(Math.max(1, size - horizon))),
      scale,
      front: false,
      tint: rng.int(12),
    });
  }

  const base: SceneSpec = {
    seed: rng.nextUint32(),
    background,
    horizon,
    lighting: options.lighting ?? LIGHTINGS[rng.weightedIndex(LIGHTING_WEIGHTS)],
    noise: rng.int((options.maxNoise ?? 8) + 1),
    flipped: rng.chance(options.flipChance ?? 0),
    entities: entities.map(({ source: _source, ...e }) => e),
    props,
  };

  const target =
    options.occlude !== undefined
      ? entities.findIndex((e) => e.source === options.occlude)
      : rng.chance(options.occlusionChance ?? 0.2)
        ? rng.int(n)
        : -1;
  if (target < 0) return base;
  return addOccluder(rng, base, target, indoor ? INDOOR_OCCLUDERS : OUTDOOR_OCCLUDERS, options.occlusionRange ?? [0.1, 0.45]);
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Puts a prop in front of entity `target`, retrying until the hidden fraction is in range. */
function addOccluder(
  rng: Rng,
  spec: SceneSpec,
  target: number,
  occluders: readonly PropName[],
  range: readonly [number, number],
): SceneSpec {
  const e = spec.entities[target];
  const { width, height } = spriteSize(e.individual);
  const w = width * e.scale;
  const h = height * e.scale;
  let best: { spec: SceneSpec; miss: number } | null = null;
  for (let attempt = 0; attempt < 8; attempt++) {
    const prop = rng.pick(occluders);
    const ps = PROP_SIZES[prop];
    const coverage = rng.range(0.3, 0.6);
    const scale = round2(Math.max(0.6, Math.min(2.5, (h * coverage) / ps.height)));
    const x = round2(e.x + w * rng.range(0.2, 0.8) - (ps.width * scale) / 2);
    const occluder: PropSpec = {
      prop,
      x,
      baseline: Math.min(IMAGE_SIZE + 2, e.baseline + rng.int(3)),
      scale,
      front: true,
      tint: rng.int(12),
    };
    const candidate: SceneSpec = { ...spec, props: [...spec.props, occluder] };
    const hidden = renderScene(candidate).description.entities[target].occlusion;
    const miss = hidden < range[0] ? range[0] - hidden : hidden > range[1] ? hidden - range[1] : 0;
    if (miss === 0) return candidate;
    if (!best || miss < best.miss) best = { spec: candidate, miss };
  }
  return best!.spec;
}
