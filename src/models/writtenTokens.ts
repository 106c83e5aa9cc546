/**
 * Written tokens: the conv tower's second kind of image token. Beside its map tokens (one per
 * position, where counting and positions are read) the tower can write a few tokens that say
 * what it sees as a soft choice of words: linear heads over the mean map token give softmax
 * probabilities, and each written token is the probability-weighted sum of rows of a learned
 * table (in the tower's width; the projector takes them like any token). The table starts where
 * the projector maps each row onto the decoder's embedding of its value's word, so the decoder
 * reads the tokens as words from the first step — it compares a description with words far
 * sooner than with map tokens (docs/pretraining.md, session 25).
 *
 * Layout. The first softmax group is the gate (the world's kinds): it writes token 0 as
 * Σ_k P(k) · table[k]. Token j + 1 is written, under each gate value k, by the group
 * `groupValues[j][k]` (none when 0) and weighted by the gate: Σ_k P(k) Σ_v P(v | group) ·
 * table[v]. Head and table rows run gate first, then the groups token by token, gate value by
 * gate value. The gate is soft, so the whole layer has a gradient (checked by finite differences).
 */
import type { Linear, LinearGrads } from './layers/linear.ts';

export interface WrittenTokensConfig {
  /** Values of the gate: the first softmax group, which writes token 0. */
  readonly gateValues: number;
  /** groupValues[j][k]: values of the softmax group writing token j + 1 under gate value k (0: none). */
  readonly groupValues: readonly (readonly number[])[];
}

export interface WrittenTokensWeights {
  /** Logits of every group from the mean map token: [rows, C] with bias. */
  readonly head: Linear;
  /** One row per head row: what the value writes, [rows, C]. */
  readonly table: Float32Array;
}

export interface WrittenTokensGrads {
  head: LinearGrads;
  table: Float32Array | null;
}

export interface WrittenTokensTape {
  /** Mean map token per image [batch, C]. */
  readonly pooled: Float32Array;
  /** Softmax probabilities of every group per image [batch, rows]. */
  readonly probabilities: Float32Array;
}

/** One softmax group: its first head row, its size, the token it writes and the gate value weighting it (−1: the gate itself). */
interface Group { readonly offset: number; readonly size: number; readonly token: number; readonly gate: number }

export function writtenTokenCount(config: WrittenTokensConfig): number {
  return 1 + config.groupValues.length;
}

export function writtenHeadRows(config: WrittenTokensConfig): number {
  return config.gateValues + config.groupValues.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
}

/** A reason the configuration cannot build the layer, or null. */
export function writtenTokensConfigProblem(config: WrittenTokensConfig): string | null {
  if (!Number.isInteger(config.gateValues) || config.gateValues < 1) return `gate_values must be a positive integer, got ${config.gateValues}`;
  for (const [j, row] of config.groupValues.entries()) {
    if (row.length !== config.gateValues) return `group_values[${j}] lists ${row.length} groups for ${config.gateValues} gate values`;
    if (!row.every((n) => Number.isInteger(n) && n >= 0)) return `group_values[${j}] must hold non-negative integers, got ${JSON.stringify(row)}`;
  }
  return null;
}

function groupsOf(config: WrittenTokensConfig): Group[] {
  const groups: Group[] = [{ offset: 0, size: config.gateValues, token: 0, gate: -1 }];
  let offset = config.gateValues;
  config.groupValues.forEach((row, j) => row.forEach((size, k) => {
    if (size > 0) groups.push({ offset, size, token: j + 1, gate: k });
    offset += size;
  }));
  return groups;
}

export class WrittenTokens {
  private readonly groups: Group[];
  readonly rows: number;

  constructor(readonly config: WrittenTokensConfig, readonly weights: WrittenTokensWeights, readonly width: number) {
    const problem = writtenTokensConfigProblem(config);
    if (problem) throw new RangeError(`written tokens: ${problem}`);
    this.groups = groupsOf(config);
    this.rows = writtenHeadRows(config);
    const { head, table } = weights;
    if (head.weight.rows !== this.rows || head.weight.cols !== width || head.bias?.length !== this.rows || table.length !== this.rows * width) {
      throw new RangeError(`written tokens: head [${head.weight.rows}, ${head.weight.cols}] (bias ${head.bias?.length ?? 'none'}) and table ${table.length} values do not fit ${this.rows} rows of width ${width}`);
    }
  }

  get count(): number { return writtenTokenCount(this.config); }
  get parameterCount(): number { return 2 * this.rows * this.width + this.rows; }

