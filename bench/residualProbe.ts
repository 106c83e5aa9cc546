/**
 * Probing the residual stream (bench/recognitionDecisionProbe.ts, bench/attributeReadProbe.ts):
 * the stream at a prompt's last position after each decoder layer, and a logistic-regression
 * probe to read something from it.
 */
import type { LlavaModel } from '../src/models/llava.ts';

/**
 * One forward of `ids` over `images`: the stream at the last position (or at `position`) after
 * each layer (RMS-normalised, as every layer and the final norm read it; index = layer, 1-based)
 * and the logits at the last position.
 */
export function lastPositionStreams(model: LlavaModel, ids: readonly number[], images: readonly Float32Array[], position = ids.length - 1): { layers: Float32Array[]; logits: Float32Array } {
  const C = model.hiddenSize;
  const last = ids.length - 1;
  const at = position;
  const layers: Float32Array[] = [];
  const hidden = model.forward({ ids: [...ids], images: [...images] }, model.decoder.newCache(ids.length), (l, x) => {
    const v = x.slice(at * C, (at + 1) * C);
    let ss = 0;
    for (const a of v) ss += a * a;
    const r = 1 / Math.sqrt(ss / C + 1e-5);
    layers[l] = v.map((a) => a * r);
  });
  return { layers, logits: model.logitsAt(hidden, [last]) };
}

/** Plain full-batch gradient descent on the logistic loss with a little L2; returns the probe's logit. */
export function fitLogistic(xs: readonly Float32Array[], ys: readonly boolean[], epochs = 300, lr = 0.5, lambda = 1e-3): (x: Float32Array) => number {
  const d = xs[0].length;
  const w = new Float64Array(d + 1);
  const g = new Float64Array(d + 1);
  for (let e = 0; e < epochs; e++) {
    g.fill(0);
    xs.forEach((x, i) => {
      let z = w[d];
      for (let j = 0; j < d; j++) z += w[j] * x[j];
      const err = 1 / (1 + Math.exp(-z)) - (ys[i] ? 1 : 0);
      for (let j = 0; j < d; j++) g[j] += err * x[j];
      g[d] += err;
    });
    for (let j = 0; j <= d; j++) w[j] -= lr * (g[j] / xs.length + (j < d ? lambda * w[j] : 0));
  }
  return (x) => { let z = w[d]; for (let j = 0; j < d; j++) z += w[j] * x[j]; return z; };
}
