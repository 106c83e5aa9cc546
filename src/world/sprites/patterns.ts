/** Stripes and dots that follow a shape's outline: the shape is redrawn in ink inside bands. */
import type { Canvas } from '../Canvas.ts';
import type { Rgb } from '../palette.ts';

export interface DesignBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Horizontal stripes (3 units thick, every 6 units from box.y + offset) or 3×3 dots placed in
 * the gaps between where stripes would be, so that a striped and a dotted version of the same
 * shape differ over a whole stripe, not only at dot edges.
 */
export function drawPattern(
  c: Canvas,
  pattern: string,
  ink: Rgb,
  box: DesignBox,
  redraw: (color: Rgb) => void,
  offset = 2,
): void {
  if (pattern === 'plain' || pattern === 'none') return;
  const bottom = box.y + box.h;
  if (pattern === 'striped') {
    for (let y = box.y + offset; y + 3 <= bottom; y += 6) {
      c.pushClip(box.x, y, box.w, 3);
      redraw(ink);
      c.popClip();
    }
  } else if (pattern === 'dotted' || pattern === 'spotted') {
    let row = 0;
    for (let y = box.y + offset + 3; y + 3 <= bottom; y += 6, row++) {
      for (let x = box.x + 1 + (row % 2) * 3; x + 3 <= box.x + box.w; x += 6) {
        c.pushClip(x, y, 3, 3);
        redraw(ink);
        c.popClip();
      }
    }
  } else {
    throw new Error(`unknown pattern "${pattern}"`);
  }
}

/** Draws a bitmap glyph ('X' cells) with its top-left at (x, y), one design unit per cell. */
export function drawGlyph(c: Canvas, rows: readonly string[], x: number, y: number, color: Rgb): void {
  for (let r = 0; r < rows.length; r++) {
    const line = rows[r];
    let start = -1;
    for (let i = 0; i <= line.length; i++) {
      const on = i < line.length && line[i] === 'X';
      if (on && start < 0) start = i;
      if (!on && start >= 0) {
        c.rect(x + start, y + r, i - start, 1, color);
        start = -1;
      }
    }
  }
}
