// Image decoding and HF-exact preprocessing, checked against the Pillow 9.4 / HF reference
// fixtures in shared/fixtures/reference/preprocess and against small files made here with sharp.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import {
  centerCrop,
  createRgbImage,
  decodeImage,
  encodePng,
  expandToSquare,
  horizontalFlip,
  ImageError,
  ImageProcessor,
  OPENAI_CLIP_MEAN,
  OPENAI_CLIP_STD,
  paddingBackground,
  pilResize,
  PreprocessorConfigError,
  resizeShortestEdge,
  shortestEdgeSize,
  toPixelValues,
  type ResampleFilter,
  type RgbImage,
} from '../../src/models/image/index.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** shared/ sits inside the checkout on some machines and beside it on others (CI). */
function findReferenceDir(): string | undefined {
  const candidates = [
    process.env['YOLLAVA_REFERENCE_FIXTURES'],
    join(repoRoot, 'shared/fixtures/reference'),
    join(repoRoot, '../shared/fixtures/reference'),
  ];
  return candidates.find((dir): dir is string => dir !== undefined && existsSync(join(dir, 'preprocess/meta.json')));
}
const referenceDir = findReferenceDir();
const preprocessDir = referenceDir === undefined ? undefined : join(referenceDir, 'preprocess');

// TODO: switch to readSafetensors from src/engine/safetensors.ts once it is committed.
/** Minimal safetensors reader: u64 LE header length, JSON header, raw LE data; U8 and F32 only. */
function readSafetensorsMinimal(path: string): Map<string, { shape: number[]; data: Uint8Array | Float32Array }> {
  const file = readFileSync(path);
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, { shape: number[]; data: Uint8Array | Float32Array }>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = file.subarray(dataStart + info.data_offsets[0], dataStart + info.data_offsets[1]);
    if (info.dtype === 'U8') tensors.set(name, { shape: info.shape, data: new Uint8Array(bytes) });
    else if (info.dtype === 'F32') {
      const copy = new Uint8Array(bytes); // aligned copy for the Float32Array view
      tensors.set(name, { shape: info.shape, data: new Float32Array(copy.buffer, 0, copy.length / 4) });
    } else throw new Error(`${path}: tensor ${name} has unsupported dtype ${info.dtype}`);
  }
  return tensors;
}

interface VariantMeta {
  resized_size_wh: [number, number];
  crop_top_left?: [number, number];
  padded_size_wh?: [number, number];
  pad_background?: [number, number, number];
  pixel_values_shape: [number, number, number, number];
}
interface PreprocessMeta {
  clip_size: number;
  siglip_size: number;
  clip_mean: number[];
  clip_std: number[];
  siglip_mean: number[];
  siglip_std: number[];
  images: Record<string, { file: string; size_wh: [number, number]; clip: VariantMeta; clip_pad: VariantMeta | string; siglip: VariantMeta }>;
}

/** Processors for the fixture variants, built from HF-style preprocessor_config.json contents. */
function fixtureProcessors(meta: PreprocessMeta): Record<'clip' | 'clip_pad' | 'siglip', ImageProcessor> {
  const clipConfig = {
    image_processor_type: 'CLIPImageProcessor',
    processor_class: 'LlavaProcessor',
    do_resize: true,
    size: { shortest_edge: meta.clip_size },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: meta.clip_size, width: meta.clip_size },
    do_rescale: true,
    rescale_factor: 0.00392156862745098,
    do_normalize: true,
    image_mean: meta.clip_mean,
    image_std: meta.clip_std,
    do_convert_rgb: true,
  };
  return {
    clip: ImageProcessor.fromConfig(clipConfig, { source: 'clip preprocessor_config.json' }),
    clip_pad: ImageProcessor.fromConfig({ ...clipConfig, image_processor_type: 'LlavaImageProcessor', do_pad: true }, { source: 'llava preprocessor_config.json' }),
    siglip: ImageProcessor.fromConfig(
      {
        image_processor_type: 'SiglipImageProcessor',
        do_resize: true,
        size: { height: meta.siglip_size, width: meta.siglip_size },
        resample: 3,
        do_rescale: true,
        rescale_factor: 0.00392156862745098,
        do_normalize: true,
        image_mean: meta.siglip_mean,
        image_std: meta.siglip_std,
      },
      { source: 'siglip preprocessor_config.json' },
    ),
  };
}

