/**
 * Scenes: a SceneSpec is a small JSON-able recipe (what stands where, background, light,
 * noise); renderScene turns it into pixels plus its ground-truth description. Specs, not pixels,
 * are what the corpus stores, so any sample can be re-rendered on demand, bit for bit.
 */
import { Canvas } from './Canvas.ts';
import { drawBackground, isIndoor, type BackgroundName } from './drawBackground.ts';
import { PROP_SIZES, drawProp, type PropName } from './drawProp.ts';
import { describeIndividual } from './describeIndividual.ts';
import type { Individual, Kind } from './kindSchemas.ts';
import { Rng } from './Rng.ts';
import { drawIndividual, spriteSize } from './sprites/drawIndividual.ts';
import type { PoseName } from './sprites/poses.ts';

/** Image side in pixels. 64 keeps every attribute ≥ 3 px at scale 1 (measureAttributeWidths). */
export const IMAGE_SIZE = 64;

export const LIGHTINGS = ['normal', 'bright', 'dim', 'warm'] as const;
export type LightingName = (typeof LIGHTINGS)[number];
const LIGHT_GAIN: Readonly<Record<LightingName, readonly [number, number, number]>> = {
  normal: [1, 1, 1],
  bright: [1.12, 1.12, 1.12],
  dim: [0.74, 0.74, 0.78],
  warm: [1.08, 1.0, 0.86],
};

export function lightingGain(lighting: LightingName): readonly [number, number, number] {
  return LIGHT_GAIN[lighting];
}

export interface EntitySpec {
  readonly individual: Individual;
  /** Left edge of the design box, in pixels. */
  readonly x: number;
  /** Bottom edge of the design box (where it stands), in pixels. */
  readonly baseline: number;
  /** Pixels per design unit (≥ 1 keeps every attribute ≥ 3 px wide). */
  readonly scale: number;
  /** Drawn facing the other way. */
  readonly mirrored: boolean;
  readonly pose: PoseName;
}

export interface PropSpec {
  readonly prop: PropName;
  readonly x: number;
  readonly baseline: number;
  readonly scale: number;
  /** In front of the individuals (it may hide part of them). */
  readonly front: boolean;
  readonly tint: number;
}

export interface SceneSpec {
  /** Drives background details and pixel noise. */
  readonly seed: number;
  readonly background: BackgroundName;
  /** Row where the floor or ground starts. */
  readonly horizon: number;
  readonly lighting: LightingName;
  /** Uniform pixel noise amplitude (0–12). */
  readonly noise: number;
  /** The whole picture is mirrored left–right after drawing. */
  readonly flipped: boolean;
  /** Drawn in this order (later ones in front). */
  readonly entities: readonly EntitySpec[];
  readonly props: readonly PropSpec[];
}

export type PositionWord = 'left' | 'center' | 'right';

/** Ground truth of one individual in a rendered scene. */
export interface EntityDescription {
  readonly kind: Kind;
  readonly attributes: Readonly<Record<string, string>>;
  readonly description: string;
  /** [x, y, width, height] in pixels of everything the individual covers, hidden parts included. */
  readonly bbox: readonly [number, number, number, number];
  readonly position: PositionWord;
  /** Facing the other way from its default drawing (after the scene flip). */
  readonly mirrored: boolean;
  readonly pose: PoseName;
  readonly scale: number;
  /** Fraction of its pixels hidden by things in front of it (0 = fully visible). */
  readonly occlusion: number;
}

export interface PropDescription {
  readonly name: PropName;
  readonly bbox: readonly [number, number, number, number];
  readonly front: boolean;
}

export interface SceneDescription {
  readonly width: number;
  readonly height: number;
  readonly background: BackgroundName;
  readonly setting: 'indoor' | 'outdoor';
  readonly lighting: LightingName;
  readonly entities: readonly EntityDescription[];
  readonly props: readonly PropDescription[];
}

export interface RenderedScene {
  readonly width: number;
  readonly height: number;
  /** Row-major RGB, 3 bytes per pixel. */
  readonly pixels: Uint8Array;
  readonly description: SceneDescription;
  /** Per entity: named pixels of attribute-coloured parts (before lighting and noise). */
  readonly anchors: ReadonlyArray<Readonly<Record<string, readonly [number, number]>>>;
  /** Per pixel: index of the entity seen there, or a negative number (background/props). */
  readonly owner: Int16Array;
}

const PROP_OWNER_BASE = -2;

export function positionWord(centerX: number, width = IMAGE_SIZE): PositionWord {
  if (centerX < width / 3) return 'left';
  if (centerX >= (2 * width) / 3) return 'right';
  return 'center';
}

