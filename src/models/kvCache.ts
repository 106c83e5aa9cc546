/**
 * Keys and values of every decoder layer for the tokens seen so far (post-RoPE), per KV
 * head: [KVH, capacity, D] per layer. A prefix (system prompt + image) can be computed once,
 * cloned, and reused: `truncate` rewinds to it after a step that appended tokens.
 */
export class KVCache {
  length = 0;
  keys: Float32Array[];
  values: Float32Array[];

  constructor(readonly layers: number, readonly kvHeads: number, readonly headDim: number, public capacity = 256) {
    const size = kvHeads * capacity * headDim;
    this.keys = Array.from({ length: layers }, () => new Float32Array(size));
    this.values = Array.from({ length: layers }, () => new Float32Array(size));
  }

  /** Grows every layer's arrays so that `total` rows fit, keeping the rows already there. */
  reserve(total: number): void {
    if (total <= this.capacity) return;
    const capacity = Math.max(total, Math.ceil(this.capacity * 1.5));
    const D = this.headDim;
    const grow = (old: Float32Array): Float32Array => {
      const next = new Float32Array(this.kvHeads * capacity * D);
      for (let g = 0; g < this.kvHeads; g++) {
        next.set(old.subarray(g * this.capacity * D, (g * this.capacity + this.length) * D), g * capacity * D);
      }
      return next;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.capacity = capacity;
  }

  /** Forgets every token from `length` on. */
  truncate(length: number): void {
    if (length > this.length || length < 0) throw new RangeError(`cannot truncate a cache of ${this.length} tokens to ${length}`);
    this.length = length;
  }

  /** An independent copy with room for `extra` more tokens. */
  clone(extra = 0): KVCache {
    const copy = new KVCache(this.layers, this.kvHeads, this.headDim, Math.max(1, this.length + extra));
    const D = this.headDim;
    for (let l = 0; l < this.layers; l++) {
      for (let g = 0; g < this.kvHeads; g++) {
        const from = g * this.capacity * D;
        const to = g * copy.capacity * D;
        copy.keys[l].set(this.keys[l].subarray(from, from + this.length * D), to);
        copy.values[l].set(this.values[l].subarray(from, from + this.length * D), to);
      }
    }
    copy.length = this.length;
    return copy;
  }

  /** Bytes held by the arrays. */
  get byteLength(): number {
    return 2 * this.layers * this.kvHeads * this.capacity * this.headDim * 4;
  }
}