/** Number of positions where a [1,3,S,S] CHW uint8 tensor differs from an HWC RgbImage. */
function countU8Mismatches(chw: Uint8Array, img: RgbImage): number {
  const plane = img.width * img.height;
  let mismatches = 0;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) if (chw[c * plane + i] !== img.data[i * 3 + c]) mismatches++;
  }
  return mismatches;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function center32(pixelValues: Float32Array, size: number): Float32Array {
  const out = new Float32Array(3 * 32 * 32);
  const start = size / 2 - 16;
  let o = 0;
  for (let c = 0; c < 3; c++) {
    for (let y = start; y < start + 32; y++) {
      for (let x = start; x < start + 32; x++) out[o++] = pixelValues[(c * size + y) * size + x];
    }
  }
  return out;
}

function channelMeans(pixelValues: Float32Array, plane: number): number[] {
  return [0, 1, 2].map((c) => {
    let sum = 0;
    for (let i = 0; i < plane; i++) sum += pixelValues[c * plane + i];
    return sum / plane;
  });
}

describe('reference fixtures (Pillow 9.4 / HF slow processors)', { skip: preprocessDir === undefined && 'shared/fixtures/reference not found' }, () => {
  const dir = preprocessDir ?? '';
  let meta: PreprocessMeta;
  let reference: Map<string, { shape: number[]; data: Uint8Array | Float32Array }>;
  let processors: ReturnType<typeof fixtureProcessors>;
  before(() => {
    meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as PreprocessMeta;
    reference = readSafetensorsMinimal(join(dir, 'reference.safetensors'));
    processors = fixtureProcessors(meta);
  });

  const imageNames = ['gradient_shapes_500x375', 'tall_300x600', 'small_64x64'];
  for (const name of imageNames) {
    describe(name, () => {
      let image: RgbImage;
      before(async () => {
        image = await decodeImage(join(dir, meta.images[name].file));
      });

      it('decodes to the stated size', () => {
        assert.deepEqual([image.width, image.height], meta.images[name].size_wh);
      });

      for (const variant of ['clip', 'clip_pad', 'siglip'] as const) {
        it(`${variant}: uint8 image identical, pixel_values within 1e-6, channel means within 1e-5`, (t) => {
          const variantMeta = meta.images[name][variant];
          // clip_pad is not stored for the square image: padding a square is a no-op.
          const storedAs = typeof variantMeta === 'string' ? 'clip' : variant;
          if (typeof variantMeta === 'string') t.diagnostic(`clip_pad: ${variantMeta}; comparing with clip`);
          const refU8 = reference.get(`${name}.${storedAs}.u8`);
          const refCenter = reference.get(`${name}.${storedAs}.pixel_values_center32`);
          const refMean = reference.get(`${name}.${storedAs}.pixel_values_channel_mean`);
          assert.ok(refU8 && refCenter && refMean, `reference tensors for ${name}.${storedAs}`);
          const size = refU8.shape[3];

          const processor = processors[variant];
          const prepared = processor.prepare(image);
          assert.deepEqual([prepared.width, prepared.height], [size, size]);
          assert.equal(countU8Mismatches(refU8.data as Uint8Array, prepared), 0, 'uint8 pixels differing from Pillow');

          const out = processor.preprocess(image);
          assert.deepEqual([out.channels, out.height, out.width], refU8.shape.slice(1));
          assert.ok(maxAbsDiff(center32(out.pixelValues, size), refCenter.data) <= 1e-6);
          const means = channelMeans(out.pixelValues, size * size);
          assert.ok(maxAbsDiff(means, refMean.data) <= 1e-5, `channel means ${means} vs ${[...refMean.data]}`);
        });
      }

      it('intermediate sizes and offsets match meta.json', () => {
        const info = meta.images[name];
        const [w, h] = info.size_wh;
        const clip = shortestEdgeSize(w, h, meta.clip_size);
        assert.deepEqual([clip.width, clip.height], info.clip.resized_size_wh);
        const [top, left] = info.clip.crop_top_left ?? [0, 0];
        assert.deepEqual([Math.floor((clip.height - meta.clip_size) / 2), Math.floor((clip.width - meta.clip_size) / 2)], [top, left]);
        if (typeof info.clip_pad !== 'string') {
          const background = paddingBackground(meta.clip_mean);
          assert.deepEqual(background, info.clip_pad.pad_background);
          const padded = expandToSquare(image, background);
          assert.deepEqual([padded.width, padded.height], info.clip_pad.padded_size_wh);
        }
      });
    });
  }

  it('original-LLaVA route (CLIPFeatureExtractor config + image_aspect_ratio "pad") equals LlavaImageProcessor do_pad', async () => {
    const image = await decodeImage(join(dir, meta.images['tall_300x600'].file));
    const originalStyle = ImageProcessor.fromConfig(
      { feature_extractor_type: 'CLIPFeatureExtractor', size: meta.clip_size, crop_size: meta.clip_size, resample: 3, image_mean: meta.clip_mean, image_std: meta.clip_std },
      { modelConfig: { image_aspect_ratio: 'pad' } },
    );
    assert.equal(originalStyle.options.doPad, true);
    assert.deepEqual(originalStyle.options.padBackground, [122, 116, 104]);
    const refU8 = reference.get('tall_300x600.clip_pad.u8');
    assert.ok(refU8);
    assert.equal(countU8Mismatches(refU8.data as Uint8Array, originalStyle.prepare(image)), 0);
  });

  it('explicit-options constructor equals the config-built processor', async () => {
    const image = await decodeImage(join(dir, meta.images['gradient_shapes_500x375'].file));
    const explicit = new ImageProcessor({ kind: 'clip', size: { shortestEdge: 336 }, cropSize: { height: 336, width: 336 } });
    assert.deepEqual(explicit.preprocess(image).pixelValues, processors.clip.preprocess(image).pixelValues);
    assert.deepEqual(explicit.outputSize, { height: 336, width: 336 });
  });
});

