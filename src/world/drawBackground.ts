/** Backgrounds: two indoor and three outdoor settings, each with random colours and details. */
import type { Canvas } from './Canvas.ts';
import type { Rgb } from './palette.ts';
import { Rng } from './Rng.ts';

export const BACKGROUNDS = ['room', 'kitchen', 'park', 'beach', 'street'] as const;
export type BackgroundName = (typeof BACKGROUNDS)[number];
export const INDOOR_BACKGROUNDS: readonly BackgroundName[] = ['room', 'kitchen'];
export const OUTDOOR_BACKGROUNDS: readonly BackgroundName[] = ['park', 'beach', 'street'];

export function isIndoor(background: BackgroundName): boolean {
  return INDOOR_BACKGROUNDS.includes(background);
}

/** Range of the horizon row (where the floor or ground starts) for each background. */
export const HORIZON_RANGE: Readonly<Record<BackgroundName, readonly [number, number]>> = {
  room: [34, 46],
  kitchen: [34, 46],
  park: [30, 44],
  beach: [32, 44],
  street: [36, 46],
};

const WALLS: readonly Rgb[] = [[226, 214, 192], [198, 214, 230], [212, 228, 202], [234, 212, 210], [222, 222, 214]];
const WOOD: readonly Rgb[] = [[158, 112, 70], [138, 98, 60], [176, 136, 92]];
const SKIES: readonly Rgb[] = [[150, 200, 240], [170, 210, 235], [200, 220, 240], [235, 190, 160]];
const GRASS: readonly Rgb[] = [[96, 168, 78], [120, 176, 70], [84, 150, 84]];
const SAND: Rgb = [230, 212, 156];
const SEA: Rgb = [62, 132, 198];
const ROAD: Rgb = [112, 112, 118];
const SIDEWALK: Rgb = [170, 168, 160];
const BUILDINGS: readonly Rgb[] = [[150, 110, 90], [170, 160, 150], [120, 125, 140], [190, 170, 130]];
const WINDOW_GLASS: Rgb = [170, 205, 230];
const FRAME: Rgb = [110, 80, 55];

function vary(rng: Rng, c: Rgb, amount: number): Rgb {
  const d = () => Math.round(rng.range(-amount, amount));
  const clamp = (v: number) => Math.max(0, Math.min(255, v));
  return [clamp(c[0] + d()), clamp(c[1] + d()), clamp(c[2] + d())];
}

/** Fills the whole canvas with the background; details depend only on `seed`. */
export function drawBackground(c: Canvas, background: BackgroundName, horizon: number, seed: number): void {
  const rng = new Rng(seed);
  const W = c.width;
  const H = c.height;
  switch (background) {
    case 'room': {
      c.fillPixels(0, 0, W, horizon, vary(rng, rng.pick(WALLS), 8));
      const wood = vary(rng, rng.pick(WOOD), 8);
      c.fillPixels(0, horizon, W, H, wood);
      for (let y = horizon + 3; y < H; y += 5) c.fillPixels(0, y, W, y + 1, [wood[0] - 25, wood[1] - 20, wood[2] - 15]);
      if (rng.chance(0.6)) {
        // A window or a picture on the wall.
        const w = 10 + rng.int(8);
        const h = 8 + rng.int(6);
        const x = rng.int(W - w);
        const y = 3 + rng.int(Math.max(1, horizon - h - 8));
        c.fillPixels(x, y, x + w, y + h, FRAME);
        c.fillPixels(x + 1, y + 1, x + w - 1, y + h - 1, rng.chance(0.5) ? WINDOW_GLASS : vary(rng, [200, 170, 120], 40));
      }
      break;
    }
    case 'kitchen': {
      const tile = vary(rng, [232, 232, 226], 6);
      const grout = [tile[0] - 40, tile[1] - 40, tile[2] - 40] as const;
      c.fillPixels(0, 0, W, horizon, tile);
      for (let y = 5; y < horizon; y += 6) c.fillPixels(0, y, W, y + 1, grout);
      for (let x = 5; x < W; x += 6) c.fillPixels(x, 0, x + 1, horizon, grout);
      const counter = vary(rng, [120, 90, 70], 15);
      c.fillPixels(0, horizon - 6, W, horizon, counter);
      const a = vary(rng, [190, 190, 195], 10);
      const b = vary(rng, [120, 120, 130], 10);
      for (let y = horizon; y < H; y += 4) {
        for (let x = 0; x < W; x += 4) c.fillPixels(x, y, x + 4, y + 4, ((x + y) / 4) % 2 === 0 ? a : b);
      }
      break;
    }
    case 'park':
    case 'beach':
    case 'street': {
      const sky = vary(rng, rng.pick(SKIES), 6);
      for (let y = 0; y < horizon; y++) {
        const t = y / Math.max(1, horizon);
        c.fillPixels(0, y, W, y + 1, [sky[0] + 20 * t, sky[1] + 15 * t, sky[2] + 5 * t].map(Math.round) as unknown as Rgb);
      }
      if (rng.chance(0.6)) {
        const cx = rng.int(W);
        const cy = 3 + rng.int(Math.max(1, horizon - 14));
        const cloud: Rgb = [245, 245, 248];
        c.fillPixels(cx - 6, cy + 2, cx + 7, cy + 5, cloud);
        c.fillPixels(cx - 3, cy, cx + 4, cy + 3, cloud);
      }
      if (background === 'park') {
        const grass = vary(rng, rng.pick(GRASS), 8);
        c.fillPixels(0, horizon, W, H, grass);
        for (let i = 0; i < 24; i++) {
          const x = rng.int(W);
          const y = horizon + 1 + rng.int(H - horizon - 1);
          c.fillPixels(x, y, x + 1, y + 2, [grass[0] - 30, grass[1] - 30, grass[2] - 20]);
        }
      } else if (background === 'beach') {
        c.fillPixels(0, horizon - 5, W, horizon, vary(rng, SEA, 10));
        c.fillPixels(0, horizon, W, H, vary(rng, SAND, 8));
      } else {
        for (let x = 0; x < W; ) {
          const w = 8 + rng.int(12);
          const h = 8 + rng.int(Math.max(1, horizon - 12));
          const color = vary(rng, rng.pick(BUILDINGS), 10);
          c.fillPixels(x, horizon - h, x + w, horizon, color);
          for (let wy = horizon - h + 2; wy + 2 < horizon; wy += 4) {
            for (let wx = x + 2; wx + 2 <= x + w - 1; wx += 4) c.fillPixels(wx, wy, wx + 2, wy + 2, WINDOW_GLASS);
          }
          x += w;
        }
        c.fillPixels(0, horizon, W, horizon + 4, SIDEWALK);
        c.fillPixels(0, horizon + 4, W, H, vary(rng, ROAD, 6));
      }
      break;
    }
  }
}
