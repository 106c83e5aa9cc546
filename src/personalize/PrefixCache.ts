/**
 * KV caches of prompt prefixes (system prompt + photo), kept by key within a byte budget
 * (least recently used first out). A 7B model's prefix with a 576-token image is ~0.6 GB,
 * the default model's a few hundred KB.
 */
import type { KVCache } from '../models/kvCache.ts';

export class PrefixCache {
  private readonly entries = new Map<string, KVCache>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly budgetBytes = 1 << 30) {}

  has(key: string): boolean { return this.entries.has(key); }

  /** The cache for `key`, computed by `build` when absent. */
  get(key: string, build: () => KVCache): KVCache {
    const found = this.entries.get(key);
    if (found) {
      this.hits++;
      this.entries.delete(key);
      this.entries.set(key, found); // most recent last
      return found;
    }
    this.misses++;
    const cache = build();
    this.entries.set(key, cache);
    this.bytes += cache.byteLength;
    while (this.bytes > this.budgetBytes && this.entries.size > 1) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.entries.delete(oldestKey);
      this.bytes -= oldest.byteLength;
    }
    return cache;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  get byteLength(): number { return this.bytes; }
}
