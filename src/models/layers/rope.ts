/**
 * Rotary position embedding in Hugging Face's "rotate_half" layout: within each head of
 * size D, dimension i pairs with i + D/2. Angles and their cos/sin are rounded to float32
 * as HF computes them, so that long positions match to the last bit of the angle.
 */

export class RotaryTable {
  /** inverse frequencies [D/2], float32-rounded like HF's `1 / base**(arange(0, D, 2)/D)` */
  readonly invFreq: Float32Array;
  private cos = new Float32Array(0);
  private sin = new Float32Array(0);
  private positions = 0;

  constructor(readonly headDim: number, readonly theta: number) {
    const half = headDim / 2;
    this.invFreq = new Float32Array(half);
    for (let i = 0; i < half; i++) {
      const exponent = Math.fround(Math.fround(2 * i) / headDim);
      this.invFreq[i] = Math.fround(1 / Math.fround(Math.pow(theta, exponent)));
    }
  }

  /** Makes sure cos/sin rows exist for positions [0, count). */
  private ensure(count: number): void {
    if (count <= this.positions) return;
    const capacity = Math.max(count, this.positions * 2, 256);
    const half = this.headDim / 2;
    const cos = new Float32Array(capacity * half);
    const sin = new Float32Array(capacity * half);
    for (let p = 0; p < capacity; p++) {
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(p * this.invFreq[i]);
        cos[p * half + i] = Math.cos(angle);
        sin[p * half + i] = Math.sin(angle);
      }
    }
    this.cos = cos;
    this.sin = sin;
    this.positions = capacity;
  }

  /**
   * Rotates x in place. x is [T, heads·D] token-major, rows `rowStride` apart (a slice of a
   * wider row, like q inside a fused q/k/v output); token t is at position `start + t`.
   * `inverse` applies the transpose rotation (the backward). `start` may instead give every
   * token's position (packed sequences restart at 0).
   */
  apply(x: Float32Array, T: number, heads: number, start: number | Int32Array, inverse = false, rowStride = heads * this.headDim): void {
    const positions = typeof start === 'number' ? null : start;
    if (positions) { let max = 0; for (let t = 0; t < T; t++) max = Math.max(max, positions[t]); this.ensure(max + 1); }
    else this.ensure((start as number) + T);
    const D = this.headDim;
    const half = D / 2;
    const sign = inverse ? -1 : 1;
    const { cos, sin } = this;
    for (let t = 0; t < T; t++) {
      const table = (positions ? positions[t] : (start as number) + t) * half;
      for (let h = 0; h < heads; h++) {
        const base = t * rowStride + h * D;
        for (let i = 0; i < half; i++) {
          const c = cos[table + i];
          const s = sign * sin[table + i];
          const a = x[base + i];
          const b = x[base + i + half];
          x[base + i] = a * c - b * s;
          x[base + i + half] = b * c + a * s;
        }
      }
    }
  }
}
