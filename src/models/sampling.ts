/** Choosing the next token from a row of logits: greedy, or temperature + top-p with a seed. */

/** A small seeded PRNG (mulberry32): reproducible sampling across runs and machines. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(row: Float32Array | Float64Array, length = row.length): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    if (row[i] > bestValue) { bestValue = row[i]; best = i; }
  }
  return best;
}

export interface SamplingOptions {
  /** 0 (default) means greedy. */
  temperature?: number;
  /** Nucleus mass, 1 (default) keeps every token. */
  topP?: number;
}

/** Returns a column index of `row`. */
export function sampleToken(row: Float32Array, options: SamplingOptions, random: () => number): number {
  const temperature = options.temperature ?? 0;
  if (!(temperature > 0)) return argmax(row);
  const topP = Math.min(Math.max(options.topP ?? 1, 0), 1);
  const max = row[argmax(row)];
  const probabilities = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    const p = Math.exp((row[i] - max) / temperature);
    probabilities[i] = p;
    sum += p;
  }
  const order = Array.from(probabilities.keys()).filter((i) => probabilities[i] > 0);
  order.sort((a, b) => probabilities[b] - probabilities[a]);
  // Keep the smallest prefix whose mass reaches topP (always at least one token).
  let kept = 0;
  let mass = 0;
  while (kept < order.length && (kept === 0 || mass < topP * sum)) mass += probabilities[order[kept++]];
  let target = random() * mass;
  for (let i = 0; i < kept; i++) {
    target -= probabilities[order[i]];
    if (target <= 0) return order[i];
  }
  return order[kept - 1];
}
