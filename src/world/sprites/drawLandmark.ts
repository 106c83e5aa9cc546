/** A landmark (tower, lighthouse, castle, windmill, temple). Design box 28 × 44 units. */
import type { Canvas } from '../Canvas.ts';
import type { Individual } from '../kindSchemas.ts';
import { PALETTE, contrastInk, type Rgb } from '../palette.ts';
import { drawPattern, type DesignBox } from './patterns.ts';

export const LANDMARK_WIDTH = 28;
export const LANDMARK_HEIGHT = 44;

const WINDOW: Rgb = [45, 45, 70];
const DOOR: Rgb = [70, 45, 30];
const POLE: Rgb = [90, 90, 90];
const LAMP: Rgb = [255, 235, 120];
const BLADE: Rgb = [225, 215, 190];

interface LandmarkLayout {
  /** Wall shapes (drawn in the wall colour, and in ink for stripes). */
  walls: (c: Canvas, color: Rgb) => void;
  wallBox: DesignBox;
  /** Roofs sit on these boxes: [x, bottomY, width] each. */
  roofs: ReadonlyArray<readonly [number, number, number]>;
  windows: { one: ReadonlyArray<readonly [number, number]>; three: ReadonlyArray<readonly [number, number]> };
  door: readonly [number, number, number, number];
  wallAnchor: readonly [number, number];
  /** Drawn before the roof and walls (windmill sails). */
  behind?: (c: Canvas) => void;
  extra?: (c: Canvas) => void;
}

const LAYOUTS: Record<string, LandmarkLayout> = {
  tower: {
    walls: (c, color) => c.rect(9, 18, 10, 26, color),
    wallBox: { x: 9, y: 18, w: 10, h: 26 },
    roofs: [[8, 18, 12]],
    windows: { one: [[12.5, 24]], three: [[12.5, 21], [12.5, 27], [12.5, 33]] },
    door: [11.5, 39, 5, 5],
    wallAnchor: [10.5, 19.5],
  },
  lighthouse: {
    walls: (c, color) => c.polygon([[10, 23], [18, 23], [21, 44], [7, 44]], color),
    wallBox: { x: 7, y: 23, w: 14, h: 21 },
    roofs: [[9, 17, 10]],
    windows: { one: [[12.5, 30]], three: [[12.5, 25], [12.5, 30], [12.5, 35]] },
    door: [11.5, 39, 5, 5],
    wallAnchor: [11, 24.5],
    extra: (c) => {
      c.rect(11, 17, 6, 4, LAMP);
      c.rect(8, 21, 12, 2, POLE);
    },
  },
  castle: {
    walls: (c, color) => {
      c.rect(2, 17, 7, 27, color);
      c.rect(19, 17, 7, 27, color);
      c.rect(9, 24, 10, 20, color);
      for (const x of [9, 15]) c.rect(x, 21, 4, 3, color);
    },
    wallBox: { x: 2, y: 17, w: 24, h: 27 },
    roofs: [[1, 17, 9], [18, 17, 9]],
    windows: { one: [[12.5, 28]], three: [[4, 22], [12.5, 28], [21, 22]] },
    door: [11, 37, 6, 7],
    wallAnchor: [3.5, 18.5],
  },
  windmill: {
    walls: (c, color) => c.polygon([[9, 18], [19, 18], [22, 44], [6, 44]], color),
    wallBox: { x: 6, y: 18, w: 16, h: 26 },
    roofs: [[8, 18, 12]],
    windows: { one: [[12.5, 30]], three: [[12.5, 24], [12.5, 30], [12.5, 36]] },
    door: [11.5, 39, 5, 5],
    wallAnchor: [10.5, 19.5],
    behind: (c) => {
      // Sails: a cross of two 3-unit-wide blades, behind the mill so the roof stays whole.
      c.polygon([[2, 5], [5, 2], [26, 23], [23, 26]], BLADE);
      c.polygon([[23, 2], [26, 5], [5, 26], [2, 23]], BLADE);
    },
  },
  temple: {
    walls: (c, color) => {
      c.rect(2, 18, 24, 4, color);
      for (const x of [3, 9, 16, 22]) c.rect(x, 22, 3, 18, color);
      c.rect(1, 40, 26, 4, color);
    },
    wallBox: { x: 1, y: 18, w: 26, h: 26 },
    roofs: [[1, 18, 26]],
    windows: { one: [[12.5, 26]], three: [[12.5, 23], [12.5, 29], [12.5, 35]] },
    door: [11, 34, 6, 6],
    wallAnchor: [4, 19.5],
  },
};

/** Top y of a roof of the given shape whose base is at `bottom` (flag poles start there). */
function roofTop(shape: string, bottom: number): number {
  return shape === 'flat' ? bottom - 4 : bottom - 9;
}

function drawRoof(c: Canvas, shape: string, x: number, bottom: number, w: number, color: Rgb): void {
  if (shape === 'pointed') {
    c.polygon([[x, bottom], [x + w / 2, bottom - 9], [x + w, bottom]], color);
  } else if (shape === 'dome') {
    // Wider than the walls (an onion dome), so it differs from a spire by ≥ 3 px a side.
    c.ellipse(x - 3, bottom - 9, w + 6, 18, color);
  } else {
    // Flat roof with battlements, overhanging like the dome (differs from a spire's base).
    c.rect(x - 3, bottom - 3, w + 6, 3, color);
    for (let mx = x - 3; mx + 3 <= x + w + 3; mx += 5) c.rect(mx, bottom - 4, 3, 1, color);
  }
}

export function drawLandmark(c: Canvas, ind: Individual): void {
  const a = ind.attributes;
  const layout = LAYOUTS[a.type];
  if (!layout) throw new Error(`unknown landmark type "${a.type}"`);
  const wall = PALETTE[a.wallColor as keyof typeof PALETTE];
  const roof = PALETTE[a.roofColor as keyof typeof PALETTE];

  layout.behind?.(c);
  // The dome's lower half would cover the wall top: clip roofs to above their base line.
  for (const [x, bottom, w] of layout.roofs) {
    c.pushClip(x - 3, 0, w + 6, bottom);
    drawRoof(c, a.roofShape, x, bottom, w, roof);
    c.popClip();
  }
  layout.walls(c, wall);
  drawPattern(c, a.wallPattern, contrastInk(wall), layout.wallBox, (ink) => layout.walls(c, ink), 5);
  const [dx, dy, dw, dh] = layout.door;
  c.rect(dx, dy, dw, dh, DOOR);
  for (const [wx, wy] of a.windows === 'three' ? layout.windows.three : layout.windows.one) {
    c.rect(wx, wy, 3, 4, WINDOW);
  }
  layout.extra?.(c);

  if (a.flag !== 'none') {
    const [x, bottom, w] = layout.roofs[0];
    const poleX = x + w / 2 - 0.5;
    const top = roofTop(a.roofShape, bottom);
    c.rect(poleX, top - 8, 1, 8, POLE);
    c.rect(poleX + 1, top - 8, 6, 4, PALETTE[a.flag as keyof typeof PALETTE]);
    c.anchor('flag', poleX + 3.5, top - 6.5);
  }
  const [rx, rbottom, rw] = layout.roofs[0];
  c.anchor('roofColor', rx + rw / 2, rbottom - 1.5);
  c.anchor('wallColor', layout.wallAnchor[0], layout.wallAnchor[1]);
}