/** Renders a scene spec into pixels and its ground-truth description. */
export function renderScene(spec: SceneSpec): RenderedScene {
  const size = IMAGE_SIZE;
  const c = new Canvas(size, size);
  drawBackground(c, spec.background, spec.horizon, spec.seed);

  const propBoxes = new Array<[number, number, number, number] | null>(spec.props.length).fill(null);
  const drawPropAt = (p: PropSpec, i: number): void => {
    const s = PROP_SIZES[p.prop];
    c.beginSprite(PROP_OWNER_BASE - i, p.x, p.baseline - s.height * p.scale, p.scale, s.width, false);
    drawProp(c, p.prop, p.tint);
    propBoxes[i] = c.endSprite().box;
  };
  spec.props.forEach((p, i) => {
    if (!p.front) drawPropAt(p, i);
  });

  const painted: number[] = [];
  const fullBoxes: Array<[number, number, number, number]> = [];
  const anchors: Array<Record<string, [number, number]>> = [];
  spec.entities.forEach((e, i) => {
    const { width, height } = spriteSize(e.individual);
    c.beginSprite(i, e.x, e.baseline - height * e.scale, e.scale, width, e.mirrored);
    drawIndividual(c, e.individual, e.pose);
    const result = c.endSprite();
    painted.push(result.painted);
    fullBoxes.push(result.box ?? [0, 0, 0, 0]);
    anchors.push(result.anchors);
  });
  spec.props.forEach((p, i) => {
    if (p.front) drawPropAt(p, i);
  });

  // Visible pixels per entity, after everything in front of it was drawn.
  const visible = new Array<number>(spec.entities.length).fill(0);
  for (let i = 0; i < c.owner.length; i++) if (c.owner[i] >= 0) visible[c.owner[i]]++;

  // Light and noise: one 32-bit draw gives the three channels' noise of a pixel.
  const [gr, gg, gb] = LIGHT_GAIN[spec.lighting];
  const px = c.rgb;
  const noise = Math.max(0, Math.min(12, Math.round(spec.noise)));
  const span = 2 * noise + 1;
  const rng = Rng.from(spec.seed, 'noise');
  if (noise > 0 || spec.lighting !== 'normal') {
    for (let i = 0; i < px.length; i += 3) {
      let r = px[i] * gr;
      let g = px[i + 1] * gg;
      let b = px[i + 2] * gb;
      if (noise > 0) {
        const bits = rng.nextUint32();
        r += (bits & 0xff) % span - noise;
        g += ((bits >>> 8) & 0xff) % span - noise;
        b += ((bits >>> 16) & 0xff) % span - noise;
      }
      px[i] = r < 0 ? 0 : r > 255 ? 255 : Math.round(r);
      px[i + 1] = g < 0 ? 0 : g > 255 ? 255 : Math.round(g);
      px[i + 2] = b < 0 ? 0 : b > 255 ? 255 : Math.round(b);
    }
  }

  const flipBox = (b: readonly [number, number, number, number]): [number, number, number, number] =>
    spec.flipped ? [size - b[0] - b[2], b[1], b[2], b[3]] : [b[0], b[1], b[2], b[3]];
  if (spec.flipped) {
    flipRows(px, c.owner, size);
    for (const a of anchors) for (const k of Object.keys(a)) a[k] = [size - 1 - a[k][0], a[k][1]];
  }

  const entities: EntityDescription[] = spec.entities.map((e, i) => {
    const bbox = flipBox(fullBoxes[i]);
    return {
      kind: e.individual.kind,
      attributes: e.individual.attributes,
      description: describeIndividual(e.individual),
      bbox,
      position: positionWord(bbox[0] + bbox[2] / 2, size),
      mirrored: e.mirrored !== spec.flipped,
      pose: e.pose,
      scale: e.scale,
      occlusion: painted[i] > 0 ? 1 - visible[i] / painted[i] : 1,
    };
  });
  const props: PropDescription[] = [];
  spec.props.forEach((p, i) => {
    const box = propBoxes[i];
    if (box) props.push({ name: p.prop, bbox: flipBox(box), front: p.front });
  });
  return {
    width: size,
    height: size,
    pixels: px,
    owner: c.owner,
    anchors,
    description: {
      width: size,
      height: size,
      background: spec.background,
      setting: isIndoor(spec.background) ? 'indoor' : 'outdoor',
      lighting: spec.lighting,
      entities,
      props,
    },
  };
}

function flipRows(px: Uint8Array, owner: Int16Array, size: number): void {
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size / 2; x++) {
      const a = y * size + x;
      const b = y * size + (size - 1 - x);
      const o = owner[a];
      owner[a] = owner[b];
      owner[b] = o;
      for (let ch = 0; ch < 3; ch++) {
        const t = px[a * 3 + ch];
        px[a * 3 + ch] = px[b * 3 + ch];
        px[b * 3 + ch] = t;
      }
    }
  }
}

/** The same scene mirrored left–right (used for flip augmentation and its tests). */
export function mirrorScene(spec: SceneSpec): SceneSpec {
  return { ...spec, flipped: !spec.flipped };
}
