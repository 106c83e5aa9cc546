import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { centerCrop } from './centerCrop.ts';
import { decodeImage } from './decodeImage.ts';
import { expandToSquare, paddingBackground, type RgbColor } from './expandToSquare.ts';
import { pilResize, type ResampleFilter } from './pilResize.ts';
import { resizeShortestEdge } from './resizeShortestEdge.ts';
import type { RgbImage } from './RgbImage.ts';
import { toPixelValues } from './toPixelValues.ts';

/** The HF slow (PIL) image processors reproduced here. */
export type ImageProcessorKind = 'clip' | 'siglip' | 'llava';

/** Resize target: CLIP's shortest-edge rule, or an exact height × width. */
export type ResizeTarget = { readonly shortestEdge: number } | { readonly height: number; readonly width: number };

export interface ImageSize {
  readonly height: number;
  readonly width: number;
}

export type Rgb = readonly [number, number, number];

/** Every setting of an ImageProcessor, resolved (no defaults left to apply). */
export interface ImageProcessorOptions {
  readonly kind: ImageProcessorKind;
  /** Expand to a square with `padBackground` before anything else (LLaVA-1.5 "pad"). */
  readonly doPad: boolean;
  readonly padBackground: RgbColor;
  readonly doResize: boolean;
  readonly size: ResizeTarget;
  readonly resample: ResampleFilter;
  readonly doCenterCrop: boolean;
  readonly cropSize: ImageSize;
  readonly doRescale: boolean;
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  readonly imageMean: Rgb;
  readonly imageStd: Rgb;
}

/** What the constructor accepts: `kind` plus any settings that differ from HF's defaults for it. */
export type ImageProcessorInit = Partial<ImageProcessorOptions> & { readonly kind: ImageProcessorKind };

/** The processor's output: one image as float32 CHW. */
export interface PreprocessedImage {
  readonly pixelValues: Float32Array;
  readonly channels: 3;
  readonly height: number;
  readonly width: number;
}

/** A preprocessor_config.json (or explicit options) that cannot be used; the message names the source. */
export class PreprocessorConfigError extends Error {
  readonly source: string;
  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super(`${source}: ${message}`, options);
    this.name = 'PreprocessorConfigError';
    this.source = source;
  }
}

export const OPENAI_CLIP_MEAN: Rgb = [0.48145466, 0.4578275, 0.40821073];
export const OPENAI_CLIP_STD: Rgb = [0.26862954, 0.26130258, 0.27577711];
const HALF: Rgb = [0.5, 0.5, 0.5];

/** HF's defaults per processor class (the values its `__init__` uses when a key is absent). */
function defaultsFor(kind: ImageProcessorKind): Omit<ImageProcessorOptions, 'padBackground'> {
  if (kind === 'siglip') {
    return {
      kind,
      doPad: false,
      doResize: true,
      size: { height: 224, width: 224 },
      resample: 'bicubic',
      doCenterCrop: false,
      cropSize: { height: 224, width: 224 },
      doRescale: true,
      rescaleFactor: 1 / 255,
      doNormalize: true,
      imageMean: HALF,
      imageStd: HALF,
    };
  }
  return {
    kind,
    doPad: false,
    doResize: true,
    size: { shortestEdge: 224 },
    resample: 'bicubic',
    doCenterCrop: true,
    cropSize: { height: 224, width: 224 },
    doRescale: true,
    rescaleFactor: 1 / 255,
    doNormalize: true,
    imageMean: OPENAI_CLIP_MEAN,
    imageStd: OPENAI_CLIP_STD,
  };
}

/** PIL's resampling enum as stored in `resample` (PIL.Image.Resampling). */
const PIL_RESAMPLE: Record<number, ResampleFilter | 'nearest'> = {
  0: 'nearest',
  1: 'lanczos',
  2: 'bilinear',
  3: 'bicubic',
  4: 'box',
  5: 'hamming',
};
const RESAMPLE_NAMES: readonly ResampleFilter[] = ['box', 'bilinear', 'hamming', 'bicubic', 'lanczos'];

/**
 * Reproduces HF's slow (PIL) `CLIPImageProcessor`, `SiglipImageProcessor` and
 * `LlavaImageProcessor` on one RGB image:
 *   [pad to square] → resize (Pillow-exact) → [center crop] → rescale → normalize → CHW.
 */
export class ImageProcessor {
  readonly options: ImageProcessorOptions;

  constructor(init: ImageProcessorInit, source = 'image processor options') {
    this.options = resolveOptions(init, source);
  }

