/** Named colours of the world. Names are words a base model can say; RGB values are chosen so
 * that any two names that can meet on one attribute differ by ≥ 40 in some channel. */

export type Rgb = readonly [number, number, number];

export const PALETTE = {
  red: [205, 40, 40],
  orange: [240, 140, 30],
  yellow: [240, 210, 50],
  green: [50, 160, 70],
  blue: [45, 95, 215],
  purple: [135, 65, 185],
  pink: [245, 140, 190],
  brown: [125, 80, 40],
  black: [35, 35, 40],
  white: [242, 242, 236],
  gray: [135, 135, 140],
} as const satisfies Record<string, Rgb>;

export type ColorName = keyof typeof PALETTE;

/** Hair and skin have their own shades (a "red" hair is not a red shirt). */
export const HAIR_RGB = {
  black: [30, 25, 25],
  brown: [150, 95, 45],
  blond: [235, 205, 100],
  red: [195, 70, 30],
  gray: [175, 175, 175],
} as const satisfies Record<string, Rgb>;

export const SKIN_RGB = {
  light: [250, 215, 180],
  tan: [205, 150, 105],
  dark: [95, 60, 40],
} as const satisfies Record<string, Rgb>;

/** Eye colours of pets (on fur, so kept saturated). */
export const EYE_RGB = {
  green: [60, 200, 60],
  blue: [60, 140, 255],
  yellow: [250, 225, 40],
  brown: [90, 50, 20],
} as const satisfies Record<string, Rgb>;

export const DARK_INK: Rgb = [35, 35, 40];
export const LIGHT_INK: Rgb = [245, 245, 240];

export function luminance(c: Rgb): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

/** Largest per-channel difference: the measure behind every "visible" decision here. */
export function colorDistance(a: Rgb, b: Rgb): number {
  return Math.max(Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1]), Math.abs(a[2] - b[2]));
}

/** Black or white, whichever stands out on the given colour (pattern and print ink). */
export function contrastInk(on: Rgb): Rgb {
  return luminance(on) > 140 ? DARK_INK : LIGHT_INK;
}

export function shade(c: Rgb, factor: number): Rgb {
  return [Math.round(c[0] * factor), Math.round(c[1] * factor), Math.round(c[2] * factor)];
}
