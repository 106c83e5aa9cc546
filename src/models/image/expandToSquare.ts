import { assertRgbImage, type RgbImage } from './RgbImage.ts';

export type RgbColor = readonly [number, number, number];

/**
 * LLaVA's `expand2square` / HF `LlavaImageProcessor.pad_to_square`: a max(w, h) square filled
 * with `background`, the image pasted at ((S − w) // 2, (S − h) // 2). A square image is
 * returned as is (same object).
 */
export function expandToSquare(img: RgbImage, background: RgbColor): RgbImage {
  assertRgbImage(img);
  for (const v of background) {
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`expandToSquare: background must be 0..255 integers, got [${background.join(', ')}]`);
  }
  const { width, height, data } = img;
  if (width === height) return img;
  const side = Math.max(width, height);
  const out = new Uint8Array(side * side * 3);
  const [r, g, b] = background;
  for (let i = 0; i < out.length; i += 3) {
    out[i] = r;
    out[i + 1] = g;
    out[i + 2] = b;
  }
  const left = (side - width) >> 1;
  const top = (side - height) >> 1;
  const rowBytes = width * 3;
  for (let y = 0; y < height; y++) {
    out.set(data.subarray(y * rowBytes, (y + 1) * rowBytes), ((top + y) * side + left) * 3);
  }
  return { width: side, height: side, data: out };
}

/** LLaVA's pad colour: `tuple(int(m * 255) for m in image_mean)`, truncated, not rounded. */
export function paddingBackground(imageMean: readonly number[]): RgbColor {
  if (imageMean.length !== 3) throw new RangeError(`paddingBackground: need 3 means, got ${imageMean.length}`);
  const channel = (m: number): number => Math.min(255, Math.max(0, Math.trunc(m * 255)));
  return [channel(imageMean[0]), channel(imageMean[1]), channel(imageMean[2])];
}
