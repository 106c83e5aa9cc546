import { assertRgbImage, type RgbImage } from './RgbImage.ts';

/** Pillow's convolution filters (`Image.BOX`, `BILINEAR`, `HAMMING`, `BICUBIC`, `LANCZOS`). */
export type ResampleFilter = 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

interface FilterKernel {
  readonly weight: (x: number) => number;
  /** Half-width of the kernel at scale 1, in source pixels. */
  readonly support: number;
}

// Pillow's `0.54f`/`0.46f` are float literals promoted to double; keep their float32 values.
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

const FILTER_KERNELS: Record<ResampleFilter, FilterKernel> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    weight: (x) => {
      const ax = Math.abs(x);
      return ax < 1 ? 1 - ax : 0;
    },
  },
  hamming: {
    support: 1,
    weight: (x) => {
      const ax = Math.abs(x);
      if (ax === 0) return 1;
      if (ax >= 1) return 0;
      const px = ax * Math.PI;
      return (Math.sin(px) / px) * (HAMMING_A + HAMMING_B * Math.cos(px));
    },
  },
  // Keys' cubic convolution with a = -0.5, evaluated in the same operation order as Pillow
  // so the double-precision weights are bit-identical.
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const ax = Math.abs(x);
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/**
 * Fixed-point precision of the 8-bit resampler: 32 bits minus 8 for the pixel value minus 2
 * of headroom, because weights can be negative and can sum past 1 before clamping.
 */
const PRECISION_BITS = 22;
const FIXED_ONE = 1 << PRECISION_BITS;
const FIXED_HALF = 1 << (PRECISION_BITS - 1);

/** Per-output-pixel source window and fixed-point weights for one axis. */
interface AxisCoefficients {
  /** Taps reserved per output pixel (the weights array stride). */
  readonly taps: number;
  /** First source index used by each output pixel. */
  readonly first: Int32Array;
  /** Number of source pixels used by each output pixel. */
  readonly count: Int32Array;
  /** Fixed-point weights, `taps` per output pixel. */
  readonly weights: Int32Array;
}

/**
 * Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for a full-image box: the kernel is
 * widened by the downscale factor (so downscaling averages, never skips), each output
 * pixel's weights are normalised to sum to 1 in double, then rounded half away from zero to
 * PRECISION_BITS fixed point.
 */
function axisCoefficients(inSize: number, outSize: number, kernel: FilterKernel): AxisCoefficients {
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = kernel.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const invFilterScale = 1 / filterScale; // Pillow multiplies by the reciprocal; keep that rounding.
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const raw = new Float64Array(taps);

  for (let out = 0; out < outSize; out++) {
    const center = (out + 0.5) * scale;
    // C's (int) cast truncates; after the clamp only non-negative values remain.
    let lo = Math.trunc(center - support + 0.5);
    if (lo < 0) lo = 0;
    let hi = Math.trunc(center + support + 0.5);
    if (hi > inSize) hi = inSize;
    const n = hi - lo;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const w = kernel.weight((i + lo - center + 0.5) * invFilterScale);
      raw[i] = w;
      sum += w;
    }
    const base = out * taps;
    for (let i = 0; i < n; i++) {
      const w = sum !== 0 ? raw[i] / sum : raw[i];
      weights[base + i] = w < 0 ? Math.trunc(-0.5 + w * FIXED_ONE) : Math.trunc(0.5 + w * FIXED_ONE);
    }
    first[out] = lo;
    count[out] = n;
  }
  return { taps, first, count, weights };
}

