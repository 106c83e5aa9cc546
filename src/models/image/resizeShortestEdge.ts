import { pilResize, type ResampleFilter } from './pilResize.ts';
import { assertRgbImage, type RgbImage } from './RgbImage.ts';

/**
 * HF's `get_resize_output_image_size(default_to_square=False)`: the short edge becomes `size`
 * and the long edge `int(size * long / short)` (truncated). Returns { width, height }.
 */
export function shortestEdgeSize(width: number, height: number, size: number): { width: number; height: number } {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`shortest edge must be a positive integer, got ${size}`);
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** Resizes so the shorter edge is `size` (CLIP's rule), with Pillow-exact resampling. */
export function resizeShortestEdge(img: RgbImage, size: number, filter: ResampleFilter = 'bicubic'): RgbImage {
  assertRgbImage(img);
  const target = shortestEdgeSize(img.width, img.height, size);
  return pilResize(img, target.width, target.height, filter);
}
