/**
 * A tiny RGB rasteriser for the world's pixel art. Shapes are given in a sprite's design units;
 * the current sprite transform (origin, scale, mirroring) maps them to pixels. Edges are rounded
 * to whole pixels, so a feature w units wide is ≥ floor(w·scale) pixels wide: at scale ≥ 1 a
 * 3-unit feature is ≥ 3 px. Every pixel also records which entity painted it last (owner), from
 * which bounding boxes and occlusion fractions are measured, not guessed.
 */
import type { Rgb } from './palette.ts';

/** Owner id of pixels painted by the background. Entities are 0, 1, …; props are negative. */
export const BACKGROUND_OWNER = -1;
export const PROP_OWNER = -2;

export class Canvas {
  readonly width: number;
  readonly height: number;
  /** Row-major RGB bytes, 3 per pixel. */
  readonly rgb: Uint8Array;
  /** Owner id per pixel (see BACKGROUND_OWNER). */
  readonly owner: Int16Array;

  private originX = 0;
  private originY = 0;
  private scale = 1;
  private designWidth = 0;
  private mirrored = false;
  private currentOwner = BACKGROUND_OWNER;
  private paintedCount = 0;
  // Bounding box of the pixels the current sprite painted (inclusive).
  private boxX0 = 0;
  private boxY0 = 0;
  private boxX1 = -1;
  private boxY1 = -1;
  private anchors: Record<string, [number, number]> = {};
  // Pixel clip window [clipX0, clipX1) × [clipY0, clipY1): patterns are drawn by redrawing a
  // shape in ink inside a band, so stripes and dots always follow the shape's outline.
  private clipX0 = 0;
  private clipY0 = 0;
  private clipX1 = 0;
  private clipY1 = 0;
  private clipStack: Array<[number, number, number, number]> = [];

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.rgb = new Uint8Array(width * height * 3);
    this.owner = new Int16Array(width * height).fill(BACKGROUND_OWNER);
    this.clipX1 = width;
    this.clipY1 = height;
  }

  /** Restricts drawing to a design-unit box (rounded like rect edges), intersected with the
   * current clip, until the matching popClip(). */
  pushClip(x: number, y: number, w: number, h: number): void {
    this.clipStack.push([this.clipX0, this.clipY0, this.clipX1, this.clipY1]);
    const a = this.px(x);
    const b = this.px(x + w);
    this.clipX0 = Math.max(this.clipX0, Math.round(Math.min(a, b)));
    this.clipX1 = Math.min(this.clipX1, Math.round(Math.max(a, b)));
    this.clipY0 = Math.max(this.clipY0, Math.round(this.py(y)));
    this.clipY1 = Math.min(this.clipY1, Math.round(this.py(y + h)));
  }

  popClip(): void {
    const previous = this.clipStack.pop();
    if (!previous) throw new Error('Canvas.popClip without pushClip');
    [this.clipX0, this.clipY0, this.clipX1, this.clipY1] = previous;
  }

  /** Starts drawing a sprite whose design box (designWidth wide) has its top-left at (x, y) px. */
  beginSprite(owner: number, x: number, y: number, scale: number, designWidth: number, mirrored: boolean): void {
    this.currentOwner = owner;
    this.originX = x;
    this.originY = y;
    this.scale = scale;
    this.designWidth = designWidth;
    this.mirrored = mirrored;
    this.paintedCount = 0;
    this.anchors = {};
    this.boxX0 = this.width;
    this.boxY0 = this.height;
    this.boxX1 = -1;
    this.boxY1 = -1;
  }

  /** Ends the sprite; returns how many pixels it covered, their [x, y, w, h] box (null if
   * none) and its named anchor pixels. */
  endSprite(): { painted: number; box: [number, number, number, number] | null; anchors: Record<string, [number, number]> } {
    const box: [number, number, number, number] | null =
      this.boxX1 < 0 ? null : [this.boxX0, this.boxY0, this.boxX1 - this.boxX0 + 1, this.boxY1 - this.boxY0 + 1];
    const result = { painted: this.paintedCount, box, anchors: this.anchors };
    this.currentOwner = BACKGROUND_OWNER;
    this.originX = 0;
    this.originY = 0;
    this.scale = 1;
    this.designWidth = 0;
    this.mirrored = false;
    this.anchors = {};
    if (this.clipStack.length) throw new Error('Canvas.endSprite with an unpopped clip');
    return result;
  }

  private px(x: number): number {
    const dx = this.mirrored ? this.designWidth - x : x;
    return this.originX + dx * this.scale;
  }

  private py(y: number): number {
    return this.originY + y * this.scale;
  }

  private touch(x0: number, y0: number, x1: number, y1: number): void {
    if (x0 < this.boxX0) this.boxX0 = x0;
    if (y0 < this.boxY0) this.boxY0 = y0;
    if (x1 > this.boxX1) this.boxX1 = x1;
    if (y1 > this.boxY1) this.boxY1 = y1;
  }

  private plot(index: number, color: Rgb): void {
    if (this.owner[index] !== this.currentOwner) {
      this.owner[index] = this.currentOwner;
      this.paintedCount++;
    }
    const o = index * 3;
    this.rgb[o] = color[0];
    this.rgb[o + 1] = color[1];
    this.rgb[o + 2] = color[2];
  }

  /** Fills whole-pixel rectangle [x0, x1) × [y0, y1) in pixel coordinates (clipped). */
  fillPixels(x0: number, y0: number, x1: number, y1: number, color: Rgb): void {
    const ax = Math.max(this.clipX0, x0);
    const bx = Math.min(this.clipX1, x1);
    const ay = Math.max(this.clipY0, y0);
    const by = Math.min(this.clipY1, y1);
    if (ax >= bx || ay >= by) return;
    this.touch(ax, ay, bx - 1, by - 1);
    for (let y = ay; y < by; y++) {
      let i = y * this.width + ax;
      for (let x = ax; x < bx; x++, i++) this.plot(i, color);
    }
  }

  /** Axis-aligned rectangle in design units. */
  rect(x: number, y: number, w: number, h: number, color: Rgb): void {
    const a = this.px(x);
    const b = this.px(x + w);
    this.fillPixels(Math.round(Math.min(a, b)), Math.round(this.py(y)), Math.round(Math.max(a, b)), Math.round(this.py(y + h)), color);
  }

  /** Filled ellipse inscribed in the design-unit box (x, y, w, h): pixel centres inside. */
  ellipse(x: number, y: number, w: number, h: number, color: Rgb): void {
    const a = this.px(x);
    const b = this.px(x + w);
    const left = Math.min(a, b);
    const right = Math.max(a, b);
    const top = this.py(y);
    const bottom = this.py(y + h);
    const cx = (left + right) / 2;
    const cy = (top + bottom) / 2;
    const rx = (right - left) / 2;
    const ry = (bottom - top) / 2;
    if (rx <= 0 || ry <= 0) return;
    const y0 = Math.max(this.clipY0, Math.floor(top));
    const y1 = Math.min(this.clipY1, Math.ceil(bottom));
    const x0 = Math.max(this.clipX0, Math.floor(left));
    const x1 = Math.min(this.clipX1, Math.ceil(right));
    for (let yy = y0; yy < y1; yy++) {
      const ny = (yy + 0.5 - cy) / ry;
      const ny2 = ny * ny;
      if (ny2 > 1) continue;
      for (let xx = x0; xx < x1; xx++) {
        const nx = (xx + 0.5 - cx) / rx;
        if (nx * nx + ny2 <= 1) {
          this.plot(yy * this.width + xx, color);
          this.touch(xx, yy, xx, yy);
        }
      }
    }
  }

  /** Filled convex polygon (design units, any winding): pixel centres inside. */
  polygon(points: ReadonlyArray<readonly [number, number]>, color: Rgb): void {
    const n = points.length;
    const xs = points.map((p) => this.px(p[0]));
    const ys = points.map((p) => this.py(p[1]));
    const x0 = Math.max(this.clipX0, Math.floor(Math.min(...xs)));
    const x1 = Math.min(this.clipX1, Math.ceil(Math.max(...xs)));
    const y0 = Math.max(this.clipY0, Math.floor(Math.min(...ys)));
    const y1 = Math.min(this.clipY1, Math.ceil(Math.max(...ys)));
    for (let yy = y0; yy < y1; yy++) {
      const sy = yy + 0.5;
      for (let xx = x0; xx < x1; xx++) {
        const sx = xx + 0.5;
        let positive = false;
        let negative = false;
        for (let i = 0; i < n; i++) {
          const j = (i + 1) % n;
          const cross = (xs[j] - xs[i]) * (sy - ys[i]) - (ys[j] - ys[i]) * (sx - xs[i]);
          if (cross > 1e-9) positive = true;
          else if (cross < -1e-9) negative = true;
        }
        if (!(positive && negative)) {
          this.plot(yy * this.width + xx, color);
          this.touch(xx, yy, xx, yy);
        }
      }
    }
  }

  /** Records the pixel at design point (x, y) under a name (for tests and ground truth). */
  anchor(name: string, x: number, y: number): void {
    const px = Math.floor(this.px(x) - (this.mirrored ? 1e-6 : 0));
    const py = Math.floor(this.py(y));
    this.anchors[name] = [px, py];
  }
}
