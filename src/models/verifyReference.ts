/**
 * Runs a model on the inputs held in a reference file laid out like the fixtures'
 * reference.safetensors and compares every output tensor present, at the fixtures'
 * tolerances. Used by `yollava verify` to check a checkpoint conversion.
 */
import { readSafetensors, type StoredTensor } from '../engine/safetensors.ts';
import { rmsNormForward } from './layers/norms.ts';
import type { LlavaModel } from './llava.ts';

export interface VerifyRow {
  readonly tensor: string;
  /** 'max abs' for activations, 'abs' for losses, 'max rel' (max|Δ| / max|ref|) for gradients, 'mismatches' for ids. */
  readonly measure: 'max abs' | 'abs' | 'max rel' | 'mismatches';
  readonly error: number;
  readonly tolerance: number;
  readonly pass: boolean;
}

export class ReferenceError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'ReferenceError';
  }
}

export const TOLERANCES = { activation: 1e-4, loss: 1e-5, gradient: 1e-4 } as const;

function maxAbs(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

function maxRel(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  return maxAbs(actual, expected) / (scale || 1);
}

export function verifyReference(model: LlavaModel, referenceFile: string): VerifyRow[] {
  let reference: Map<string, StoredTensor>;
  try {
    reference = readSafetensors(referenceFile);
  } catch (error) {
    throw new ReferenceError(referenceFile, (error as Error).message.replace(`${referenceFile}: `, ''));
  }
  const rows: VerifyRow[] = [];
  const floats = (name: string, length?: number): Float32Array => {
    const tensor = reference.get(name)!;
    if (tensor.dtype !== 'F32') throw new ReferenceError(referenceFile, `${name} must be F32, is ${tensor.dtype}`);
    if (length !== undefined && tensor.data.length !== length) {
      throw new ReferenceError(referenceFile, `${name} holds ${tensor.data.length} values, the model gives ${length} (shape ${JSON.stringify(tensor.shape)})`);
    }
    return tensor.data as Float32Array;
  };
  const ints = (name: string): number[] => {
    const tensor = reference.get(name)!;
    if (tensor.dtype !== 'I32' && tensor.dtype !== 'I64') throw new ReferenceError(referenceFile, `${name} must be I32 or I64, is ${tensor.dtype}`);
    return Array.from(tensor.data as ArrayLike<number | bigint>, Number);
  };
  const has = (...names: string[]) => names.every((name) => reference.has(name));
  const compare = (name: string, actual: ArrayLike<number>, kind: 'activation' | 'gradient' = 'activation') => {
    if (!reference.has(name)) return;
    const expected = floats(name, actual.length);
    const error = kind === 'gradient' ? maxRel(actual, expected) : maxAbs(actual, expected);
    const tolerance = TOLERANCES[kind];
    rows.push({ tensor: name, measure: kind === 'gradient' ? 'max rel' : 'max abs', error, tolerance, pass: error <= tolerance });
  };
  const C = model.hiddenSize;
  const V = model.vocabSize;

  let features: Float32Array | null = null;
  if (has('pixel_values')) {
    const { vision } = model.config;
    const pixels = floats('pixel_values', vision.numChannels * vision.imageSize * vision.imageSize);
    const { hiddenStates } = model.visionTower.forward(pixels);
    if (reference.has('vision_hidden_states')) {
      const all = new Float32Array(hiddenStates.length * hiddenStates[0].length);
      hiddenStates.forEach((state, i) => all.set(state, i * state.length));
      compare('vision_hidden_states', all);
    }
    compare('vision_last_hidden_state', vision.kind === 'siglip' ? model.visionTower.postNorm(hiddenStates.at(-1)!, model.visionTower.numTokens) : hiddenStates.at(-1)!);
    const selected = model.selectImageFeatures(hiddenStates);
    compare('image_features_selected', selected);
    features = model.projector.forward(selected, model.imageTokenCount).output;
    compare('image_features_projected', features);
  }
  const images = features ? [features] : [];

  if (has('input_ids')) {
    const ids = ints('input_ids');
    const imageTokens = ids.filter((id) => id === model.config.imageTokenId).length;
    if (imageTokens > 0 && !features) throw new ReferenceError(referenceFile, 'input_ids hold image tokens but there is no pixel_values');
    const input = { ids, images: imageTokens > 0 ? images : [] };
    compare('inputs_embeds', model.embed(input));
    const states: Float32Array[] = [];
    const hidden = model.forward(input, model.decoder.newCache(ids.length), (_, x) => states.push(x.slice()));
    if (reference.has('text_hidden_states')) {
      const all = new Float32Array(states.length * ids.length * C);
      states.forEach((state, i) => all.set(state, i * ids.length * C));
      compare('text_hidden_states', all);
    }
    compare('last_hidden_state_prenorm', hidden);
    const positions = ids.map((_, i) => i);
    if (reference.has('last_hidden_state')) {
      const normed = new Float32Array(ids.length * C);
      rmsNormForward(normed, null, hidden, model.decoder.weights.norm, ids.length, C, model.config.text.rmsNormEps);
      compare('last_hidden_state', normed);
    }
    if (reference.has('logits')) compare('logits', model.logitsAt(hidden, positions));
  }

  if (has('text_input_ids', 'text_logits')) {
    const ids = ints('text_input_ids');
    const hidden = model.forward({ ids }, model.decoder.newCache(ids.length));
    compare('text_logits', model.logitsAt(hidden, ids.map((_, i) => i)));
  }
  return rows.concat(verifyGeneration(model, reference, ints, floats, images), verifySoftPrompts(model, reference, ints, floats, images, referenceFile));

  function verifyGeneration(
    model: LlavaModel, reference: Map<string, StoredTensor>,
    ints: (name: string) => number[], floats: (name: string, length?: number) => Float32Array, images: Float32Array[],
  ): VerifyRow[] {
    if (!reference.has('generated_ids') || !reference.has('input_ids')) return [];
    const expected = ints('generated_ids');
    const ids = ints('input_ids');
    // Greedy decode with the KV cache, synchronously (generate() is the async, streaming form).
    const cache = model.decoder.newCache(ids.length + expected.length);
    let hidden = model.forward({ ids, images: ids.includes(model.config.imageTokenId) ? images : [] }, cache);
    let last = ids.length - 1;
    const generated: number[] = [];
    const logitRows: Float32Array[] = [];
    for (let k = 0; k < expected.length; k++) {
      const logits = model.logitsAt(hidden, [last]);
      logitRows.push(logits);
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      generated.push(best);
      hidden = model.forward({ ids: [best] }, cache);
      last = 0;
    }
    const mismatches = generated.filter((id, k) => id !== expected[k]).length;
    const out: VerifyRow[] = [{ tensor: 'generated_ids', measure: 'mismatches', error: mismatches, tolerance: 0, pass: mismatches === 0 }];
    if (reference.has('generated_logits')) {
      const all = new Float32Array(logitRows.length * V);
      logitRows.forEach((row, k) => all.set(row, k * V));
      const expectedLogits = floats('generated_logits', all.length);
      const error = maxAbs(all, expectedLogits);
      out.push({ tensor: 'generated_logits', measure: 'max abs', error, tolerance: TOLERANCES.activation, pass: error <= TOLERANCES.activation });
    }
    return out;
  }

  function verifySoftPrompts(
    model: LlavaModel, reference: Map<string, StoredTensor>,
    ints: (name: string) => number[], floats: (name: string, length?: number) => Float32Array, images: Float32Array[], file: string,
  ): VerifyRow[] {
    const out: VerifyRow[] = [];
    for (const variant of ['soft', 'text_soft'] as const) {
      const idsName = variant === 'soft' ? 'input_ids' : 'text_input_ids';
      if (!['soft_P_init', 'soft_w_new', idsName, `${variant}_positions`, `${variant}_labels`].every((name) => reference.has(name))) continue;
      const P = floats('soft_P_init').slice();
      if (P.length % C !== 0) throw new ReferenceError(file, `soft_P_init holds ${P.length} values, not a multiple of hidden size ${C}`);
      const wNew = floats('soft_w_new', C).slice();
      const positions = ints(`${variant}_positions`);
      const ids = ints(idsName);
      positions.forEach((position, i) => { ids[position] = V + i; });
      const result = model.lossAndGradients({
        ids, labels: ints(`${variant}_labels`), images: variant === 'soft' ? images : [],
        extra: { inputRows: P, outputRows: wNew, outputIds: [V] },
      }, { keepLogits: reference.has(`${variant}_logits`) });
      if (reference.has(`${variant}_loss`)) {
        const error = Math.abs(result.loss - floats(`${variant}_loss`, 1)[0]);
        out.push({ tensor: `${variant}_loss`, measure: 'abs', error, tolerance: TOLERANCES.loss, pass: error <= TOLERANCES.loss });
      }
      for (const [name, actual] of [[`${variant}_grad_P`, result.inputRowGrads], [`${variant}_grad_w_new`, result.outputRowGrads]] as const) {
        if (!reference.has(name)) continue;
        const error = maxRel(actual, floats(name, actual.length));
        out.push({ tensor: name, measure: 'max rel', error, tolerance: TOLERANCES.gradient, pass: error <= TOLERANCES.gradient });
      }
      if (reference.has(`${variant}_logits`)) {
        // The loss computes logits only at rows that predict a label: compare those rows.
        const labels = ints(`${variant}_labels`);
        const width = V + 1;
        const expected = floats(`${variant}_logits`, ids.length * width);
        let error = 0;
        let row = 0;
        for (let t = 0; t + 1 < labels.length; t++) {
          if (labels[t + 1] === -100) continue;
          error = Math.max(error, maxAbs(result.logits!.subarray(row * width, (row + 1) * width), expected.subarray(t * width, (t + 1) * width)));
          row++;
        }
        out.push({ tensor: `${variant}_logits (loss rows)`, measure: 'max abs', error, tolerance: TOLERANCES.activation, pass: error <= TOLERANCES.activation });
      }
    }
    return out;
  }
}
