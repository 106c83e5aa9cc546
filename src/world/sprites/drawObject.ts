/** An object (mug, backpack, bottle, teddy bear, sneaker, umbrella). Design box 24 × 28 units. */
import type { Canvas } from '../Canvas.ts';
import type { Individual } from '../kindSchemas.ts';
import { DARK_INK, PALETTE, colorDistance, contrastInk, type Rgb } from '../palette.ts';
import { drawGlyph, drawPattern, type DesignBox } from './patterns.ts';

export const OBJECT_WIDTH = 24;
export const OBJECT_HEIGHT = 28;

export const SYMBOL_GLYPHS: Readonly<Record<string, readonly string[]>> = {
  heart: ['.XX.XX.', 'XXXXXXX', 'XXXXXXX', 'XXXXXXX', '.XXXXX.', '..XXX..', '...X...'],
  star: ['...X...', '..XXX..', 'XXXXXXX', '.XXXXX.', '.XXXXX.', '.XX.XX.', 'X.....X'],
  circle: ['..XXX..', '.XXXXX.', 'XXXXXXX', 'XXXXXXX', 'XXXXXXX', '.XXXXX.', '..XXX..'],
};

const SYMBOL_PREFERENCES: ReadonlyArray<readonly [string, readonly (keyof typeof PALETTE)[]]> = [
  ['heart', ['red', 'white', 'black', 'yellow', 'blue']],
  ['star', ['yellow', 'black', 'white', 'blue', 'red']],
  ['circle', ['white', 'black', 'blue', 'red', 'yellow']],
];

/**
 * The print colour of each symbol on a body of the given colour: its preferred colour unless
 * that would vanish on the body or the pattern ink, and never the colour of another symbol, so
 * that every pair of symbols differs over a whole glyph.
 */
export function symbolColors(body: Rgb): Record<string, Rgb> {
  const ink = contrastInk(body);
  const taken: Rgb[] = [];
  const out: Record<string, Rgb> = {};
  for (const [symbol, preferences] of SYMBOL_PREFERENCES) {
    const pick = preferences
      .map((name) => PALETTE[name] as Rgb)
      .find((rgb) => colorDistance(rgb, body) >= 90 && colorDistance(rgb, ink) >= 60 && taken.every((t) => colorDistance(rgb, t) >= 90))
      ?? (preferences.map((name) => PALETTE[name] as Rgb).find((rgb) => colorDistance(rgb, body) >= 90 && taken.every((t) => colorDistance(rgb, t) >= 90)) as Rgb);
    taken.push(pick);
    out[symbol] = pick;
  }
  return out;
}

interface ObjectParts {
  /** The main body shapes (redrawn in ink for patterns). */
  body: (color: Rgb) => void;
  patternBox: DesignBox;
  patternOffset: number;
  accent: (color: Rgb) => void;
  /** Other fixed details drawn after the accent. */
  details?: () => void;
  symbolAt: readonly [number, number];
  colorAnchor: readonly [number, number];
  accentAnchor: readonly [number, number];
}

/**
 * Width × height (design units) of each object type's body by shape. A scene's scale varies 2×,
 * so a shape must show in the body's proportions, not its size: every pair of shapes of a type
 * differs in aspect ratio by ≥ 1.4× (a tall bottle 4 units taller than a short one was seen by no
 * vision tower tried, measured in docs/pretraining.md).
 */
export const OBJECT_SIZES: Readonly<Record<string, Readonly<Record<'short' | 'tall' | 'wide', readonly [number, number]>>>> = {
  mug: { short: [12, 13], tall: [8, 19], wide: [18, 10] },
  backpack: { short: [14, 18], tall: [12, 25], wide: [20, 14] },
  bottle: { short: [10, 20], tall: [8, 26], wide: [16, 16] },
  'teddy bear': { short: [14, 24], tall: [10, 28], wide: [20, 24] },
  sneaker: { short: [18, 12], tall: [14, 18], wide: [24, 10] },
  umbrella: { short: [18, 20], tall: [12, 26], wide: [24, 17] },
};

