import { assertRgbImage, type RgbImage } from './RgbImage.ts';

/** A window of an image in fractions of its width and height (0…1). */
export interface CropWindow {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** The pixels inside `window` (rounded to whole pixels, at least one). */
export function cropRegion(img: RgbImage, window: CropWindow): RgbImage {
  assertRgbImage(img);
  const { left, top, width, height } = window;
  if (!(left >= 0 && top >= 0 && width > 0 && height > 0 && left + width <= 1 + 1e-9 && top + height <= 1 + 1e-9)) {
    throw new RangeError(`cropRegion: window ${JSON.stringify(window)} is not inside the image`);
  }
  const x0 = Math.min(img.width - 1, Math.round(left * img.width));
  const y0 = Math.min(img.height - 1, Math.round(top * img.height));
  const w = Math.max(1, Math.min(img.width - x0, Math.round(width * img.width)));
  const h = Math.max(1, Math.min(img.height - y0, Math.round(height * img.height)));
  const out = new Uint8Array(w * h * 3);
  for (let row = 0; row < h; row++) {
    const from = ((y0 + row) * img.width + x0) * 3;
    out.set(img.data.subarray(from, from + w * 3), row * w * 3);
  }
  return { width: w, height: h, data: out };
}
