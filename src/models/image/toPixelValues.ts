import { assertRgbImage, type RgbImage } from './RgbImage.ts';

export interface PixelValueOptions {
  /** Multiply by this before normalising (HF `rescale_factor`); null skips rescaling. Default 1/255. */
  rescaleFactor?: number | null;
  /** false skips the (x − mean) / std step (HF `do_normalize: false`). Default true. */
  normalize?: boolean;
}

/**
 * The model input in CHW order, computed in float32 exactly as HF's slow processors do:
 * `rescale` multiplies in float64 then casts to float32, and `normalize` subtracts the
 * float32 mean and divides by the float32 std in float32. Each step is one IEEE operation
 * rounded to float32 (Math.fround), which gives the same bits as numpy.
 */
export function toPixelValues(
  img: RgbImage,
  mean: readonly number[],
  std: readonly number[],
  options: PixelValueOptions = {},
): Float32Array {
  assertRgbImage(img);
  const rescaleFactor = options.rescaleFactor === undefined ? 1 / 255 : options.rescaleFactor;
  const normalize = options.normalize ?? true;
  if (normalize && (mean.length !== 3 || std.length !== 3)) {
    throw new RangeError(`toPixelValues: need 3 means and 3 stds, got ${mean.length} and ${std.length}`);
  }
  const plane = img.width * img.height;
  const out = new Float32Array(plane * 3);
  // A uint8 image has only 256 values per channel: build each channel's table once.
  const table = new Float32Array(256);
  for (let c = 0; c < 3; c++) {
    const meanF32 = normalize ? Math.fround(mean[c]) : 0;
    const stdF32 = normalize ? Math.fround(std[c]) : 1;
    for (let v = 0; v < 256; v++) {
      let x = rescaleFactor === null ? v : Math.fround(v * rescaleFactor);
      if (normalize) x = Math.fround(Math.fround(x - meanF32) / stdF32);
      table[v] = x;
    }
    const data = img.data;
    const base = c * plane;
    for (let i = 0; i < plane; i++) out[base + i] = table[data[i * 3 + c]];
  }
  return out;
}