  /** From the parsed JSON of a preprocessor_config.json; `modelConfig` (config.json) may turn on LLaVA's `image_aspect_ratio: "pad"`. */
  static fromConfig(
    config: unknown,
    options: { source?: string; modelConfig?: unknown; modelConfigSource?: string } = {},
  ): ImageProcessor {
    const source = options.source ?? 'preprocessor config';
    const init = parsePreprocessorConfig(config, source);
    const doPad = init.doPad || modelWantsPad(options.modelConfig, options.modelConfigSource ?? 'model config');
    return new ImageProcessor({ ...init, doPad }, source);
  }

  /** Reads and validates a preprocessor_config.json file. */
  static fromConfigFile(path: string, options: { modelConfig?: unknown; modelConfigSource?: string } = {}): ImageProcessor {
    return ImageProcessor.fromConfig(readJsonFile(path), { ...options, source: path });
  }

  /**
   * For checkpoints that ship no preprocessor_config.json: HF's defaults for the vision
   * tower named by `vision_config.model_type`, at `vision_config.image_size`.
   */
  static fromModelConfig(modelConfig: unknown, options: { source?: string } = {}): ImageProcessor {
    const source = options.source ?? 'model config';
    const config = asObject(modelConfig, source, 'the config');
    const vision = asObject(config['vision_config'], source, 'vision_config');
    const modelType = vision['model_type'];
    const imageSize = vision['image_size'];
    if (!isPositiveInteger(imageSize)) fail(source, 'vision_config.image_size', 'a positive integer', imageSize);
    const doPad = modelWantsPad(config, source);
    if (modelType === 'clip_vision_model') {
      return new ImageProcessor({ kind: 'clip', doPad, size: { shortestEdge: imageSize }, cropSize: { height: imageSize, width: imageSize } }, source);
    }
    if (modelType === 'siglip_vision_model') {
      return new ImageProcessor({ kind: 'siglip', doPad, size: { height: imageSize, width: imageSize } }, source);
    }
    throw new PreprocessorConfigError(source, `cannot derive image preprocessing for vision_config.model_type ${JSON.stringify(modelType)} (supported: clip_vision_model, siglip_vision_model)`);
  }

  /**
   * From a checkpoint directory: preprocessor_config.json if present (else the model config's
   * vision tower defaults), with config.json consulted for `image_aspect_ratio`.
   */
  static fromModelDir(dir: string): ImageProcessor {
    const modelConfigPath = join(dir, 'config.json');
    const preprocessorPath = join(dir, 'preprocessor_config.json');
    const modelConfig = fileExists(modelConfigPath) ? readJsonFile(modelConfigPath) : undefined;
    if (fileExists(preprocessorPath)) {
      return ImageProcessor.fromConfigFile(preprocessorPath, { modelConfig, modelConfigSource: modelConfigPath });
    }
    if (modelConfig === undefined) {
      throw new PreprocessorConfigError(dir, 'neither preprocessor_config.json nor config.json found');
    }
    return ImageProcessor.fromModelConfig(modelConfig, { source: modelConfigPath });
  }

  /** Output height × width when it does not depend on the input (always, once cropped or resized to a fixed size). */
  get outputSize(): ImageSize | undefined {
    const o = this.options;
    if (o.doCenterCrop) return o.cropSize;
    if (!o.doResize) return undefined;
    if ('height' in o.size) return { height: o.size.height, width: o.size.width };
    // A padded (square) image resized by its shortest edge stays square.
    return o.doPad ? { height: o.size.shortestEdge, width: o.size.shortestEdge } : undefined;
  }

  /** The geometric steps only: the uint8 image right before rescale/normalize. */
  prepare(img: RgbImage): RgbImage {
    const o = this.options;
    let out = img;
    if (o.doPad) out = expandToSquare(out, o.padBackground);
    if (o.doResize) {
      out = 'shortestEdge' in o.size
        ? resizeShortestEdge(out, o.size.shortestEdge, o.resample)
        : pilResize(out, o.size.width, o.size.height, o.resample);
    }
    if (o.doCenterCrop) out = centerCrop(out, o.cropSize.height, o.cropSize.width);
    return out;
  }

  /** The full pipeline: float32 pixel values, CHW. */
  preprocess(img: RgbImage): PreprocessedImage {
    const o = this.options;
    const prepared = this.prepare(img);
    const pixelValues = toPixelValues(prepared, o.imageMean, o.imageStd, {
      rescaleFactor: o.doRescale ? o.rescaleFactor : null,
      normalize: o.doNormalize,
    });
    return { pixelValues, channels: 3, height: prepared.height, width: prepared.width };
  }

  /** decodeImage + preprocess. */
  async preprocessFile(path: string): Promise<PreprocessedImage> {
    return this.preprocess(await decodeImage(path));
  }
}

