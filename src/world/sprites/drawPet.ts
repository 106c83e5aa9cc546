/** A pet (cat, dog or rabbit), side view facing right. Design box 30 × 26 units. */
import type { Canvas } from '../Canvas.ts';
import type { Individual } from '../kindSchemas.ts';
import { DARK_INK, EYE_RGB, LIGHT_INK, PALETTE, shade, type Rgb } from '../palette.ts';
import type { PoseName } from './poses.ts';

export const PET_WIDTH = 30;
export const PET_HEIGHT = 26;

const NOSE: Rgb = [40, 25, 25];

/** Stripes and spots: a darker shade of the fur (a lighter one on black fur). */
export function petPatternInk(fur: Rgb): Rgb {
  return fur[0] + fur[1] + fur[2] < 200 ? [150, 150, 150] : shade(fur, 0.45);
}

/** The chest patch and tail tip: white, or black on white fur. */
export function petMarkInk(furColor: string): Rgb {
  return furColor === 'white' ? DARK_INK : LIGHT_INK;
}

export function drawPet(c: Canvas, ind: Individual, pose: PoseName): void {
  const a = ind.attributes;
  const fur = PALETTE[a.furColor as keyof typeof PALETTE];
  const ink = petPatternInk(fur);
  const markInk = petMarkInk(a.furColor);
  const bodyTop = a.build === 'chubby' ? 10 : 13;
  const body = (color: Rgb): void => c.ellipse(5, bodyTop, 19, 21 - bodyTop, color);
  const species = a.species;

  // Tail (behind the body).
  const tail = (color: Rgb, tipOnly: boolean): void => {
    if (species === 'cat') {
      if (!tipOnly) c.rect(2, 12, 6, 3, color);
      c.rect(1, 5, 3, tipOnly ? 3 : 10, color);
    } else if (species === 'dog') {
      if (!tipOnly) c.rect(3, 12, 5, 3, color);
      c.rect(2, 8, 3, tipOnly ? 3 : 7, color);
    } else {
      c.ellipse(1, 11, 6, 6, color);
    }
  };
  tail(fur, false);
  if (a.mark === 'tail tip') tail(markInk, true);

  // Legs; sitting pets fold the hind legs under a haunch.
  const legColor = shade(fur, 0.85);
  if (pose === 'sitting') {
    c.ellipse(4, 12, 10, 10, fur);
    c.rect(6, 20, 6, 3, legColor);
  } else {
    c.rect(7, 19, 3, 7, legColor);
  }
  c.rect(19, 19, 3, 7, legColor);

  body(fur);
  if (a.pattern === 'striped') {
    for (const x of [7, 12]) {
      c.pushClip(x, 0, 3, 26);
      body(ink);
      c.popClip();
    }
  } else if (a.pattern === 'spotted') {
    for (const [x, y] of [[9, bodyTop + 1], [5, 16]] as const) {
      c.pushClip(x, y, 3, 3);
      body(ink);
      c.popClip();
    }
  }
  if (a.mark === 'chest patch') {
    c.rect(19, 14, 4, 4, markInk);
    c.anchor('mark', 20.5, 15.5);
  }

  // Head, ears, snout, eye.
  c.ellipse(19, 5, 10, 10, fur);
  const earColor = shade(fur, 0.75);
  if (species === 'cat') {
    c.polygon([[19.5, 7], [21, 1], [24, 6]], fur);
    c.polygon([[24, 6], [27, 1], [28.5, 7]], fur);
  } else if (species === 'rabbit') {
    c.rect(21, 0, 3, 7, fur);
    c.rect(25, 0, 3, 7, fur);
  } else {
    c.rect(27, 9, 3, 4, fur);
    c.rect(29, 9, 1, 2, NOSE);
    c.rect(19, 6, 3, 7, earColor);
  }
  c.rect(24, 8, 3, 3, EYE_RGB[a.eyeColor as keyof typeof EYE_RGB]);

  if (a.collar !== 'none') {
    c.rect(16, 12, 3, 8, PALETTE[a.collar as keyof typeof PALETTE]);
    c.anchor('collar', 17.5, 16.5);
  }
  c.anchor('furColor', 23.5, 12.5);
  c.anchor('eyeColor', 25.5, 9.5);
}
