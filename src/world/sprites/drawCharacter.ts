/** A fictional character (robot, monster, alien), front view. Design box 22 × 32 units. */
import type { Canvas } from '../Canvas.ts';
import type { Individual } from '../kindSchemas.ts';
import { DARK_INK, LIGHT_INK, PALETTE, contrastInk, shade, type Rgb } from '../palette.ts';
import { drawPattern, type DesignBox } from './patterns.ts';
import type { PoseName } from './poses.ts';

export const CHARACTER_WIDTH = 22;
export const CHARACTER_HEIGHT = 34;

const ANTENNA_BALL: Rgb = [235, 60, 60];
// Dark, so that horns stand out on every body colour and against the sky (cream horns beside a
// gold crown were told apart by no tower tried, docs/pretraining.md).
const HORN: Rgb = [105, 75, 60];
const JEWEL: Rgb = [50, 90, 220];
const CROWN: Rgb = [245, 200, 40];
const BELT: Rgb = [100, 60, 30];
const KNOT: Rgb = [95, 95, 100];
const CX = CHARACTER_WIDTH / 2;

interface CharacterLayout {
  headTop: number;
  eyeRow: number;
  head: (c: Canvas, color: Rgb) => void;
  torso: (c: Canvas, color: Rgb) => void;
  torsoBox: DesignBox;
  limbs: (c: Canvas, color: Rgb, waving: boolean) => void;
  mouth: readonly [number, number, number];
  colorAnchor: readonly [number, number];
}

const LAYOUTS: Record<string, CharacterLayout> = {
  robot: {
    headTop: 8,
    eyeRow: 10,
    head: (c, color) => c.rect(5, 8, 12, 10, color),
    torso: (c, color) => c.rect(4, 18, 14, 12, color),
    torsoBox: { x: 4, y: 18, w: 14, h: 12 },
    limbs: (c, color, waving) => {
      c.rect(6, 30, 4, 4, color);
      c.rect(12, 30, 4, 4, color);
      c.rect(1, waving ? 10 : 19, 3, 8, color);
      c.rect(18, 19, 3, 8, color);
    },
    mouth: [8, 15, 6],
    colorAnchor: [6.5, 16.5],
  },
  monster: {
    headTop: 8,
    eyeRow: 11,
    head: (c, color) => c.ellipse(2, 8, 18, 23, color),
    torso: (c, color) => c.ellipse(2, 8, 18, 23, color),
    torsoBox: { x: 2, y: 18, w: 18, h: 12 },
    limbs: (c, color, waving) => {
      c.rect(5, 29, 4, 5, color);
      c.rect(13, 29, 4, 5, color);
      c.ellipse(0, waving ? 9 : 16, 4, 7, color);
      c.ellipse(18, 16, 4, 7, color);
    },
    mouth: [8, 16, 6],
    colorAnchor: [5.5, 14.5],
  },
  alien: {
    headTop: 6,
    eyeRow: 10,
    head: (c, color) => c.ellipse(3, 6, 16, 12, color),
    torso: (c, color) => c.rect(7, 18, 8, 12, color),
    torsoBox: { x: 7, y: 18, w: 8, h: 12 },
    limbs: (c, color, waving) => {
      c.rect(8, 30, 2, 4, color);
      c.rect(12, 30, 2, 4, color);
      c.rect(4, waving ? 12 : 20, 3, 7, color);
      c.rect(15, 20, 3, 7, color);
    },
    mouth: [9, 15, 4],
    colorAnchor: [6.5, 15.5],
  },
};

export function drawCharacter(c: Canvas, ind: Individual, pose: PoseName): void {
  const a = ind.attributes;
  const layout = LAYOUTS[a.type];
  if (!layout) throw new Error(`unknown character type "${a.type}"`);
  const body = PALETTE[a.color as keyof typeof PALETTE];
  const top = layout.headTop;

  // Toppers first, so that they come out from behind the head.
  if (a.topper === 'antenna') {
    c.rect(CX - 0.5, top - 3, 1, 4, DARK_INK);
    c.rect(CX - 2, top - 6, 4, 4, ANTENNA_BALL);
  } else if (a.topper === 'horns') {
    c.polygon([[CX - 8, top + 1], [CX - 7, top - 6], [CX - 2, top + 1]], HORN);
    c.polygon([[CX + 2, top + 1], [CX + 7, top - 6], [CX + 8, top + 1]], HORN);
  } else if (a.topper === 'crown') {
    c.rect(CX - 4, top - 3, 8, 4, CROWN);
    for (const x of [CX - 4, CX - 1, CX + 2]) c.polygon([[x, top - 3], [x + 1, top - 6], [x + 2, top - 3]], CROWN);
    c.rect(CX - 1, top - 2, 2, 2, JEWEL);
  }

  // Head before torso: the monster's head and torso are one ellipse and the pattern must stay.
  layout.limbs(c, shade(body, 0.75), pose === 'waving');
  layout.head(c, body);
  layout.torso(c, body);
  drawPattern(c, a.pattern, contrastInk(body), layout.torsoBox, (ink) => {
    c.pushClip(layout.torsoBox.x, layout.torsoBox.y, layout.torsoBox.w, layout.torsoBox.h);
    layout.torso(c, ink);
    c.popClip();
  }, 3);

  const eyeXs = a.eyes === 'one' ? [CX - 1.5] : a.eyes === 'two' ? [CX - 4.5, CX + 1.5] : [CX - 5.5, CX - 1.5, CX + 2.5];
  for (const x of eyeXs) {
    c.rect(x, layout.eyeRow, 3, 3, LIGHT_INK);
    c.rect(x + 1, layout.eyeRow + 1, 1, 1, DARK_INK);
  }
  const [mx, my, mw] = layout.mouth;
  c.rect(mx, my, mw, 1, DARK_INK);

  const box = layout.torsoBox;
  if (a.accessory === 'bow tie') {
    c.rect(CX - 5, box.y, 10, 3, DARK_INK);
    c.rect(CX - 1, box.y, 2, 3, KNOT);
  } else if (a.accessory === 'belt') {
    // The lowest 3 rows: the first stripe and the dots above stay in view.
    c.pushClip(box.x, box.y + box.h - 3, box.w, 3);
    layout.torso(c, BELT);
    c.popClip();
  }
  c.anchor('color', layout.colorAnchor[0], layout.colorAnchor[1]);
}