describe('pilResize against Pillow 9.4 (small cases generated with PIL)', () => {
  /** Deterministic test pattern: value = (37x + 91y + 53c + 13xy) mod 256. */
  function pattern(width: number, height: number): RgbImage {
    const img = createRgbImage(width, height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < 3; c++) img.data[(y * width + x) * 3 + c] = (x * 37 + y * 91 + c * 53 + x * y * 13) % 256;
      }
    }
    return img;
  }
  // np.array(Image.fromarray(pattern).resize((ow, oh), FILTER)).tobytes().hex()
  const expected: Array<[number, number, number, number, ResampleFilter, string]> = [
    [7, 5, 3, 4, 'bilinear', '3a6f967d97b2a696799aa19097827b787f9d7b827199847d9b6c8a75aa8084718c786da2'],
    [7, 5, 3, 4, 'bicubic', '2d68957c9ebcac9776a3a693978172727ea3797c6d998c7ca1678871b384836886776da8'],
    [7, 5, 3, 4, 'lanczos', '2967977ea2bbaa967cabac95977e6d6d7da4777465999382a665836bb98a85657e766baf'],
    [7, 5, 3, 4, 'box', '13487d6fa4d9cc8136a59a8f8892728075aa376ca1a07f5fb3689d99ce8377578c568bc0'],
    [7, 5, 3, 4, 'hamming', '255a8c759ecbb9955996a2a19e7a737682ac727e7da17d76a06a9488bd7c7d6f9c6675aa'],
    [4, 3, 9, 7, 'bilinear', '00356a063b70174c81275c91386da2487db2588dc2699ed36fa4d90d427713487d255a8f366b9e487d9f598ea06990af7b92c18292c734699e3b70a55085ba6398c577ac988abf6a9e9a75b26d8ab95c915b90c56398cd7aafe490c5eca6db90bcf134d2a43ce94853f1265b82b77e8bae88a496a1b784b19f9d8986b560999570b26c89bb5e93a9de38b4c442cf7d5ddd4477975f8151798b5f86a57a91c08595cab6eb20c1cb2bdd7547ea2e63954a7f3f659a4c81b6689dd273a8dd'],
    [4, 3, 9, 7, 'bicubic', '00295e0030650b40731d52882d61a43d71bf4f8ed45fa9e165b5e80739710c41781c538a30679b437aa0548aa56892b67896c87f98cf2a5ca43168ae4384cb5ba1d177bf9992cc61aa9f67bc6383c44a8e568bc06095cd76abf290c5f2a6eb90bcf82ed6a72eec3e53f6136083c37d90b78ab098acc186b9a6a5878abf559c9a62bb6484c84d91a8f32ab7cf37e07754e83770984c8046748f4e89ac7798c9869ed6b9ff0ac8da16f56b31f9185493297d2c57a43083c95eace46dbdf0'],
  ];
  for (const [w, h, ow, oh, filter, hex] of expected) {
    it(`${w}x${h} -> ${ow}x${oh} ${filter}`, () => {
      const out = pilResize(pattern(w, h), ow, oh, filter);
      assert.equal(Buffer.from(out.data).toString('hex'), hex);
    });
  }

  it('same size returns an equal copy; one unchanged axis is not resampled', () => {
    const src = pattern(6, 4);
    const same = pilResize(src, 6, 4);
    assert.notEqual(same.data, src.data);
    assert.deepEqual(same.data, src.data);
    // Only the height changes: every column is resampled independently, so a column-constant
    // image stays column-constant and keeps its exact values.
    const columns = createRgbImage(5, 3);
    for (let i = 0; i < columns.data.length; i++) columns.data[i] = ((Math.floor(i / 3) % 5) * 50) | 0;
    const taller = pilResize(columns, 5, 8);
    for (let y = 0; y < 8; y++) assert.deepEqual(taller.data.subarray(y * 15, y * 15 + 15), columns.data.subarray(0, 15));
  });

  it('rejects bad sizes', () => {
    assert.throws(() => pilResize(pattern(2, 2), 0, 3), RangeError);
    assert.throws(() => pilResize(pattern(2, 2), 2.5, 3), RangeError);
  });
});

