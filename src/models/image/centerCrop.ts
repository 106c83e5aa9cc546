import { assertRgbImage, type RgbImage } from './RgbImage.ts';

/**
 * HF `center_crop` to height × width: top = (h − height) // 2, left = (w − width) // 2.
 * Where the image is smaller than the crop along an axis, HF first zero-pads it to the crop
 * size with the image at offset ceil((crop − size) / 2); the result is always exactly
 * height × width, with black where there is no image.
 */
export function centerCrop(img: RgbImage, height: number, width: number): RgbImage {
  assertRgbImage(img);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`centerCrop: crop size must be positive integers, got ${width}x${height}`);
  }
  const x = cropAxis(img.width, width);
  const y = cropAxis(img.height, height);
  if (x.srcStart === 0 && y.srcStart === 0 && img.width === width && img.height === height) {
    return { width, height, data: img.data.slice() };
  }
  const out = new Uint8Array(width * height * 3);
  const srcStride = img.width * 3;
  const rowBytes = x.length * 3;
  for (let row = 0; row < y.length; row++) {
    const from = (y.srcStart + row) * srcStride + x.srcStart * 3;
    out.set(img.data.subarray(from, from + rowBytes), ((y.dstStart + row) * width + x.dstStart) * 3);
  }
  return { width, height, data: out };
}

/** Source start, destination start and length of the copied span along one axis. */
function cropAxis(size: number, crop: number): { srcStart: number; dstStart: number; length: number } {
  // Python's floor division for the crop start; the zero-pad offset is ceil((crop − size) / 2).
  if (size >= crop) return { srcStart: Math.floor((size - crop) / 2), dstStart: 0, length: crop };
  return { srcStart: 0, dstStart: Math.ceil((crop - size) / 2), length: size };
}
