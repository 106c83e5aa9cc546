// Image decoding and Hugging Face-exact preprocessing for LLaVA-family vision towers.
export { centerCrop } from './centerCrop.ts';
export { cropRegion, type CropWindow } from './cropRegion.ts';
export { decodeImage, type DecodeImageOptions } from './decodeImage.ts';
export { encodePng, writePng } from './encodePng.ts';
export { expandToSquare, paddingBackground, type RgbColor } from './expandToSquare.ts';
export { horizontalFlip } from './horizontalFlip.ts';
export { ImageError, type ImageErrorCode } from './ImageError.ts';
export {
  ImageProcessor,
  OPENAI_CLIP_MEAN,
  OPENAI_CLIP_STD,
  parsePreprocessorConfig,
  PreprocessorConfigError,
  type ImageProcessorInit,
  type ImageProcessorKind,
  type ImageProcessorOptions,
  type ImageSize,
  type PreprocessedImage,
  type ResizeTarget,
  type Rgb,
} from './ImageProcessor.ts';
export { pilResize, type ResampleFilter } from './pilResize.ts';
export { resizeShortestEdge, shortestEdgeSize } from './resizeShortestEdge.ts';
export { assertRgbImage, createRgbImage, type RgbImage } from './RgbImage.ts';
export { toPixelValues, type PixelValueOptions } from './toPixelValues.ts';
