/**
 * Image embeddings for retrieval (hard negatives): one L2-normalised vector per image, so
 * that cosine similarity is a dot product. Two sources:
 * - `visionTowerEmbedder(vlm)`: the base model's own vision tower, nothing else to load;
 * - `clipEmbedder(dir)`: a separate CLIP checkpoint, the way the paper's retrieval worked.
 * An embedder's `id` names the model and the method; the image index stores it and refuses
 * vectors made by another one.
 */
import { createHash } from 'node:crypto';
import type { ImageProcessor } from '../models/image/ImageProcessor.ts';
import type { RgbImage } from '../models/image/RgbImage.ts';
import type { VisionEncoder } from '../models/visionEncoder.ts';
import { clipImageEmbedding, loadClipVision, type LoadClipOptions } from './loadClipVision.ts';
import { weightsFingerprint } from './modelIdentity.ts';

export interface ImageEmbedder {
  /** Identifies model + method; stored in the index, so it must change whenever the vectors would. */
  readonly id: string;
  readonly dimension: number;
  /** An L2-normalised embedding of `dimension` values. */
  embed(image: RgbImage): Promise<Float32Array>;
}

/** Thrown when an embedding cannot be normalised (all zeros, NaN, wrong length). */
export class EmbeddingError extends Error {
  constructor(readonly embedderId: string, problem: string) {
    super(`embedder ${embedderId}: ${problem}`);
    this.name = 'EmbeddingError';
  }
}

/** Scales `vector` in place to unit length and returns it; a zero or non-finite vector is an EmbeddingError. */
export function l2Normalize(vector: Float32Array, embedderId = 'embedding'): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i] * vector[i];
  const norm = Math.sqrt(sum);
  if (!Number.isFinite(norm) || norm === 0) throw new EmbeddingError(embedderId, `the embedding has norm ${norm} and cannot be normalised`);
  const scale = 1 / norm;
  for (let i = 0; i < vector.length; i++) vector[i] *= scale;
  return vector;
}

/** What visionTowerEmbedder needs of a VisionLanguageModel. */
export interface VisionModelSource {
  readonly imageProcessor: ImageProcessor;
  readonly model: { readonly visionTower: VisionEncoder };
}

function shortHash(parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/**
 * The base model's own vision tower as an embedder: the image preprocessed as the model sees
 * it, every encoder layer run, the post-layernorm applied to every token when the tower has
 * one (SigLIP's last_hidden_state is post-normed; CLIP normally norms only its class token,
 * but per-token normalising keeps tokens of very different scale from dominating the mean),
 * then the mean over all tokens (the class token included for CLIP), L2-normalised.
 * Why the mean and not CLIP's class token: LLaVA-family towers are used through their patch
 * tokens and SigLIP has no class token; the mean is defined for both and reflects the whole
 * image. It is a weaker retrieval embedding than a trained CLIP projection (clipEmbedder).
 * The id is a hash of the vision config, the preprocessing and a fingerprint of the tower's
 * weights, and nothing else: vectors from another tower (or from this folder before its weights
 * were retrained) are never reused, while the same tower under another folder, or in another
 * checkpoint built on it (LLaVA-1.5 7B and 13B share theirs), finds the index already built.
 */
export function visionTowerEmbedder(vlm: VisionModelSource): ImageEmbedder {
  const tower = vlm.model.visionTower;
  const hidden = tower.config.hiddenSize;
  const tokens = tower.numTokens;
  // The weights count too: a tower retrained in place must not reuse the old tower's vectors.
  const weights = 'weights' in tower ? weightsFingerprint((tower as { weights: unknown }).weights) : '';
  const id = `vision-tower-mean-v2:${shortHash([tower.constructor.name, JSON.stringify(tower.config), JSON.stringify(vlm.imageProcessor.options), weights])}`;
  return {
    id,
    dimension: hidden,
    async embed(image: RgbImage): Promise<Float32Array> {
      const { pixelValues } = vlm.imageProcessor.preprocess(image);
      const { hiddenStates } = tower.forward(pixelValues);
      const normed = tower.postNorm(hiddenStates[hiddenStates.length - 1], tokens);
      const pooled = new Float32Array(hidden);
      for (let t = 0; t < tokens; t++) {
        const row = t * hidden;
        for (let c = 0; c < hidden; c++) pooled[c] += normed[row + c];
      }
      for (let c = 0; c < hidden; c++) pooled[c] /= tokens;
      return l2Normalize(pooled, id);
    },
  };
}

/**
 * A CLIP checkpoint (CLIPVisionModelWithProjection or CLIPModel, see loadClipVision) as an
 * embedder: visual_projection(post_layernorm(class token)), L2-normalised — CLIP's
 * `image_embeds`, as used by CLIP retrieval indexes.
 */
export function clipEmbedder(dir: string, options: LoadClipOptions = {}): ImageEmbedder {
  const clip = loadClipVision(dir, options);
  // Like the tower embedder's: the same checkpoint under another folder shares its index.
  const id = `clip-image-embeds-v2:${shortHash([clip.configHash, weightsFingerprint({ tower: clip.tower.weights, projection: clip.projection })])}`;
  return {
    id,
    dimension: clip.projectionDim,
    async embed(image: RgbImage): Promise<Float32Array> {
      const { pixelValues } = clip.imageProcessor.preprocess(image);
      return l2Normalize(clipImageEmbedding(clip, pixelValues), id);
    },
  };
}
