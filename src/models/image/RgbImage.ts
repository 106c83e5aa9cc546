/** An 8-bit RGB image, rows top to bottom, pixels interleaved as R, G, B (HWC), no padding. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** A new image; with no data, every pixel is black. */
export function createRgbImage(width: number, height: number, data?: Uint8Array): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
  const length = width * height * 3;
  if (data === undefined) return { width, height, data: new Uint8Array(length) };
  if (data.length !== length) {
    throw new RangeError(`a ${width}x${height} RGB image needs ${length} bytes, got ${data.length}`);
  }
  return { width, height, data };
}

/** Throws unless `img` is a consistent RgbImage (guards the public transforms against bad input). */
export function assertRgbImage(img: RgbImage, what = 'image'): void {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`${what}: size must be positive integers, got ${width}x${height}`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
    throw new RangeError(`${what}: expected ${width * height * 3} bytes of RGB data for ${width}x${height}, got ${data?.length}`);
  }
}
