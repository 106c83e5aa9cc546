/** A person, front view. Design box 18 units wide; 37 (short) or 42 (tall) units high. */
import type { Canvas } from '../Canvas.ts';
import type { Individual } from '../kindSchemas.ts';
import { DARK_INK, HAIR_RGB, PALETTE, SKIN_RGB, contrastInk, shade, type Rgb } from '../palette.ts';
import { drawPattern } from './patterns.ts';
import type { PoseName } from './poses.ts';

const LENS: Rgb = [205, 230, 245];
const SUNGLASS_LENS: Rgb = [20, 20, 28];
const SHOE: Rgb = [70, 45, 30];

export const PERSON_WIDTH = 18;

function proportions(ind: Individual): { torso: number; legs: number } {
  return ind.attributes.height === 'tall' ? { torso: 10, legs: 11 } : { torso: 8, legs: 8 };
}

export function personHeight(ind: Individual): number {
  const { torso, legs } = proportions(ind);
  return 21 + torso + legs;
}

export function drawPerson(c: Canvas, ind: Individual, pose: PoseName): void {
  const a = ind.attributes;
  const skin = SKIN_RGB[a.skin as keyof typeof SKIN_RGB];
  const hair = HAIR_RGB[a.hairColor as keyof typeof HAIR_RGB];
  const shirt = PALETTE[a.shirtColor as keyof typeof PALETTE];
  const bottom = PALETTE[a.bottomColor as keyof typeof PALETTE];
  const { torso, legs } = proportions(ind);
  const torsoTop = 19;
  const hips = torsoTop + torso;
  const feet = hips + legs;

  // Legs and lower garment.
  if (a.gender === 'woman') {
    c.rect(5, hips + 6, 3, legs - 6, skin);
    c.rect(10, hips + 6, 3, legs - 6, skin);
    c.rect(2, hips, 14, 1, bottom);
    c.rect(1, hips + 1, 16, 5, bottom);
  } else {
    c.rect(4, hips, 10, 2, bottom);
    c.rect(4, hips + 2, 4, legs - 2, bottom);
    c.rect(10, hips + 2, 4, legs - 2, bottom);
  }
  c.rect(4, feet, 4, 2, SHOE);
  c.rect(10, feet, 4, 2, SHOE);

  // Torso with its pattern, then arms (sleeves in the shirt colour, hands in skin).
  c.rect(4, torsoTop, 10, torso, shirt);
  drawPattern(c, a.shirtPattern, contrastInk(shirt), { x: 4, y: torsoTop, w: 10, h: torso }, (ink) =>
    c.rect(4, torsoTop, 10, torso, ink), 1);
  const raised = (side: 0 | 1): boolean => pose === 'arms up' || (pose === 'waving' && side === 0);
  for (const side of [0, 1] as const) {
    const x = side === 0 ? 0 : 15;
    if (raised(side)) {
      c.rect(x, 11, 3, torsoTop - 10, shirt);
      c.rect(x, 8, 3, 3, skin);
    } else {
      c.rect(x, torsoTop, 3, torso - 3, shirt);
      c.rect(x, torsoTop + torso - 3, 3, 3, skin);
    }
  }

  // Neck, head and face (the narrow mouth leaves 3×3 of cheek even under long hair).
  c.rect(7, 16, 4, 3, skin);
  c.rect(4, 4, 10, 12, skin);
  c.rect(6, 10, 1, 1, DARK_INK);
  c.rect(11, 10, 1, 1, DARK_INK);
  c.rect(8, 14, 2, 1, shade(skin, 0.7));

  // Hair: a cap always; long hair hangs to the shoulders; a bun sits on top.
  c.rect(4, 4, 10, 4, hair);
  if (a.hairStyle === 'long') {
    c.rect(2, 6, 3, 15, hair);
    c.rect(13, 6, 3, 15, hair);
  } else if (a.hairStyle === 'bun') {
    c.ellipse(6.5, 0, 5, 4.5, hair);
  }

  if (a.glasses !== 'none') {
    const lens = a.glasses === 'sunglasses' ? SUNGLASS_LENS : LENS;
    c.rect(4, 8, 10, 5, DARK_INK);
    c.rect(5, 9, 3, 3, lens);
    c.rect(10, 9, 3, 3, lens);
  }
  if (a.scarf !== 'none') {
    const scarf = PALETTE[a.scarf as keyof typeof PALETTE];
    c.rect(4, 16, 10, 3, scarf);
    c.anchor('scarf', 5.5, 17.5);
  }

  c.anchor('skin', 5.5, 14.5);
  c.anchor('hairColor', 5.5, 6.5);
  c.anchor('shirtColor', 1.5, torsoTop + 0.5);
  c.anchor('bottomColor', 5.5, hips + 1.5);
}