describe('transforms', () => {
  function solid(width: number, height: number, rgb: [number, number, number]): RgbImage {
    const img = createRgbImage(width, height);
    for (let i = 0; i < width * height; i++) img.data.set(rgb, i * 3);
    return img;
  }
  const pixel = (img: RgbImage, x: number, y: number): number[] => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

  it('paddingBackground truncates like int(m * 255)', () => {
    assert.deepEqual(paddingBackground(OPENAI_CLIP_MEAN), [122, 116, 104]);
    assert.deepEqual(paddingBackground([0.5, 0.5, 0.5]), [127, 127, 127]);
  });

  it('expandToSquare pastes at ((S - w) // 2, (S - h) // 2)', () => {
    const wide = expandToSquare(solid(5, 2, [9, 9, 9]), [1, 2, 3]);
    assert.deepEqual([wide.width, wide.height], [5, 5]);
    assert.deepEqual(pixel(wide, 0, 0), [1, 2, 3]);
    assert.deepEqual(pixel(wide, 0, 1), [9, 9, 9]); // top = (5 - 2) // 2 = 1
    assert.deepEqual(pixel(wide, 4, 2), [9, 9, 9]);
    assert.deepEqual(pixel(wide, 0, 3), [1, 2, 3]);
    const tall = expandToSquare(solid(1, 4, [9, 9, 9]), [1, 2, 3]);
    assert.deepEqual([pixel(tall, 0, 0), pixel(tall, 1, 0), pixel(tall, 2, 3), pixel(tall, 3, 0)], [[1, 2, 3], [9, 9, 9], [1, 2, 3], [1, 2, 3]]);
    const square = solid(3, 3, [4, 4, 4]);
    assert.equal(expandToSquare(square, [0, 0, 0]), square);
  });

  it('shortestEdgeSize uses int(size * long / short)', () => {
    assert.deepEqual(shortestEdgeSize(500, 375, 336), { width: 448, height: 336 });
    assert.deepEqual(shortestEdgeSize(300, 600, 336), { width: 336, height: 672 });
    assert.deepEqual(shortestEdgeSize(1000, 750, 336), { width: 448, height: 336 });
    assert.deepEqual(shortestEdgeSize(333, 500, 224), { width: 224, height: 336 }); // 336.33 → 336
    assert.deepEqual(shortestEdgeSize(640, 427, 336), { width: 503, height: 336 }); // 503.6 → 503 (truncated)
    assert.deepEqual(shortestEdgeSize(64, 64, 336), { width: 336, height: 336 });
    const resized = resizeShortestEdge(solid(10, 4, [5, 6, 7]), 8);
    assert.deepEqual([resized.width, resized.height], [20, 8]);
    assert.deepEqual(pixel(resized, 13, 5), [5, 6, 7]);
  });

  it('centerCrop: floor offsets, and zero padding at ceil((crop - size) / 2) when too small', () => {
    const img = createRgbImage(5, 4);
    for (let i = 0; i < 20; i++) img.data.set([i, 100 + i, 200], i * 3);
    const crop = centerCrop(img, 2, 2); // top = (4-2)//2 = 1, left = (5-2)//2 = 1
    assert.deepEqual([pixel(crop, 0, 0)[0], pixel(crop, 1, 0)[0], pixel(crop, 0, 1)[0]], [6, 7, 11]);
    const odd = centerCrop(img, 3, 2); // top = (4-3)//2 = 0, left = 1
    assert.equal(pixel(odd, 0, 0)[0], 1);
    // Larger than the image in both axes: image at (ceil(3/2), ceil(2/2)) = (2, 1) in an 8x6 black canvas.
    const padded = centerCrop(img, 6, 8);
    assert.deepEqual([padded.width, padded.height], [8, 6]);
    assert.deepEqual(pixel(padded, 1, 0), [0, 0, 0]);
    assert.deepEqual(pixel(padded, 2, 1), [0, 100, 200]);
    assert.deepEqual(pixel(padded, 6, 4), [19, 119, 200]);
    assert.deepEqual(pixel(padded, 7, 5), [0, 0, 0]);
    // Smaller in height only: rows padded, columns cropped from left = (5-3)//2 = 1.
    const mixed = centerCrop(img, 7, 3);
    assert.deepEqual(pixel(mixed, 0, 1), [0, 0, 0]);
    assert.deepEqual(pixel(mixed, 0, 2), [1, 101, 200]); // top pad = ceil((7-4)/2) = 2
    assert.deepEqual(pixel(mixed, 2, 5), [18, 118, 200]);
    assert.deepEqual(pixel(mixed, 2, 6), [0, 0, 0]);
  });

  it('horizontalFlip mirrors rows', () => {
    const img = createRgbImage(3, 2, new Uint8Array([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6]));
    assert.deepEqual([...horizontalFlip(img).data], [3, 3, 3, 2, 2, 2, 1, 1, 1, 6, 6, 6, 5, 5, 5, 4, 4, 4]);
  });

  it('toPixelValues is CHW float32: ((u8 * (1/255)) as f32 - mean) / std, rounded per op', () => {
    const img = createRgbImage(2, 1, new Uint8Array([0, 128, 255, 10, 20, 30]));
    const values = toPixelValues(img, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD);
    const f = Math.fround;
    const expect = (u8: number, c: number): number => f(f(f(u8 * (1 / 255)) - f(OPENAI_CLIP_MEAN[c])) / f(OPENAI_CLIP_STD[c]));
    assert.deepEqual([...values], [expect(0, 0), expect(10, 0), expect(128, 1), expect(20, 1), expect(255, 2), expect(30, 2)]);
    assert.deepEqual([...toPixelValues(img, [0, 0, 0], [1, 1, 1], { rescaleFactor: null, normalize: false })], [0, 10, 128, 20, 255, 30]);
  });
});

