import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { ImageError } from './ImageError.ts';
import { assertRgbImage, type RgbImage } from './RgbImage.ts';

/** Encodes an RGB image as an 8-bit RGB PNG (lossless; decodes back to identical pixels). */
export async function encodePng(img: RgbImage): Promise<Buffer> {
  assertRgbImage(img);
  try {
    return await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
      .png({ compressionLevel: 6, adaptiveFiltering: true })
      .toBuffer();
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ImageError('encode-failed', '<png>', `Cannot encode ${img.width}x${img.height} image as PNG: ${detail}`, { cause: error });
  }
}

/** Encodes `img` as PNG and writes it to `path`. */
export async function writePng(img: RgbImage, path: string): Promise<void> {
  const png = await encodePng(img);
  try {
    await writeFile(path, png);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ImageError('encode-failed', path, `Cannot write PNG ${path}: ${detail}`, { cause: error });
  }
}
