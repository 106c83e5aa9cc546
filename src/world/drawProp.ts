/** Props: other things in a scene that are not individuals (plants, boxes, trees, fences…). */
import type { Canvas } from './Canvas.ts';
import type { Rgb } from './palette.ts';

export const PROPS = ['plant', 'lamp', 'box', 'ball', 'tree', 'bush', 'rock', 'bench', 'fence'] as const;
export type PropName = (typeof PROPS)[number];
export const INDOOR_PROPS: readonly PropName[] = ['plant', 'lamp', 'box', 'ball'];
export const OUTDOOR_PROPS: readonly PropName[] = ['tree', 'bush', 'rock', 'bench', 'ball'];
/** Props that may stand in front of an individual and hide part of it. */
export const INDOOR_OCCLUDERS: readonly PropName[] = ['box', 'plant'];
export const OUTDOOR_OCCLUDERS: readonly PropName[] = ['bush', 'rock', 'fence'];

export const PROP_SIZES: Readonly<Record<PropName, { width: number; height: number }>> = {
  plant: { width: 12, height: 16 },
  lamp: { width: 8, height: 26 },
  box: { width: 14, height: 11 },
  ball: { width: 7, height: 7 },
  tree: { width: 18, height: 30 },
  bush: { width: 18, height: 10 },
  rock: { width: 13, height: 8 },
  bench: { width: 20, height: 9 },
  fence: { width: 26, height: 11 },
};

const LEAF: Rgb = [60, 130, 60];
const POT: Rgb = [175, 90, 60];
const CARDBOARD: Rgb = [190, 150, 100];
const TRUNK: Rgb = [110, 75, 45];
const STONE: Rgb = [150, 148, 140];
const WOOD: Rgb = [165, 120, 75];
const LAMP_SHADE: Rgb = [245, 225, 170];
const LAMP_POLE: Rgb = [70, 70, 75];

/** Draws a prop in its design units (the caller sets the sprite transform). */
export function drawProp(c: Canvas, prop: PropName, tint: number): void {
  switch (prop) {
    case 'plant':
      c.rect(3, 10, 6, 6, POT);
      c.ellipse(0, 0, 12, 11, LEAF);
      break;
    case 'lamp':
      c.rect(3.5, 6, 1, 18, LAMP_POLE);
      c.rect(1, 24, 6, 2, LAMP_POLE);
      c.polygon([[1, 6], [2.5, 0], [5.5, 0], [7, 6]], LAMP_SHADE);
      break;
    case 'box':
      c.rect(0, 0, 14, 11, CARDBOARD);
      c.rect(6, 0, 2, 11, [160, 125, 85]);
      break;
    case 'ball': {
      const colors: readonly Rgb[] = [[230, 80, 80], [80, 130, 230], [240, 200, 60], [240, 240, 240]];
      c.ellipse(0, 0, 7, 7, colors[tint % colors.length]);
      break;
    }
    case 'tree':
      c.rect(7, 16, 4, 14, TRUNK);
      c.ellipse(0, 0, 18, 19, [50 + (tint % 3) * 15, 120 + (tint % 4) * 10, 50]);
      break;
    case 'bush':
      c.pushClip(0, 0, 18, 10);
      c.ellipse(0, 0, 18, 20, [55, 125 + (tint % 3) * 12, 55]);
      c.popClip();
      break;
    case 'rock':
      c.pushClip(0, 0, 13, 8);
      c.ellipse(0, 0, 13, 16, STONE);
      c.popClip();
      break;
    case 'bench':
      c.rect(0, 0, 20, 3, WOOD);
      c.rect(0, 4, 20, 2, WOOD);
      c.rect(2, 6, 2, 3, LAMP_POLE);
      c.rect(16, 6, 2, 3, LAMP_POLE);
      break;
    case 'fence':
      c.rect(0, 3, 26, 2, [235, 235, 230]);
      for (let x = 0; x + 3 <= 26; x += 5) c.rect(x, 0, 3, 11, [240, 240, 235]);
      break;
  }
}