/** Pillow's clip8: drop the fraction bits (arithmetic shift, int32 wrap like C) and clamp to 0..255. */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass over source rows [rowStart, rowStart + rowCount). */
function resampleRows(src: RgbImage, outWidth: number, coeffs: AxisCoefficients, rowStart: number, rowCount: number): Uint8Array {
  const { taps, first, count, weights } = coeffs;
  const input = src.data;
  const srcStride = src.width * 3;
  const out = new Uint8Array(outWidth * rowCount * 3);
  let o = 0;
  for (let y = 0; y < rowCount; y++) {
    const rowBase = (y + rowStart) * srcStride;
    for (let x = 0; x < outWidth; x++) {
      const n = count[x];
      const kBase = x * taps;
      let p = rowBase + first[x] * 3;
      let r = FIXED_HALF;
      let g = FIXED_HALF;
      let b = FIXED_HALF;
      for (let i = 0; i < n; i++) {
        const k = weights[kBase + i];
        // int32 arithmetic, wrapping like Pillow's C ints (products stay below 2^31).
        r = (r + Math.imul(input[p], k)) | 0;
        g = (g + Math.imul(input[p + 1], k)) | 0;
        b = (b + Math.imul(input[p + 2], k)) | 0;
        p += 3;
      }
      out[o] = clip8(r);
      out[o + 1] = clip8(g);
      out[o + 2] = clip8(b);
      o += 3;
    }
  }
  return out;
}

/**
 * Vertical pass; `rowOffset` is subtracted from the source row indices (the horizontal pass
 * only produced the rows the vertical pass reads). Integer sums do not depend on order, so
 * accumulating a whole row per tap (int32, wrapping like C) equals Pillow's per-pixel loop.
 */
function resampleColumns(
  input: Uint8Array,
  width: number,
  outHeight: number,
  coeffs: AxisCoefficients,
  rowOffset: number,
): Uint8Array {
  const { taps, first, count, weights } = coeffs;
  const stride = width * 3;
  const out = new Uint8Array(stride * outHeight);
  const acc = new Int32Array(stride);
  for (let y = 0; y < outHeight; y++) {
    acc.fill(FIXED_HALF);
    const n = count[y];
    const kBase = y * taps;
    for (let i = 0; i < n; i++) {
      const k = weights[kBase + i];
      const rowBase = (first[y] - rowOffset + i) * stride;
      for (let c = 0; c < stride; c++) acc[c] += Math.imul(input[rowBase + c], k);
    }
    const outBase = y * stride;
    for (let c = 0; c < stride; c++) out[outBase + c] = clip8(acc[c]);
  }
  return out;
}

/**
 * Resizes exactly as Pillow's `Image.resize((width, height), filter)` does on an 8-bit RGB
 * image (no `box`, no `reducing_gap`): separable fixed-point convolution, horizontal pass
 * first, clamped to uint8 between passes; an axis whose size does not change is not
 * resampled at all, and an unchanged size returns a copy.
 */
export function pilResize(img: RgbImage, width: number, height: number, filter: ResampleFilter = 'bicubic'): RgbImage {
  assertRgbImage(img);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`pilResize: target size must be positive integers, got ${width}x${height}`);
  }
  const kernel = FILTER_KERNELS[filter];
  if (kernel === undefined) throw new RangeError(`pilResize: unknown filter "${String(filter)}"`);

  const needHorizontal = width !== img.width;
  const needVertical = height !== img.height;
  if (!needHorizontal && !needVertical) return { width, height, data: img.data.slice() };

  // Like Pillow, the vertical window is known first so the horizontal pass can skip rows
  // that no output row reads (only matters for speed, not for values).
  const vertical = needVertical ? axisCoefficients(img.height, height, kernel) : undefined;
  let rows = img.data;
  let rowOffset = 0;
  if (needHorizontal) {
    let rowStart = 0;
    let rowEnd = img.height;
    if (vertical !== undefined) {
      rowStart = vertical.first[0];
      rowEnd = vertical.first[height - 1] + vertical.count[height - 1];
    }
    rows = resampleRows(img, width, axisCoefficients(img.width, width, kernel), rowStart, rowEnd - rowStart);
    rowOffset = rowStart;
  }
  if (vertical === undefined) return { width, height, data: rows };
  return { width, height, data: resampleColumns(rows, width, height, vertical, rowOffset) };
}