/** Fills HF's defaults for `init.kind` and validates every field. */
function resolveOptions(init: ImageProcessorInit, source: string): ImageProcessorOptions {
  if (init.kind !== 'clip' && init.kind !== 'siglip' && init.kind !== 'llava') {
    fail(source, 'kind', '"clip", "siglip" or "llava"', init.kind);
  }
  const defaults = defaultsFor(init.kind);
  const merged = { ...defaults, ...withoutUndefined(init) };
  for (const flag of ['doPad', 'doResize', 'doCenterCrop', 'doRescale', 'doNormalize'] as const) {
    if (typeof merged[flag] !== 'boolean') fail(source, flag, 'a boolean', merged[flag]);
  }
  const size = merged.size;
  if ('shortestEdge' in size) {
    if (!isPositiveInteger(size.shortestEdge)) fail(source, 'size.shortestEdge', 'a positive integer', size.shortestEdge);
    if (merged.kind === 'siglip') fail(source, 'size', '{height, width} for SigLIP (it has no shortest-edge resize)', size);
  } else if (!isPositiveInteger(size.height) || !isPositiveInteger(size.width)) {
    fail(source, 'size', 'positive integer height and width', size);
  }
  if (!isPositiveInteger(merged.cropSize.height) || !isPositiveInteger(merged.cropSize.width)) {
    fail(source, 'cropSize', 'positive integer height and width', merged.cropSize);
  }
  if (!RESAMPLE_NAMES.includes(merged.resample)) fail(source, 'resample', RESAMPLE_NAMES.join(' | '), merged.resample);
  if (typeof merged.rescaleFactor !== 'number' || !Number.isFinite(merged.rescaleFactor)) {
    fail(source, 'rescaleFactor', 'a finite number', merged.rescaleFactor);
  }
  checkTriple(source, 'imageMean', merged.imageMean, false);
  checkTriple(source, 'imageStd', merged.imageStd, true);
  const padBackground = init.padBackground ?? paddingBackground(merged.imageMean);
  if (padBackground.length !== 3 || !padBackground.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
    fail(source, 'padBackground', 'three integers 0..255', padBackground);
  }
  return Object.freeze({ ...merged, padBackground });
}

