import { assertRgbImage, type RgbImage } from './RgbImage.ts';

/** Mirrors the image left to right (PIL `Image.FLIP_LEFT_RIGHT`). */
export function horizontalFlip(img: RgbImage): RgbImage {
  assertRgbImage(img);
  const { width, height, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const from = row + x * 3;
      const to = row + (width - 1 - x) * 3;
      out[to] = data[from];
      out[to + 1] = data[from + 1];
      out[to + 2] = data[from + 2];
    }
  }
  return { width, height, data: out };
}
