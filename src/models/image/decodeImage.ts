import { readFile } from 'node:fs/promises';
import sharp, { type OutputInfo } from 'sharp';
import { ImageError, type ImageErrorCode } from './ImageError.ts';
import type { RgbImage } from './RgbImage.ts';

export interface DecodeImageOptions {
  /** Label used in error messages for a buffer input (a path is its own label). */
  source?: string;
  /** Refuse images with more pixels than this (default sharp's 0x3FFF², about 268 Mpx). */
  maxPixels?: number;
}

/**
 * Decodes any format sharp reads (JPEG, PNG, WebP, GIF, TIFF, AVIF, …) into 8-bit RGB the
 * way HF's `load_image` sees it: `ImageOps.exif_transpose(img).convert('RGB')`.
 * - EXIF orientation is applied.
 * - Alpha is dropped, not composited, as PIL's `convert('RGB')` does (the colour under a
 *   transparent pixel is kept).
 * - Greyscale is replicated to R = G = B; 16-bit samples keep their high byte (as PIL does
 *   for 16-bit RGB PNGs; for 16-bit greyscale PIL instead clips values above 255, a quirk
 *   not reproduced).
 * - Embedded ICC profiles are ignored, like PIL (sharp would otherwise convert to sRGB and
 *   shift pixel values); CMYK is converted with PIL's plain formula, not a profile.
 * Multi-frame inputs give their first frame. Failures throw `ImageError` naming the file.
 */
export async function decodeImage(input: string | Uint8Array, options: DecodeImageOptions = {}): Promise<RgbImage> {
  const source = typeof input === 'string' ? input : options.source ?? '<buffer>';
  const bytes = typeof input === 'string' ? await readImageFile(input) : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length === 0) {
    throw new ImageError('empty', source, `Cannot decode image ${source}: it is empty (0 bytes)`);
  }

  let decoded: { data: Buffer; info: OutputInfo };
  let isCmyk = false;
  try {
    const image = sharp(bytes, {
      autoOrient: true,
      ignoreIcc: true,
      // 'error' rejects truncated or corrupt data (PIL raises on those too) but tolerates
      // decoder warnings such as stray bytes between JPEG markers, which PIL also accepts.
      failOn: 'error',
      limitInputPixels: options.maxPixels ?? true,
    });
    isCmyk = (await image.metadata()).space === 'cmyk';
    // CMYK: fetch the raw inks and convert as PIL does, not through a colour profile.
    decoded = await (isCmyk ? image.pipelineColourspace('cmyk').toColourspace('cmyk') : image.removeAlpha().toColourspace('srgb'))
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw decodeFailure(source, error);
  }
  if (isCmyk) decoded = { data: cmykToRgb(decoded.data, decoded.info.channels), info: { ...decoded.info, channels: 3 } };

  const { width, height, channels } = decoded.info;
  if (width <= 0 || height <= 0) {
    throw new ImageError('corrupt', source, `Cannot decode image ${source}: it has zero size (${width}x${height})`);
  }
  if (channels !== 3 || decoded.data.length !== width * height * 3) {
    throw new ImageError('corrupt', source, `Cannot decode image ${source}: decoder returned ${channels} channels, expected RGB`);
  }
  // Copy out of sharp's (possibly pooled) buffer so the image owns exactly its pixels.
  return { width, height, data: new Uint8Array(decoded.data) };
}

async function readImageFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') throw new ImageError('not-found', path, `Cannot read image ${path}: file not found`, { cause: error });
    if (errno === 'EISDIR') throw new ImageError('not-a-file', path, `Cannot read image ${path}: it is a directory`, { cause: error });
    if (errno === 'EACCES' || errno === 'EPERM') {
      throw new ImageError('unreadable', path, `Cannot read image ${path}: permission denied`, { cause: error });
    }
    const detail = error instanceof Error ? error.message : String(error);
    throw new ImageError('unreadable', path, `Cannot read image ${path}: ${detail}`, { cause: error });
  }
}

/** Turns a sharp/libvips failure into a one-line ImageError (no native stack in the message). */
function decodeFailure(source: string, error: unknown): ImageError {
  const raw = error instanceof Error ? error.message : String(error);
  // libvips messages can span lines and end with ':'; keep the first meaningful line.
  const detail = raw.split('\n').map((line) => line.trim()).find((line) => line.length > 0)?.replace(/:$/, '') ?? 'unknown error';
  const lower = raw.toLowerCase();
  let code: ImageErrorCode;
  let problem: string;
  if (lower.includes('unsupported image format')) {
    code = 'unsupported-format';
    problem = 'not an image, or a format that cannot be decoded';
  } else if (lower.includes('pixel limit')) {
    code = 'too-large';
    problem = 'too many pixels';
  } else if (lower.includes('premature end') || lower.includes('truncated') || lower.includes('read error') || lower.includes('corrupt header') || lower.includes('unexpected end')) {
    code = 'truncated';
    problem = 'the file is truncated or corrupt';
  } else {
    code = 'corrupt';
    problem = 'the image data could not be decoded';
  }
  return new ImageError(code, source, `Cannot decode image ${source}: ${problem} (${detail})`, { cause: error });
}

/**
 * PIL's `convert('RGB')` for CMYK (Convert.c cmyk2rgb): no colour management, each channel is
 * (255 − K) − round(ink · (255 − K) / 255) with PIL's integer rounding of the product.
 * Channels past the fourth (alpha) are dropped.
 */
function cmykToRgb(cmyk: Buffer, channels: number): Buffer {
  const pixels = Math.floor(cmyk.length / channels);
  const rgb = Buffer.alloc(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const base = i * channels;
    const notK = 255 - cmyk[base + 3];
    for (let c = 0; c < 3; c++) {
      const t = cmyk[base + c] * notK + 128;
      const v = notK - (((t >> 8) + t) >> 8);
      rgb[i * 3 + c] = v < 0 ? 0 : v;
    }
  }
  return rgb;
}
