/**
 * Latent rows kept as mixtures of the vocabulary's token embeddings: row j = softmax(logits_j)·E,
 * E the base model's frozen embedding table [V, C]. Free rows drift, in training, to places the
 * decoder no longer reads as words (a concept started from the true description answers text
 * questions 0.79 untrained and 0.62 trained, docs/results.md session 12); rows that are always a
 * weighted sum of words were meant to stay readable. Measured there: they stay words, but
 * recognition moves them to other words ("snout", "park" for a man), and they answer no better
 * than free rows (worse from the true description) — not adopted, kept as a trainer option.
 *
 * Forward and backward are two products with E through the kernels (any dtype of the table):
 *   rows = P·E                        (linearBackwardInput: dy·W with W = E)
 *   dP   = dRows·Eᵀ                   (linear: x·Wᵀ)
 *   dLogits = P ⊙ (dP − Σ_v P·dP)     (softmax backward, per row)
 */
import type { Kernels, Matrix } from '../engine/kernels.ts';

/** The logit a start token gets over the others (0): softmax then puts ≈ 0.99 of the row on it for V ≈ 1,500. */
export const START_TOKEN_LOGIT = 12;

export class VocabularyRows {
  /** [count, V] — the trained parameters. */
  readonly logits: Float32Array;
  private readonly probabilities: Float32Array;
  private readonly probabilityGrads: Float32Array;

  constructor(
    private readonly kernels: Kernels,
    private readonly table: Matrix, // [V, C]
    readonly count: number,
  ) {
    this.logits = new Float32Array(count * table.rows);
    this.probabilities = new Float32Array(count * table.rows);
    this.probabilityGrads = new Float32Array(count * table.rows);
  }

  /** Row j starts on token ids[j] (START_TOKEN_LOGIT); rows past `ids` start as the mean of all embeddings (logits 0). */
  startFrom(ids: readonly number[]): void {
    const V = this.table.rows;
    this.logits.fill(0);
    ids.slice(0, this.count).forEach((id, j) => { this.logits[j * V + id] = START_TOKEN_LOGIT; });
  }

  /** Writes the rows (count × C) from the logits into `rows`. */
  write(rows: Float32Array): void {
    const V = this.table.rows;
    for (let j = 0; j < this.count; j++) {
      const logits = this.logits.subarray(j * V, (j + 1) * V);
      const p = this.probabilities.subarray(j * V, (j + 1) * V);
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (logits[v] > max) max = logits[v];
      let sum = 0;
      for (let v = 0; v < V; v++) { p[v] = Math.exp(logits[v] - max); sum += p[v]; }
      for (let v = 0; v < V; v++) p[v] /= sum;
    }
    this.kernels.linearBackwardInput(this.probabilities, this.count, this.table, rows.subarray(0, this.count * this.table.cols), false);
  }

  /** The logits' gradient (count × V, overwritten) from the rows' gradient (count × C), at the last `write`. */
  backward(rowGrads: Float32Array, logitGrads: Float32Array): void {
    const V = this.table.rows;
    this.kernels.linear(rowGrads.subarray(0, this.count * this.table.cols), this.count, this.table, this.probabilityGrads, false);
    for (let j = 0; j < this.count; j++) {
      const p = this.probabilities.subarray(j * V, (j + 1) * V);
      const dp = this.probabilityGrads.subarray(j * V, (j + 1) * V);
      let dot = 0;
      for (let v = 0; v < V; v++) dot += p[v] * dp[v];
      const out = logitGrads.subarray(j * V, (j + 1) * V);
      for (let v = 0; v < V; v++) out[v] = p[v] * (dp[v] - dot);
    }
  }

  /** The `top` most weighted tokens of each row, for reading what a concept's rows say. */
  topTokens(top = 3): Array<Array<{ id: number; weight: number }>> {
    const V = this.table.rows;
    return Array.from({ length: this.count }, (_, j) => {
      const p = this.probabilities.subarray(j * V, (j + 1) * V);
      return [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, top).map((id) => ({ id, weight: p[id] }));
    });
  }
}