describe('ImageProcessor configuration', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'yollava-preprocess-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function writeConfig(name: string, content: unknown): string {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }
  function assertConfigError(fn: () => unknown, path: string, pattern: RegExp): void {
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof PreprocessorConfigError, `expected PreprocessorConfigError, got ${String(error)}`);
      assert.ok(error.message.includes(path), `message names the file: ${error.message}`);
      assert.match(error.message, pattern);
      return true;
    });
  }

  it('applies HF defaults and int sizes like get_size_dict', () => {
    const clip = ImageProcessor.fromConfigFile(writeConfig('clip.json', { image_processor_type: 'CLIPImageProcessorFast', size: 336, crop_size: 336 }));
    assert.deepEqual(clip.options.size, { shortestEdge: 336 });
    assert.deepEqual(clip.options.cropSize, { height: 336, width: 336 });
    assert.equal(clip.options.resample, 'bicubic');
    assert.equal(clip.options.rescaleFactor, 1 / 255);
    assert.deepEqual(clip.options.imageMean, OPENAI_CLIP_MEAN);
    const siglip = ImageProcessor.fromConfigFile(writeConfig('siglip.json', { image_processor_type: 'SiglipImageProcessor', size: 384, do_center_crop: true, resample: 2 }));
    assert.deepEqual(siglip.options.size, { height: 384, width: 384 });
    assert.equal(siglip.options.doCenterCrop, false); // SigLIP has no crop step
    assert.equal(siglip.options.resample, 'bilinear');
    assert.deepEqual(siglip.options.imageMean, [0.5, 0.5, 0.5]);
    assert.deepEqual(siglip.outputSize, { height: 384, width: 384 });
  });

  it('honours do_* flags', () => {
    const processor = ImageProcessor.fromConfig({ image_processor_type: 'CLIPImageProcessor', do_resize: false, do_center_crop: false, do_normalize: false, do_rescale: false });
    const img = createRgbImage(3, 2, new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]));
    const out = processor.preprocess(img);
    assert.deepEqual([out.width, out.height], [3, 2]);
    assert.deepEqual([...out.pixelValues], [0, 3, 6, 9, 12, 15, 1, 4, 7, 10, 13, 16, 2, 5, 8, 11, 14, 17]);
  });

  it('errors name the file and the field', () => {
    assertConfigError(() => ImageProcessor.fromConfigFile(writeConfig('a.json', { size: 336 })), join(dir, 'a.json'), /image_processor_type/);
    assertConfigError(() => ImageProcessor.fromConfigFile(writeConfig('b.json', { image_processor_type: 'CLIPImageProcessor', size: { shortest_edge: -3 } })), join(dir, 'b.json'), /size\.shortest_edge/);
    assertConfigError(() => ImageProcessor.fromConfigFile(writeConfig('c.json', { image_processor_type: 'CLIPImageProcessor', image_mean: [0.5, 0.5] })), join(dir, 'c.json'), /image_mean/);
    assertConfigError(() => ImageProcessor.fromConfigFile(writeConfig('d.json', { image_processor_type: 'CLIPImageProcessor', image_std: [0.5, 0, 0.5] })), join(dir, 'd.json'), /image_std/);
    assertConfigError(() => ImageProcessor.fromConfigFile(writeConfig('e.json', { image_processor_type: 'CLIPImageProcessor', do_resize: 'yes' })), join(dir, 'e.json'), /do_resize/);
    assertConfigError(() => ImageProcessor.fromConfigFile(writeConfig('f.json', { image_processor_type: 'CLIPImageProcessor', resample: 0 })), join(dir, 'f.json'), /NEAREST/);
    assertConfigError(() => ImageProcessor.fromConfigFile(writeConfig('g.json', { image_processor_type: 'Qwen2VLImageProcessor' })), join(dir, 'g.json'), /unsupported image processor/);
    assertConfigError(() => ImageProcessor.fromConfigFile(writeConfig('h.json', '{"size": 3')), join(dir, 'h.json'), /invalid JSON/);
    assertConfigError(() => ImageProcessor.fromConfigFile(join(dir, 'missing.json')), join(dir, 'missing.json'), /not found/);
    assertConfigError(() => ImageProcessor.fromConfigFile(writeConfig('i.json', { image_processor_type: 'SiglipImageProcessor', size: { shortest_edge: 384 } })), join(dir, 'i.json'), /height/);
  });

  it('fromModelDir: preprocessor_config.json plus config.json image_aspect_ratio', () => {
    const modelDir = join(dir, 'llava-original');
    mkdirSync(modelDir);
    writeFileSync(join(modelDir, 'preprocessor_config.json'), JSON.stringify({ feature_extractor_type: 'CLIPFeatureExtractor', size: 336, crop_size: 336 }));
    writeFileSync(join(modelDir, 'config.json'), JSON.stringify({ image_aspect_ratio: 'pad' }));
    const processor = ImageProcessor.fromModelDir(modelDir);
    assert.equal(processor.options.doPad, true);
    writeFileSync(join(modelDir, 'config.json'), JSON.stringify({ image_aspect_ratio: 'anyres' }));
    assertConfigError(() => ImageProcessor.fromModelDir(modelDir), join(modelDir, 'config.json'), /image_aspect_ratio/);
  });

  it('fromModelDir without preprocessor_config.json uses the vision tower defaults', { skip: referenceDir === undefined && 'fixtures not found' }, () => {
    const clip = ImageProcessor.fromModelDir(join(referenceDir ?? '', 'tiny-llava-clip-llama'));
    assert.equal(clip.options.kind, 'clip');
    assert.deepEqual(clip.outputSize, { height: 28, width: 28 });
    const siglip = ImageProcessor.fromModelDir(join(referenceDir ?? '', 'tiny-llava-siglip-qwen2'));
    assert.equal(siglip.options.kind, 'siglip');
    assert.deepEqual(siglip.outputSize, { height: 32, width: 32 });
  });
});

