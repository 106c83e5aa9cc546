/**
 * The identity of a base model: a hash of its configuration and a fingerprint of some of its
 * weights. A concept's rows only mean something for the exact model they were trained on.
 */
import { createHash } from 'node:crypto';
import type { LlavaModel } from '../models/llava.ts';
import { llavaConfigJson } from '../models/saveLlava.ts';

export interface ModelIdentity {
  /** sha256 of the canonical config (architecture and sizes). */
  readonly configHash: string;
  /** sha256 of sampled weight bytes (embeddings, lm_head, final norm). */
  readonly weightsHash: string;
  readonly hiddenSize: number;
  readonly vocabSize: number;
}

function sampledBytes(data: ArrayBufferView, samples: number, bytesPerSample: number): Buffer[] {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out: Buffer[] = [];
  for (let s = 0; s < samples; s++) {
    const start = Math.floor((s / samples) * Math.max(0, bytes.length - bytesPerSample));
    out.push(Buffer.from(bytes.subarray(start, start + bytesPerSample)));
  }
  return out;
}

export function modelIdentity(model: LlavaModel): ModelIdentity {
  const configHash = createHash('sha256').update(JSON.stringify(llavaConfigJson(model.config))).digest('hex');
  const weights = createHash('sha256');
  const d = model.decoder.weights;
  for (const chunk of [...sampledBytes(d.embedTokens.data, 64, 256), ...sampledBytes(d.lmHead.data, 64, 256), ...sampledBytes(d.norm, 1, d.norm.byteLength)]) weights.update(chunk);
  return { configHash, weightsHash: weights.digest('hex'), hiddenSize: model.hiddenSize, vocabSize: model.vocabSize };
}

/**
 * sha256 of a few bytes from every typed array found in `weights` (objects and arrays walked in
 * key order): changes when retrained weights replace a model's at the same path.
 */
export function weightsFingerprint(weights: unknown): string {
  const hash = createHash('sha256');
  const seen = new Set<unknown>();
  const walk = (value: unknown, path: string): void => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    if (ArrayBuffer.isView(value)) {
      hash.update(path);
      for (const chunk of sampledBytes(value, 4, 64)) hash.update(chunk);
      return;
    }
    for (const key of Object.keys(value).sort()) walk((value as Record<string, unknown>)[key], `${path}.${key}`);
  };
  walk(weights, '');
  return hash.digest('hex');
}

export function sameModel(a: ModelIdentity, b: ModelIdentity): boolean {
  return a.configHash === b.configHash && a.weightsHash === b.weightsHash;
}