  /**
   * Map tokens [batch, mapTokens, C] → written tokens [batch, count, C], and what backward needs.
   */
  forward(mapTokens: Float32Array, batch: number, mapCount: number): { tokens: Float32Array; tape: WrittenTokensTape } {
    const C = this.width;
    const R = this.rows;
    const pooled = new Float32Array(batch * C);
    for (let n = 0; n < batch; n++) {
      const mean = pooled.subarray(n * C, (n + 1) * C);
      for (let t = 0; t < mapCount; t++) {
        const base = (n * mapCount + t) * C;
        for (let c = 0; c < C; c++) mean[c] += mapTokens[base + c];
      }
      for (let c = 0; c < C; c++) mean[c] /= mapCount;
    }
    const weight = this.weights.head.weight.data as Float32Array;
    const bias = this.weights.head.bias!;
    const probabilities = new Float32Array(batch * R);
    const tokens = new Float32Array(batch * this.count * C);
    const table = this.weights.table;
    for (let n = 0; n < batch; n++) {
      const x = pooled.subarray(n * C, (n + 1) * C);
      const p = probabilities.subarray(n * R, (n + 1) * R);
      for (let r = 0; r < R; r++) {
        let s = bias[r];
        for (let c = 0; c < C; c++) s += weight[r * C + c] * x[c];
        p[r] = s;
      }
      for (const g of this.groups) softmaxInPlace(p, g.offset, g.size);
      const out = tokens.subarray(n * this.count * C, (n + 1) * this.count * C);
      for (const g of this.groups) {
        const gate = g.gate < 0 ? 1 : p[g.gate];
        const row = out.subarray(g.token * C, (g.token + 1) * C);
        for (let v = 0; v < g.size; v++) {
          const w = gate * p[g.offset + v];
          const t = (g.offset + v) * C;
          for (let c = 0; c < C; c++) row[c] += w * table[t + c];
        }
      }
    }
    return { tokens, tape: { pooled, probabilities } };
  }

  /**
   * d loss / d written tokens [batch, count, C] → the head's and table's gradients (added; null
   * skips) and d loss / d each map token, ADDED into dMap [batch, mapTokens, C] (the mean's share).
   */
  backward(tape: WrittenTokensTape, dTokens: Float32Array, batch: number, mapCount: number, grads: WrittenTokensGrads | null, dMap: Float32Array): void {
    const C = this.width;
    const R = this.rows;
    const table = this.weights.table;
    const weight = this.weights.head.weight.data as Float32Array;
    const dProb = new Float32Array(R);
    const dLogit = new Float32Array(R);
    const dPooled = new Float32Array(C);
    for (let n = 0; n < batch; n++) {
      const p = tape.probabilities.subarray(n * R, (n + 1) * R);
      const x = tape.pooled.subarray(n * C, (n + 1) * C);
      const dOut = dTokens.subarray(n * this.count * C, (n + 1) * this.count * C);
      dProb.fill(0);
      // token = Σ gate·p_v·table_v: d p_v = gate·(dToken·table_v); d gate += Σ_v p_v·(dToken·table_v).
      for (const g of this.groups) {
        const gate = g.gate < 0 ? 1 : p[g.gate];
        const dRow = dOut.subarray(g.token * C, (g.token + 1) * C);
        for (let v = 0; v < g.size; v++) {
          const t = (g.offset + v) * C;
          let dot = 0;
          for (let c = 0; c < C; c++) dot += dRow[c] * table[t + c];
          dProb[g.offset + v] += gate * dot;
          if (g.gate >= 0) dProb[g.gate] += p[g.offset + v] * dot;
          if (grads?.table) {
            const w = gate * p[g.offset + v];
            for (let c = 0; c < C; c++) grads.table[t + c] += w * dRow[c];
          }
        }
      }
      // Softmax within each group: dz_v = p_v (dp_v − Σ_u p_u dp_u).
      for (const g of this.groups) {
        let s = 0;
        for (let v = 0; v < g.size; v++) s += p[g.offset + v] * dProb[g.offset + v];
        for (let v = 0; v < g.size; v++) dLogit[g.offset + v] = p[g.offset + v] * (dProb[g.offset + v] - s);
      }
      dPooled.fill(0);
      for (let r = 0; r < R; r++) {
        const d = dLogit[r];
        if (d === 0) continue;
        const dBias = grads?.head.bias;
        const dWeight = grads?.head.weight;
        if (dBias) dBias[r] += d;
        if (dWeight) for (let c = 0; c < C; c++) dWeight[r * C + c] += d * x[c];
        for (let c = 0; c < C; c++) dPooled[c] += d * weight[r * C + c];
      }
      for (let t = 0; t < mapCount; t++) {
        const base = (n * mapCount + t) * C;
        for (let c = 0; c < C; c++) dMap[base + c] += dPooled[c] / mapCount;
      }
    }
  }

  newGrads(): WrittenTokensGrads {
    return { head: { weight: new Float32Array(this.rows * this.width), bias: new Float32Array(this.rows) }, table: new Float32Array(this.rows * this.width) };
  }
}

function softmaxInPlace(z: Float32Array, offset: number, size: number): void {
  let max = -Infinity;
  for (let i = offset; i < offset + size; i++) if (z[i] > max) max = z[i];
  let sum = 0;
  for (let i = offset; i < offset + size; i++) sum += (z[i] = Math.exp(z[i] - max));
  for (let i = offset; i < offset + size; i++) z[i] /= sum;
}