describe('decodeImage on encoded files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'yollava-decode-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** 48x32 RGB with distinct smooth content so any rotation or flip is visible. */
  function testPattern(): Buffer {
    const width = 48;
    const height = 32;
    const data = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) data.set([x * 5, y * 7, 255 - x * 2 - y * 3], (y * width + x) * 3);
    }
    return data;
  }

  it('JPEG with EXIF orientation 6 is rotated 90° clockwise', async () => {
    const raw = { raw: { width: 48, height: 32, channels: 3 as const } };
    // The same pixels encoded twice: identical JPEG data, only the orientation tag differs.
    const tagged = join(dir, 'orient6.jpg');
    const plain = join(dir, 'plain.jpg');
    writeFileSync(tagged, await sharp(testPattern(), raw).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer());
    writeFileSync(plain, await sharp(testPattern(), raw).jpeg({ quality: 95 }).toBuffer());
    const rotated = await decodeImage(tagged);
    const upright = await decodeImage(plain);
    assert.deepEqual([upright.width, upright.height], [48, 32]);
    assert.deepEqual([rotated.width, rotated.height], [32, 48]);
    // Orientation 6: stored pixel (x, y) is shown at (H - 1 - y, x).
    let mismatches = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 48; x++) {
        for (let c = 0; c < 3; c++) {
          if (upright.data[(y * 48 + x) * 3 + c] !== rotated.data[(x * 32 + (31 - y)) * 3 + c]) mismatches++;
        }
      }
    }
    assert.equal(mismatches, 0);
    // And it is the right content: stored top-left (dark red-free, blue-rich) ends at the top right.
    const topRight = [...rotated.data.subarray(31 * 3, 32 * 3)];
    assert.ok(Math.abs(topRight[0]) < 12 && Math.abs(topRight[2] - 255) < 12, `top-right pixel ${topRight}`);
  });

  it('PNG with alpha: alpha dropped, colour under transparent pixels kept (PIL convert("RGB"))', async () => {
    const rgba = Buffer.from([200, 10, 50, 0, 1, 2, 3, 255, 90, 80, 70, 128, 255, 255, 255, 0]);
    const path = join(dir, 'alpha.png');
    writeFileSync(path, await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer());
    assert.equal((await sharp(path).metadata()).channels, 4);
    const img = await decodeImage(path);
    assert.deepEqual([...img.data], [200, 10, 50, 1, 2, 3, 90, 80, 70, 255, 255, 255]);
  });

  it('greyscale and 16-bit PNGs become 8-bit RGB', async () => {
    const grey = join(dir, 'grey.png');
    writeFileSync(grey, await sharp(Buffer.from([0, 50, 100, 250]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    assert.equal((await sharp(grey).metadata()).channels, 1);
    assert.deepEqual([...(await decodeImage(grey)).data], [0, 0, 0, 50, 50, 50, 100, 100, 100, 250, 250, 250]);

    const deep = join(dir, 'rgb16.png');
    const samples = new Uint16Array([65535, 32768, 1799, 2047, 0, 1000]);
    writeFileSync(deep, await sharp(samples, { raw: { width: 2, height: 1, channels: 3 } }).toColourspace('rgb16').png().toBuffer());
    assert.equal((await sharp(deep).metadata()).depth, 'ushort');
    // PIL keeps the high byte of 16-bit RGB PNG samples.
    assert.deepEqual([...(await decodeImage(deep)).data], [...samples].map((v) => v >> 8));
  });

  it('WebP (lossless exact, lossy by size) and palette PNG', async () => {
    const pixels = Buffer.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180]);
    const raw = { raw: { width: 3, height: 2, channels: 3 as const } };
    const lossless = join(dir, 'lossless.webp');
    writeFileSync(lossless, await sharp(pixels, raw).webp({ lossless: true }).toBuffer());
    assert.deepEqual([...(await decodeImage(lossless)).data], [...pixels]);
    const lossy = await decodeImage(await sharp(testPattern(), { raw: { width: 48, height: 32, channels: 3 } }).webp({ quality: 80 }).toBuffer());
    assert.deepEqual([lossy.width, lossy.height], [48, 32]);
    const palette = join(dir, 'palette.png');
    writeFileSync(palette, await sharp(pixels, raw).png({ palette: true, colours: 16, dither: 0 }).toBuffer());
    assert.equal((await sharp(palette).metadata()).isPalette, true);
    assert.deepEqual([...(await decodeImage(palette)).data], [...pixels]);
  });

  it('CMYK is converted with PIL\'s formula, not a colour profile', async () => {
    // Minimal uncompressed little-endian CMYK TIFF, one strip; sharp cannot write raw CMYK inks.
    function cmykTiff(width: number, height: number, inks: Uint8Array): Buffer {
      const entries: Array<[tag: number, type: number, count: number, value: number]> = [];
      const ifdOffset = 8;
      const ifdEntries = 11;
      const bitsOffset = ifdOffset + 2 + ifdEntries * 12 + 4;
      const dataOffset = bitsOffset + 8;
      entries.push([256, 3, 1, width], [257, 3, 1, height], [258, 3, 4, bitsOffset], [259, 3, 1, 1], [262, 3, 1, 5], [273, 4, 1, dataOffset]);
      entries.push([277, 3, 1, 4], [278, 3, 1, height], [279, 4, 1, inks.length], [284, 3, 1, 1], [332, 3, 1, 1]);
      const tiff = Buffer.alloc(dataOffset + inks.length);
      tiff.write('II', 0, 'latin1');
      tiff.writeUInt16LE(42, 2);
      tiff.writeUInt32LE(ifdOffset, 4);
      tiff.writeUInt16LE(ifdEntries, ifdOffset);
      entries.forEach(([tag, type, count, value], i) => {
        const at = ifdOffset + 2 + i * 12;
        tiff.writeUInt16LE(tag, at);
        tiff.writeUInt16LE(type, at + 2);
        tiff.writeUInt32LE(count, at + 4);
        if (type === 3 && count === 1) tiff.writeUInt16LE(value, at + 8);
        else tiff.writeUInt32LE(value, at + 8);
      });
      for (let i = 0; i < 4; i++) tiff.writeUInt16LE(8, bitsOffset + i * 2);
      tiff.set(inks, dataOffset);
      return tiff;
    }
    const inks = new Uint8Array([0, 0, 0, 0, 255, 0, 0, 0, 10, 128, 200, 30, 255, 255, 255, 255, 1, 2, 3, 254, 77, 66, 55, 128]);
    const img = await decodeImage(cmykTiff(3, 2, inks), { source: 'cmyk.tiff' });
    // np.array(Image.open(that tiff).convert('RGB')) with Pillow 9.4
    assert.deepEqual([...img.data], [255, 255, 255, 0, 255, 255, 216, 112, 49, 0, 0, 0, 1, 1, 1, 89, 94, 100]);
  });

  it('encodePng round-trips exactly', async () => {
    const img = createRgbImage(3, 2, new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 250, 251, 252, 253, 254, 255]));
    const decoded = await decodeImage(await encodePng(img));
    assert.deepEqual(decoded, img);
  });

  async function assertImageError(promise: Promise<unknown>, code: string, names: string, pattern: RegExp): Promise<void> {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof ImageError, `expected ImageError, got ${String(error)}`);
      assert.equal(error.code, code);
      assert.ok(error.message.includes(names), `message names ${names}: ${error.message}`);
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes('\n'), 'one-line message');
      return true;
    });
  }

  it('errors name the file: missing, not an image, truncated, empty, directory', async () => {
    const missing = join(dir, 'nope.png');
    await assertImageError(decodeImage(missing), 'not-found', missing, /not found/);
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'this is not an image\n');
    await assertImageError(decodeImage(text), 'unsupported-format', text, /not an image/);
    const png = await sharp(testPattern(), { raw: { width: 48, height: 32, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
    const truncated = join(dir, 'truncated.png');
    writeFileSync(truncated, png.subarray(0, Math.floor(png.length / 2)));
    await assertImageError(decodeImage(truncated), 'truncated', truncated, /truncated/);
    const headerOnly = join(dir, 'header-only.png');
    writeFileSync(headerOnly, png.subarray(0, 30));
    await assertImageError(decodeImage(headerOnly), 'truncated', headerOnly, /truncated/);
    const empty = join(dir, 'empty.jpg');
    writeFileSync(empty, '');
    await assertImageError(decodeImage(empty), 'empty', empty, /empty/);
    await assertImageError(decodeImage(dir), 'not-a-file', dir, /directory/);
    await assertImageError(decodeImage(Buffer.from('plain text'), { source: 'upload #3' }), 'unsupported-format', 'upload #3', /not an image/);
  });
});