function checkTriple(source: string, field: string, value: unknown, nonZero: boolean): void {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'number' && Number.isFinite(v) && (!nonZero || v !== 0))) {
    fail(source, field, nonZero ? 'three finite non-zero numbers' : 'three finite numbers', value);
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------
// preprocessor_config.json parsing (HF key names and conventions)

const PROCESSOR_CLASSES: Record<string, ImageProcessorKind> = {
  CLIPImageProcessor: 'clip',
  CLIPFeatureExtractor: 'clip',
  SiglipImageProcessor: 'siglip',
  LlavaImageProcessor: 'llava',
};

/** HF key names → validated constructor settings. Unknown keys are ignored, as HF does. */
export function parsePreprocessorConfig(json: unknown, source: string): ImageProcessorInit & { doPad: boolean } {
  const config = asObject(json, source, 'the file');
  const className = config['image_processor_type'] ?? config['feature_extractor_type'];
  if (className === undefined) {
    throw new PreprocessorConfigError(source, 'missing field "image_processor_type" (or "feature_extractor_type")');
  }
  if (typeof className !== 'string') fail(source, 'image_processor_type', 'a string', className);
  // The fast (torchvision) and explicit PIL variants share settings with the slow class.
  const baseName = className.replace(/(Fast|Pil)$/, '');
  const kind = PROCESSOR_CLASSES[baseName];
  if (kind === undefined) {
    throw new PreprocessorConfigError(source, `unsupported image processor ${JSON.stringify(className)} (supported: ${Object.keys(PROCESSOR_CLASSES).join(', ')})`);
  }

  const flag = (key: string): boolean | undefined => {
    const v = config[key];
    if (v === undefined) return undefined;
    if (v === null) return false; // HF tests these with `if do_x:`, so None means off.
    if (typeof v !== 'boolean') fail(source, key, 'a boolean', v);
    return v;
  };
  const init: { -readonly [K in keyof ImageProcessorOptions]?: ImageProcessorOptions[K] } = { kind };
  init.doResize = flag('do_resize');
  init.doRescale = flag('do_rescale');
  init.doNormalize = flag('do_normalize');
  flag('do_convert_rgb'); // validated only: decoded images are always RGB already
  if (config['size'] !== undefined) init.size = parseSize(config['size'], source, kind);
  if (config['resample'] !== undefined) init.resample = parseResample(config['resample'], source);
  if (config['rescale_factor'] !== undefined) {
    const factor = config['rescale_factor'];
    if (typeof factor !== 'number' || !Number.isFinite(factor)) fail(source, 'rescale_factor', 'a finite number', factor);
    init.rescaleFactor = factor;
  }
  if (config['image_mean'] !== undefined) init.imageMean = parseTriple(config['image_mean'], source, 'image_mean', false);
  if (config['image_std'] !== undefined) init.imageStd = parseTriple(config['image_std'], source, 'image_std', true);
  if (kind !== 'siglip') {
    // SiglipImageProcessor has no center crop; any crop keys in its config are unused by HF.
    init.doCenterCrop = flag('do_center_crop');
    if (config['crop_size'] !== undefined) init.cropSize = parseCropSize(config['crop_size'], source);
  }
  const doPad = kind === 'llava' ? flag('do_pad') ?? false : false;
  return { ...init, kind, doPad };
}

/** HF `get_size_dict`: an int means shortest edge for CLIP/LLaVA and a square for SigLIP. */
function parseSize(value: unknown, source: string, kind: ImageProcessorKind): ResizeTarget {
  if (typeof value === 'number') {
    if (!isPositiveInteger(value)) fail(source, 'size', 'a positive integer', value);
    return kind === 'siglip' ? { height: value, width: value } : { shortestEdge: value };
  }
  if (Array.isArray(value) && value.length === 2) {
    const [height, width] = value as unknown[];
    if (!isPositiveInteger(height) || !isPositiveInteger(width)) fail(source, 'size', '[height, width] positive integers', value);
    return { height, width };
  }
  const size = asObject(value, source, 'size');
  if (size['shortest_edge'] !== undefined) {
    if (!isPositiveInteger(size['shortest_edge'])) fail(source, 'size.shortest_edge', 'a positive integer', size['shortest_edge']);
    if (size['longest_edge'] !== undefined && size['longest_edge'] !== null) {
      throw new PreprocessorConfigError(source, 'size.longest_edge is not supported (only shortest_edge, or height and width)');
    }
    if (kind === 'siglip') throw new PreprocessorConfigError(source, 'size must have "height" and "width" for SiglipImageProcessor, got shortest_edge');
    return { shortestEdge: size['shortest_edge'] };
  }
  if (size['height'] !== undefined || size['width'] !== undefined) {
    if (!isPositiveInteger(size['height'])) fail(source, 'size.height', 'a positive integer', size['height']);
    if (!isPositiveInteger(size['width'])) fail(source, 'size.width', 'a positive integer', size['width']);
    return { height: size['height'], width: size['width'] };
  }
  throw new PreprocessorConfigError(source, `size must have "shortest_edge" or "height" and "width", got ${JSON.stringify(value)}`);
}

function parseCropSize(value: unknown, source: string): ImageSize {
  if (typeof value === 'number') {
    if (!isPositiveInteger(value)) fail(source, 'crop_size', 'a positive integer', value);
    return { height: value, width: value };
  }
  const crop = asObject(value, source, 'crop_size');
  if (!isPositiveInteger(crop['height'])) fail(source, 'crop_size.height', 'a positive integer', crop['height']);
  if (!isPositiveInteger(crop['width'])) fail(source, 'crop_size.width', 'a positive integer', crop['width']);
  return { height: crop['height'], width: crop['width'] };
}

function parseResample(value: unknown, source: string): ResampleFilter {
  const name = typeof value === 'number' ? PIL_RESAMPLE[value] : typeof value === 'string' ? value.toLowerCase() : undefined;
  if (name === 'nearest') throw new PreprocessorConfigError(source, 'resample 0 (NEAREST) is not supported; use 1-5 (LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING)');
  if (name === undefined || !RESAMPLE_NAMES.includes(name as ResampleFilter)) {
    fail(source, 'resample', 'a PIL resampling filter (1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING)', value);
  }
  return name as ResampleFilter;
}

/** A 3-vector, or a single number HF broadcasts to every channel. */
function parseTriple(value: unknown, source: string, field: string, nonZero: boolean): Rgb {
  const triple = typeof value === 'number' ? [value, value, value] : value;
  checkTriple(source, field, triple, nonZero);
  return triple as unknown as Rgb;
}

/** Original LLaVA's `image_aspect_ratio` in the model's config.json. */
function modelWantsPad(modelConfig: unknown, source: string): boolean {
  if (modelConfig === undefined || modelConfig === null || typeof modelConfig !== 'object') return false;
  const ratio = (modelConfig as Record<string, unknown>)['image_aspect_ratio'];
  if (ratio === undefined || ratio === null || ratio === 'square') return false;
  if (ratio === 'pad') return true;
  throw new PreprocessorConfigError(source, `image_aspect_ratio ${JSON.stringify(ratio)} is not supported (only "pad" or "square")`);
}

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PreprocessorConfigError(path, code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(error)})`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PreprocessorConfigError(path, `invalid JSON (${(error as Error).message})`, { cause: error });
  }
}

function fileExists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function asObject(value: unknown, source: string, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PreprocessorConfigError(source, `${what} must be a JSON object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

function fail(source: string, field: string, expected: string, got: unknown): never {
  throw new PreprocessorConfigError(source, `field "${field}" must be ${expected}, got ${describe(got)}`);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
