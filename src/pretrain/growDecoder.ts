/**
 * A trained model with more decoder layers on top of its own: the new layers' attention output
 * and MLP down projections start at zero, so each adds nothing to the residual stream and the
 * grown model answers exactly as the trained one did; training then gives them their part. This
 * asks whether depth is what a decoder lacks without throwing away what it learned.
 */
import { Decoder } from '../models/decoder.ts';
import { LlavaModel } from '../models/llava.ts';
import { createRandomDecoder } from '../models/randomLlava.ts';

export function growDecoder(model: LlavaModel, numLayers: number, options: { seed?: number; std?: number } = {}): LlavaModel {
  const text = model.config.text;
  const have = model.decoder.weights.layers.length;
  if (!Number.isInteger(numLayers) || numLayers < have) throw new RangeError(`cannot grow a ${have}-layer decoder to ${numLayers} layers`);
  if (numLayers === have) return model;
  const extra = createRandomDecoder({ ...text, numLayers: numLayers - have }, { seed: options.seed ?? 0, std: options.std ?? 0.02 });
  const added = extra.weights.layers.map((layer) => {
    if (!(layer.o.weight.data instanceof Float32Array) || !(layer.down.weight.data instanceof Float32Array)) throw new TypeError('growDecoder needs float32 weights');
    layer.o.weight.data.fill(0);
    layer.down.weight.data.fill(0);
    return layer;
  });
  const config = { ...model.config, text: { ...text, numLayers } };
  const weights = { ...model.decoder.weights, layers: [...model.decoder.weights.layers, ...added] };
  return new LlavaModel(config, model.visionTower, model.projector, new Decoder(config.text, weights, model.kernels), model.kernels);
}