function objectParts(c: Canvas, type: string, shape: string): ObjectParts {
  const sizes = OBJECT_SIZES[type];
  if (!sizes) throw new Error(`unknown object type "${type}"`);
  if (shape !== 'short' && shape !== 'tall' && shape !== 'wide') throw new Error(`unknown object shape "${shape}"`);
  const size = (): [number, number] => [...sizes[shape]];
  const bottom = OBJECT_HEIGHT;
  switch (type) {
    case 'mug': {
      const [w, h] = size();
      // Left-aligned: its silhouette then differs from a sneaker's even in one colour.
      const x0 = 2;
      const x1 = x0 + w;
      const top = bottom - h;
      return {
        body: (color) => c.rect(x0, top + 3, w, h - 3, color),
        patternBox: { x: x0, y: top + 3, w, h: h - 3 },
        patternOffset: 1,
        accent: (color) => {
          c.rect(x0, top, w, 3, color);
          c.rect(x1, top + 3, 4, 2, color);
          c.rect(x1 + 2, top + 3, 2, 6, color);
          c.rect(x1, top + 7, 4, 2, color);
        },
        // Towards the handle: the first column of dots stays in view.
        symbolAt: [x0 + w - 8, top + 3 + (h - 3 - 7) / 2],
        colorAnchor: [x0 + 1.5, top + 3.5],
        accentAnchor: [x0 + 1.5, top + 1.5],
      };
    }
    case 'backpack': {
      const [w, h] = size();
      const x0 = (OBJECT_WIDTH - w) / 2;
      const top = bottom - h;
      return {
        body: (color) => {
          c.ellipse(x0, top, w, 6, color);
          c.rect(x0, top + 3, w, h - 3, color);
        },
        patternBox: { x: x0, y: top, w, h },
        patternOffset: 5,
        accent: (color) => c.rect(x0 + 3, bottom - 6, w - 6, 5, color),
        details: () => c.rect(x0 + w / 2 - 2, top - 2, 4, 2, DARK_INK),
        // Symbol high and pocket low leave a whole row of dots between them.
        symbolAt: [x0 + w / 2 - 3.5, top + 1],
        colorAnchor: [x0 + 1.5, top + 3.5],
        accentAnchor: [x0 + 4.5, bottom - 3.5],
      };
    }
    case 'bottle': {
      const [w, h] = size();
      const x0 = (OBJECT_WIDTH - w) / 2;
      const cx = OBJECT_WIDTH / 2;
      const top = bottom - h;
      return {
        body: (color) => {
          c.rect(cx - 2, top + 3, 4, 2, color);
          c.rect(x0, top + 5, w, h - 5, color);
        },
        patternBox: { x: x0, y: top + 5, w, h: h - 5 },
        patternOffset: 1,
        accent: (color) => c.rect(cx - 2, top, 4, 3, color),
        // Low on the body, so that the first stripe and dots above it stay in view.
        symbolAt: [cx - 3.5, bottom - 8],
        colorAnchor: [x0 + 1.5, top + 5.5],
        accentAnchor: [cx, top + 1.5],
      };
    }
    case 'teddy bear': {
      const [w, h] = size();
      const cx = OBJECT_WIDTH / 2;
      const top = bottom - h;
      const bodyTop = top + 11;
      return {
        body: (color) => {
          c.ellipse(cx - 7, top, 5, 5, color);
          c.ellipse(cx + 2, top, 5, 5, color);
          c.ellipse(cx - 6, top + 2, 12, 10, color);
          c.ellipse(cx - w / 2 - 2, bodyTop + 2, 5, 6, color);
          c.ellipse(cx + w / 2 - 3, bodyTop + 2, 5, 6, color);
          c.ellipse(cx - w / 2, bodyTop, w, bottom - bodyTop - 1, color);
        },
        patternBox: { x: cx - w / 2, y: bodyTop, w, h: bottom - bodyTop },
        patternOffset: 0,
        accent: (color) => {
          c.ellipse(cx - 3, top + 7, 6, 4, color);
          c.rect(cx - 6, bottom - 3, 4, 3, color);
          c.rect(cx + 2, bottom - 3, 4, 3, color);
        },
        details: () => {
          c.rect(cx - 3, top + 5, 1, 1, DARK_INK);
          c.rect(cx + 2, top + 5, 1, 1, DARK_INK);
          c.rect(cx - 1, top + 7, 2, 1, DARK_INK);
        },
        symbolAt: [cx + w / 2 - 8.5, bodyTop + 1.5],
        colorAnchor: [cx - 4.5, top + 4.5],
        accentAnchor: [cx - 4, bottom - 1.5],
      };
    }
    case 'sneaker': {
      const [w, h] = size();
      const x0 = (OBJECT_WIDTH - w) / 2;
      const x1 = x0 + w;
      const top = bottom - h;
      return {
        body: (color) => {
          c.rect(x0, top, 9, h - 3, color);
          c.rect(x0 + 9, bottom - 9, w - 12, 6, color);
          c.ellipse(x1 - 6, bottom - 9, 6, 9, color);
        },
        patternBox: { x: x0, y: top, w, h: h - 3 },
        // A stripe at bottom − 9 and dots under it both land on the toe, away from the symbol.
        patternOffset: (h - 9) % 6,
        accent: (color) => c.rect(x0, bottom - 3, w, 3, color),
        details: () => {
          for (let lx = x0 + 10; lx + 1 <= x1 - 4; lx += 2) c.rect(lx, bottom - 9, 1, 1, DARK_INK);
        },
        symbolAt: [x0 + 1, top + 1],
        colorAnchor: [x0 + 0.5, top + 0.5],
        accentAnchor: [x0 + 3, bottom - 1.5],
      };
    }
    case 'umbrella': {
      const [w, h] = size();
      const cx = OBJECT_WIDTH / 2;
      const top = bottom - h;
      const canopy = 9;
      return {
        body: (color) => {
          c.pushClip(cx - w / 2, top, w, canopy);
          c.ellipse(cx - w / 2, top, w, canopy * 2, color);
          c.popClip();
        },
        patternBox: { x: cx - w / 2, y: top, w, h: canopy },
        // Dots low on the canopy, where it is wide enough to hold them beside the symbol.
        patternOffset: 3,
        accent: (color) => {
          c.rect(cx - 1.5, bottom - 6, 3, 6, color);
          c.rect(cx - 4.5, bottom - 3, 3, 3, color);
        },
        details: () => c.rect(cx - 0.5, top + canopy, 1, h - canopy - 6, DARK_INK),
        symbolAt: [cx - 3.5, top + 1.5],
        colorAnchor: [cx - w / 2 + 4.5, top + canopy - 1.5],
        accentAnchor: [cx, bottom - 4.5],
      };
    }
    default:
      throw new Error(`unknown object type "${type}"`);
  }
}

export function drawObject(c: Canvas, ind: Individual): void {
  const a = ind.attributes;
  const color = PALETTE[a.color as keyof typeof PALETTE];
  const accent = PALETTE[a.accentColor as keyof typeof PALETTE];
  const parts = objectParts(c, a.type, a.shape);
  parts.body(color);
  drawPattern(c, a.pattern, contrastInk(color), parts.patternBox, parts.body, parts.patternOffset);
  parts.accent(accent);
  parts.details?.();
  if (a.symbol !== 'none') {
    drawGlyph(c, SYMBOL_GLYPHS[a.symbol], parts.symbolAt[0], parts.symbolAt[1], symbolColors(color)[a.symbol]);
  }
  c.anchor('color', parts.colorAnchor[0], parts.colorAnchor[1]);
  c.anchor('accentColor', parts.accentAnchor[0], parts.accentAnchor[1]);
}
