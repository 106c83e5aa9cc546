/**
 * A persistent vector index over a pool of images (the negative pool of personalization):
 * one embedding per image file, kept in a single SQLite file (better-sqlite3) and mirrored in
 * memory as one Float32Array matrix for brute-force cosine search.
 *
 * - `update(folder)` scans a folder recursively for jpg/jpeg/png/webp files and embeds only
 *   new or changed ones (path + size + mtime), dropping files that are gone; results are
 *   written in batches, each batch one transaction, so an interrupted update keeps what it
 *   finished. Unreadable files are skipped and reported, never thrown.
 * - The index remembers its embedder's id: opening it with another embedder is refused (or
 *   rebuilt on request), so vectors of two models never mix.
 * - `nearest` is exact (brute force, one matrix-vector product through the engine's kernels):
 *   for the pool sizes of personalization (thousands to ~100k images) it takes milliseconds
 *   to tens of milliseconds, which an approximate index would not repay.
 *
 * The file is SQLite's rollback-journal mode (not WAL), so at rest it is one file.
 */
import { accessSync, constants, existsSync, statSync, type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import { getKernels } from '../engine/backend.ts';
import type { Kernels } from '../engine/kernels.ts';
import { decodeImage } from '../models/image/decodeImage.ts';
import type { RgbImage } from '../models/image/RgbImage.ts';
import { seededRandom } from '../models/sampling.ts';
import type { ImageEmbedder } from './imageEmbedder.ts';

/** A problem with the index file or its use; the message names the file. */
export class ImageIndexError extends Error {
  constructor(readonly file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.name = 'ImageIndexError';
  }
}

/** File name endings the scan picks up (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

const SCHEMA_VERSION = '1';
/** Embeddings are written to SQLite this many at a time (one transaction each)… */
const WRITE_BATCH = 64;
/** …or after this long, so that a slow embedder loses little work to a crash. */
const WRITE_INTERVAL_MS = 2000;
/** Images decoded ahead of the one being embedded (sharp decodes on libuv's thread pool). */
const DECODE_AHEAD = 2;
/** Queries scored together in one pass (bounds the [queries, pool] score buffer). */
const QUERY_BLOCK = 32;

export interface OpenOptions {
  /** When the file was built with another embedder: drop its vectors and start afresh instead of refusing. */
  readonly rebuild?: boolean;
  /** Kernels for the similarity products (default: the engine's best, OpenBLAS when built). */
  readonly kernels?: () => Kernels;
}

export interface UpdateProgress {
  /** Files processed (embedded or failed) among those needing an embedding. */
  readonly done: number;
  readonly total: number;
  /** The file just processed (null for the first call, before any file). */
  readonly path: string | null;
  /** Files that failed so far. */
  readonly failed: number;
  /** Why the file just processed failed, when it did. */
  readonly failure: FileFailure | null;
}

export interface UpdateOptions {
  readonly onProgress?: (progress: UpdateProgress) => void;
  /**
   * Stops the update between files: what was embedded so far is committed, then the promise
   * rejects with the signal's reason.
   */
  readonly signal?: AbortSignal;
}

export interface FileFailure {
  readonly path: string;
  readonly reason: string;
}

export interface UpdateResult {
  /** Image files found under the folder. */
  readonly scanned: number;
  readonly added: number;
  /** Files already indexed whose size or mtime changed, embedded again. */
  readonly changed: number;
  readonly removed: number;
  readonly unchanged: number;
  /** Files (or sub-folders) that could not be read or embedded; they are not in the index. */
  readonly failures: readonly FileFailure[];
}

export interface Neighbour {
  readonly path: string;
  /** Cosine similarity in [-1, 1]. */
  readonly similarity: number;
}

export interface NearestOptions {
  /** Paths never returned (resolved against the working folder, as the index stores absolute paths). */
  readonly exclude?: Iterable<string>;
}

interface ScannedFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

interface EmbeddedFile extends ScannedFile {
  readonly embedding: Float32Array;
}

type Decoded = { image: RgbImage } | { error: unknown };

/** SQLite errors (better-sqlite3's SqliteError) carry a `code` such as SQLITE_READONLY. */
function sqliteCode(error: unknown): string {
  return typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '';
}

function describeSqliteFailure(file: string, error: unknown): string {
  const code = sqliteCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'SQLITE_NOTADB') return 'is not an SQLite file (is it an image index?)';
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code === 'SQLITE_IOERR_WRITE') {
    return `cannot be written (${message}): is its folder ${dirname(file)} read-only?`;
  }
  if (code === 'SQLITE_BUSY') return `is locked by another process (${message})`;
  if (code === 'SQLITE_CORRUPT') return `is corrupt (${message}); delete it and build the index again`;
  return `SQLite failed: ${message}${code ? ` (${code})` : ''}`;
}

export class ImageIndex {
  private db: Database.Database | null;
  private readonly insertRow: Database.Statement;
  private readonly deleteRow: Database.Statement;
  /** Row-major [capacity, dimension]; rows [0, count) are live. */
  private matrix: Float32Array;
  private count = 0;
  private paths: string[] = [];
  private readonly rowOf = new Map<string, number>();
  private readonly stats = new Map<string, { size: number; mtimeMs: number }>();
  /** Every path sorted, for deterministic sampling; rebuilt lazily after a change. */
  private sortedPaths: string[] | null = null;
  private updating = false;

  private constructor(readonly file: string, readonly embedder: ImageEmbedder, db: Database.Database, private readonly kernels: () => Kernels) {
    this.db = db;
    this.insertRow = db.prepare('INSERT OR REPLACE INTO images (path, size, mtime_ms, embedding) VALUES (?, ?, ?, ?)');
    this.deleteRow = db.prepare('DELETE FROM images WHERE path = ?');
    this.matrix = new Float32Array(0);
    this.loadAll();
  }

  /**
   * Opens the index file, creating it (not its folder) when absent. A file built with another
   * embedder id or dimension is refused, unless `rebuild` asks to drop its vectors.
   */
  static open(file: string, embedder: ImageEmbedder, options: OpenOptions = {}): ImageIndex {
    const path = resolve(file);
    if (!Number.isInteger(embedder.dimension) || embedder.dimension <= 0) throw new ImageIndexError(path, `embedder ${embedder.id} has an invalid dimension ${embedder.dimension}`);
    const folder = dirname(path);
    if (!existsSync(folder)) throw new ImageIndexError(path, `cannot be created: its folder ${folder} does not exist`);
    if (!statSync(folder).isDirectory()) throw new ImageIndexError(path, `cannot be created: ${folder} is not a folder`);
    const exists = existsSync(path);
    if (exists && statSync(path).isDirectory()) throw new ImageIndexError(path, 'is a folder, not an index file');
    if (!exists) {
      try {
        accessSync(folder, constants.W_OK);
      } catch {
        throw new ImageIndexError(path, `cannot be created: its folder ${folder} is read-only`);
      }
    }
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (error) {
      throw new ImageIndexError(path, describeSqliteFailure(path, error), { cause: error });
    }
    try {
      db.pragma('busy_timeout = 5000');
      prepareSchema(path, db, embedder, options);
      return new ImageIndex(path, embedder, db, options.kernels ?? getKernels);
    } catch (error) {
      db.close();
      if (error instanceof ImageIndexError) throw error;
      throw new ImageIndexError(path, describeSqliteFailure(path, error), { cause: error });
    }
  }

  /** Images in the index. */
  get size(): number { return this.count; }

  get dimension(): number { return this.embedder.dimension; }

  /** Whether `path` (resolved) is indexed. */
  has(path: string): boolean { return this.rowOf.has(resolve(path)); }

  /** The stored embedding of an indexed file (a copy), or null. */
  embeddingOf(path: string): Float32Array | null {
    const row = this.rowOf.get(resolve(path));
    if (row === undefined) return null;
    const d = this.dimension;
    return this.matrix.slice(row * d, (row + 1) * d);
  }

  /** Every indexed path, sorted. */
  allPaths(): string[] {
    return [...this.sorted()];
  }

  /**
   * Brings the index in line with the image files under `folder` (recursively): new and
   * changed files are embedded, files gone from the folder are dropped. Entries of other
   * folders are left alone, so one index can hold several folders.
   */
  async update(folder: string, options: UpdateOptions = {}): Promise<UpdateResult> {
    this.assertOpen();
    if (this.updating) throw new ImageIndexError(this.file, 'an update is already running on this index');
    const root = resolve(folder);
    let rootStat;
    try {
      rootStat = statSync(root);
    } catch {
      throw new ImageIndexError(this.file, `cannot update from ${root}: the folder does not exist`);
    }
    if (!rootStat.isDirectory()) throw new ImageIndexError(this.file, `cannot update from ${root}: it is not a folder`);
    options.signal?.throwIfAborted();
    this.updating = true;
    try {
      return await this.runUpdate(root, options);
    } finally {
      this.updating = false;
    }
  }

  private async runUpdate(root: string, options: UpdateOptions): Promise<UpdateResult> {
    const failures: FileFailure[] = [];
    const unreadableFolders: string[] = [];
    let scanned: ScannedFile[];
    try {
      scanned = await scanImages(root, failures, unreadableFolders, options.signal);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new ImageIndexError(this.file, `cannot list ${root}: ${errorMessage(error)}`, { cause: error });
    }
    const seen = new Set(scanned.map((f) => f.path));

    const prefix = root.endsWith(sep) ? root : root + sep;
    const insideUnreadable = (path: string) => unreadableFolders.some((folder) => path.startsWith(folder + sep));
    const gone = this.paths.slice(0, this.count).filter((path) => path.startsWith(prefix) && !seen.has(path) && !insideUnreadable(path));
    const work: { file: ScannedFile; known: boolean }[] = [];
    for (const file of scanned) {
      const known = this.stats.get(file.path);
      if (known && known.size === file.size && known.mtimeMs === file.mtimeMs) continue;
      work.push({ file, known: known !== undefined });
    }
    if (gone.length > 0) this.writeBatch([], gone);

    const total = work.length;
    let done = 0;
    options.onProgress?.({ done, total, path: null, failed: failures.length, failure: null });
    let added = 0;
    let changed = 0;
    let batch: EmbeddedFile[] = [];
    let stale: string[] = [];
    let lastWrite = performance.now();
    const flush = () => {
      if (batch.length > 0 || stale.length > 0) this.writeBatch(batch, stale);
      batch = [];
      stale = [];
      lastWrite = performance.now();
    };
    const decodes: Promise<Decoded>[] = [];
    const startDecode = (i: number) => {
      decodes[i] = decodeImage(work[i].file.path).then((image) => ({ image }), (error: unknown) => ({ error }));
    };
    for (let i = 0; i < Math.min(DECODE_AHEAD, total); i++) startDecode(i);
    try {
      for (let i = 0; i < total; i++) {
        if (options.signal?.aborted) break;
        const { file, known } = work[i];
        if (i + DECODE_AHEAD < total) startDecode(i + DECODE_AHEAD);
        const decoded = await decodes[i];
        delete decodes[i];
        let reason: string | null = null;
        if ('error' in decoded) {
          reason = errorMessage(decoded.error);
        } else {
          try {
            const embedding = await this.embedder.embed(decoded.image);
            reason = checkEmbedding(embedding, this.dimension);
            if (reason === null) {
              batch.push({ ...file, embedding: normalizedCopy(embedding) });
              if (known) changed++;
              else added++;
            }
          } catch (error) {
            reason = `embedding failed: ${errorMessage(error)}`;
          }
        }
        const failure = reason === null ? null : { path: file.path, reason };
        if (failure) {
          failures.push(failure);
          // A changed file that no longer embeds must not keep its old vector.
          if (this.rowOf.has(file.path)) stale.push(file.path);
        }
        done++;
        if (batch.length + stale.length >= WRITE_BATCH || performance.now() - lastWrite > WRITE_INTERVAL_MS) flush();
        options.onProgress?.({ done, total, path: file.path, failed: failures.length, failure });
      }
    } finally {
      // Commit what was finished, also when aborting or when a callback threw.
      flush();
      await Promise.allSettled(decodes.filter(Boolean));
    }
    options.signal?.throwIfAborted();
    return { scanned: scanned.length, added, changed, removed: gone.length, unchanged: scanned.length - total, failures };
  }

  /** The k most similar images to `query` by cosine similarity, most similar first (ties by path). */
  nearest(query: Float32Array, k: number, options: NearestOptions = {}): Neighbour[] {
    return this.nearestMany([query], k, options)[0];
  }

  /**
   * `nearest` for several queries at once (one per positive photo): the matrix is read once
   * per block of queries, as one matrix product.
   */
  nearestMany(queries: readonly Float32Array[], k: number, options: NearestOptions = {}): Neighbour[][] {
    this.assertOpen();
    const d = this.dimension;
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
    const stacked = new Float32Array(queries.length * d);
    queries.forEach((query, i) => {
      if (query.length !== d) throw new ImageIndexError(this.file, `the query has ${query.length} values; this index holds embeddings of ${d} (${this.embedder.id})`);
      const q = normalizedCopy(query);
      if (checkEmbedding(q, d) !== null) throw new ImageIndexError(this.file, 'the query embedding is zero or not finite');
      stacked.set(q, i * d);
    });
    const n = this.count;
    const excluded = this.excludedRows(options.exclude);
    const wanted = Math.min(k, n - excluded.size);
    if (wanted <= 0) return queries.map(() => []);
    const mask = excluded.size > 0 ? new Uint8Array(n) : null;
    if (mask) for (const row of excluded) mask[row] = 1;
    const results: Neighbour[][] = [];
    for (let start = 0; start < queries.length; start += QUERY_BLOCK) {
      const block = Math.min(QUERY_BLOCK, queries.length - start);
      const scores = this.scoreRows(stacked.subarray(start * d, (start + block) * d), block);
      for (let b = 0; b < block; b++) results.push(this.topK(scores.subarray(b * n, (b + 1) * n), wanted, mask));
    }
    return results;
  }

  /** Dot products of `m` unit queries [m, d] with every row: [m, count]. */
  private scoreRows(queries: Float32Array, m: number): Float32Array {
    const n = this.count;
    const d = this.dimension;
    const scores = new Float32Array(m * n);
    const kernels = this.kernels();
    if (kernels.name !== 'js') {
      // BLAS (sgemv/sgemm): ~4× the plain loop below, which is memory-bound on the matrix anyway.
      kernels.linear(queries, m, { dtype: 'f32', rows: n, cols: d, data: this.matrix.subarray(0, n * d) }, scores, false);
      return scores;
    }
    // The reference kernels' linear is slow for this shape (one long matrix); a plain dot loop is not.
    const rows = Array.from({ length: m }, (_, q) => queries.subarray(q * d, (q + 1) * d));
    for (let q = 0; q < m; q++) {
      const query = rows[q];
      const out = q * n;
      for (let row = 0; row < n; row++) scores[out + row] = dot(this.matrix, row * d, query, d);
    }
    return scores;
  }

  /** The `wanted` best rows of one query's scores, most similar first, ties by path. */
  private topK(scores: Float32Array, wanted: number, excluded: Uint8Array | null): Neighbour[] {
    const paths = this.paths;
    // A min-heap of the best rows so far: its root is the weakest kept.
    const heapRows = new Int32Array(wanted);
    const heapScores = new Float64Array(wanted);
    let heapSize = 0;
    const worse = (scoreA: number, rowA: number, scoreB: number, rowB: number) => scoreA < scoreB || (scoreA === scoreB && paths[rowA] > paths[rowB]);
    const swap = (i: number, j: number) => {
      const s = heapScores[i]; heapScores[i] = heapScores[j]; heapScores[j] = s;
      const r = heapRows[i]; heapRows[i] = heapRows[j]; heapRows[j] = r;
    };
    for (let row = 0; row < scores.length; row++) {
      if (excluded !== null && excluded[row] === 1) continue;
      const score = scores[row];
      if (heapSize < wanted) {
        let i = heapSize++;
        heapScores[i] = score;
        heapRows[i] = row;
        while (i > 0) {
          const parent = (i - 1) >> 1;
          if (!worse(heapScores[i], heapRows[i], heapScores[parent], heapRows[parent])) break;
          swap(i, parent);
          i = parent;
        }
      } else if (worse(heapScores[0], heapRows[0], score, row)) {
        heapScores[0] = score;
        heapRows[0] = row;
        for (let i = 0; ;) {
          const left = 2 * i + 1;
          if (left >= heapSize) break;
          let child = left;
          if (left + 1 < heapSize && worse(heapScores[left + 1], heapRows[left + 1], heapScores[left], heapRows[left])) child = left + 1;
          if (!worse(heapScores[child], heapRows[child], heapScores[i], heapRows[i])) break;
          swap(i, child);
          i = child;
        }
      }
    }
    const result: Neighbour[] = [];
    for (let i = 0; i < heapSize; i++) result.push({ path: paths[heapRows[i]], similarity: heapScores[i] });
    result.sort((a, b) => b.similarity - a.similarity || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return result;
  }

  /**
   * k distinct indexed paths drawn at random, reproducibly: the same seed and the same set of
   * indexed files give the same sample whatever order they were added in. Fewer when the
   * index (less `exclude`) holds fewer.
   */
  sample(k: number, seed: number, options: NearestOptions = {}): string[] {
    this.assertOpen();
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
    const excluded = new Set([...(options.exclude ?? [])].map((p) => resolve(p)));
    const candidates = excluded.size === 0 ? [...this.sorted()] : this.sorted().filter((p) => !excluded.has(p));
    const random = seededRandom(seed);
    const take = Math.min(k, candidates.length);
    // Partial Fisher–Yates: the first `take` slots end up a uniform sample.
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(random() * (candidates.length - i));
      const swap = candidates[i]; candidates[i] = candidates[j]; candidates[j] = swap;
    }
    return candidates.slice(0, take);
  }

  close(): void {
    this.db?.close();
    this.db = null;
    this.matrix = new Float32Array(0);
  }

  get isOpen(): boolean { return this.db !== null; }

  // ---------------------------------------------------------------------------------------

  private assertOpen(): Database.Database {
    if (!this.db) throw new ImageIndexError(this.file, 'the index is closed');
    return this.db;
  }

  private sorted(): string[] {
    if (!this.sortedPaths) this.sortedPaths = this.paths.slice(0, this.count).sort();
    return this.sortedPaths;
  }

  private excludedRows(exclude: Iterable<string> | undefined): Set<number> {
    const rows = new Set<number>();
    if (!exclude) return rows;
    for (const path of exclude) {
      const row = this.rowOf.get(resolve(path));
      if (row !== undefined) rows.add(row);
    }
    return rows;
  }

  /** Reads every stored vector into the matrix (once, at open). */
  private loadAll(): void {
    const db = this.assertOpen();
    const d = this.dimension;
    const total = (db.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n;
    this.matrix = new Float32Array(Math.max(total, 16) * d);
    const bytes = new Uint8Array(this.matrix.buffer);
    for (const row of db.prepare('SELECT path, size, mtime_ms, embedding FROM images ORDER BY path').iterate() as IterableIterator<{ path: string; size: number; mtime_ms: number; embedding: Buffer }>) {
      if (row.embedding.length !== d * 4) throw new ImageIndexError(this.file, `the stored embedding of ${row.path} has ${row.embedding.length} bytes, expected ${d * 4}: the file is damaged`);
      const index = this.count++;
      bytes.set(row.embedding, index * d * 4);
      this.paths.push(row.path);
      this.rowOf.set(row.path, index);
      this.stats.set(row.path, { size: row.size, mtimeMs: row.mtime_ms });
    }
  }

  /** Writes one batch in a transaction, then mirrors it in memory (only once it is committed). */
  private writeBatch(embedded: readonly EmbeddedFile[], removed: readonly string[]): void {
    const db = this.assertOpen();
    const write = db.transaction(() => {
      for (const path of removed) this.deleteRow.run(path);
      for (const file of embedded) {
        const blob = Buffer.from(file.embedding.buffer, file.embedding.byteOffset, file.embedding.byteLength);
        this.insertRow.run(file.path, file.size, file.mtimeMs, blob);
      }
    });
    try {
      write();
    } catch (error) {
      throw new ImageIndexError(this.file, describeSqliteFailure(this.file, error), { cause: error });
    }
    for (const path of removed) this.removeFromMemory(path);
    for (const file of embedded) this.putInMemory(file);
    this.sortedPaths = null;
  }

  private putInMemory(file: EmbeddedFile): void {
    const d = this.dimension;
    let row = this.rowOf.get(file.path);
    if (row === undefined) {
      row = this.count++;
      if (this.count * d > this.matrix.length) {
        const grown = new Float32Array(Math.max(this.count, Math.ceil((this.matrix.length / d) * 1.5)) * d);
        grown.set(this.matrix.subarray(0, row * d));
        this.matrix = grown;
      }
      this.paths[row] = file.path;
      this.rowOf.set(file.path, row);
    }
    this.matrix.set(file.embedding, row * d);
    this.stats.set(file.path, { size: file.size, mtimeMs: file.mtimeMs });
  }

  /** Removes a row by moving the last row into its place. */
  private removeFromMemory(path: string): void {
    const row = this.rowOf.get(path);
    if (row === undefined) return;
    const d = this.dimension;
    const last = --this.count;
    if (row !== last) {
      this.matrix.copyWithin(row * d, last * d, (last + 1) * d);
      const moved = this.paths[last];
      this.paths[row] = moved;
      this.rowOf.set(moved, row);
    }
    this.paths.length = last;
    this.rowOf.delete(path);
    this.stats.delete(path);
  }
}

function prepareSchema(file: string, db: Database.Database, embedder: ImageEmbedder, options: OpenOptions): void {
  const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name));
  if (tables.size > 0 && !tables.has('index_meta')) {
    throw new ImageIndexError(file, `is an SQLite database but not an image index (tables: ${[...tables].join(', ')})`);
  }
  if (tables.size === 0) {
    db.transaction(() => {
      db.exec(`
        CREATE TABLE index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE images (
          path TEXT PRIMARY KEY,
          size INTEGER NOT NULL,
          mtime_ms REAL NOT NULL,
          embedding BLOB NOT NULL -- float32 little-endian, L2-normalised
        );`);
      writeMeta(db, embedder);
    })();
    return;
  }
  const meta = new Map((db.prepare('SELECT key, value FROM index_meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
  if (meta.get('schema_version') !== SCHEMA_VERSION) {
    throw new ImageIndexError(file, `has index format version ${meta.get('schema_version') ?? '(none)'}; this yollava reads version ${SCHEMA_VERSION}`);
  }
  const storedId = meta.get('embedder_id');
  const storedDimension = Number(meta.get('dimension'));
  if (storedId !== embedder.id || storedDimension !== embedder.dimension) {
    if (!options.rebuild) {
      throw new ImageIndexError(file, `was built with embedder "${storedId}" (dimension ${storedDimension}), not "${embedder.id}" (dimension ${embedder.dimension}); open it with { rebuild: true } to drop its vectors and embed the pool again, or use another index file`);
    }
    db.transaction(() => {
      db.exec('DELETE FROM images');
      writeMeta(db, embedder);
    })();
  }
}

function writeMeta(db: Database.Database, embedder: ImageEmbedder): void {
  const setMeta = db.prepare('INSERT OR REPLACE INTO index_meta (key, value) VALUES (?, ?)');
  setMeta.run('schema_version', SCHEMA_VERSION);
  setMeta.run('embedder_id', embedder.id);
  setMeta.run('dimension', String(embedder.dimension));
}

/** Lists image files under `root`, sorted; unreadable entries go to `failures`. Folder symlinks are not followed (no cycles). */
async function scanImages(root: string, failures: FileFailure[], unreadableFolders: string[], signal?: AbortSignal): Promise<ScannedFile[]> {
  const found: ScannedFile[] = [];
  const folders = [root];
  while (folders.length > 0) {
    signal?.throwIfAborted();
    const folder = folders.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (folder === root) throw error;
      failures.push({ path: folder, reason: `cannot list the folder: ${errorMessage(error)}` });
      unreadableFolders.push(folder);
      continue;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        folders.push(path);
        continue;
      }
      if (!(entry.isFile() || entry.isSymbolicLink())) continue;
      if (!IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) continue;
      try {
        const info = await stat(path);
        if (!info.isFile()) continue;
        found.push({ path, size: info.size, mtimeMs: info.mtimeMs });
      } catch (error) {
        failures.push({ path, reason: `cannot stat: ${errorMessage(error)}` });
      }
    }
  }
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return found;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Null when the embedding is usable, else why not. */
function checkEmbedding(embedding: Float32Array, dimension: number): string | null {
  if (!(embedding instanceof Float32Array)) return 'the embedder did not return a Float32Array';
  if (embedding.length !== dimension) return `the embedder returned ${embedding.length} values, expected ${dimension}`;
  let sum = 0;
  for (let i = 0; i < embedding.length; i++) sum += embedding[i] * embedding[i];
  if (!Number.isFinite(sum) || sum === 0) return 'the embedding is zero or not finite';
  return null;
}

/** A unit-length copy (embedders promise normalised vectors; renormalising guards the dot-product search). */
function normalizedCopy(vector: Float32Array): Float32Array {
  const out = new Float32Array(vector);
  let sum = 0;
  for (let i = 0; i < out.length; i++) sum += out[i] * out[i];
  if (sum > 0 && Number.isFinite(sum)) {
    const scale = 1 / Math.sqrt(sum);
    for (let i = 0; i < out.length; i++) out[i] *= scale;
  }
  return out;
}

function dot(matrix: Float32Array, offset: number, q: Float32Array, d: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 3 < d; i += 4) {
    s0 += matrix[offset + i] * q[i];
    s1 += matrix[offset + i + 1] * q[i + 1];
    s2 += matrix[offset + i + 2] * q[i + 2];
    s3 += matrix[offset + i + 3] * q[i + 3];
  }
  for (; i < d; i++) s0 += matrix[offset + i] * q[i];
  return s0 + s1 + s2 + s3;
}

// ---------------------------------------------------------------------------------------------
// Negatives for personalization

export interface HardNegativeOptions {
  /** Neighbours taken per positive photo (the paper's m). */
  readonly perPositive: number;
  /** Paths never returned (the positive photos themselves when they are in the pool). */
  readonly exclude?: Iterable<string>;
  /**
   * Drop neighbours at least this similar to a positive (near-duplicates of the subject's own
   * photos would be false negatives). Default: keep all.
   */
  readonly maxSimilarity?: number;
}

function assertNotEmpty(index: ImageIndex, what: string): void {
  if (index.size === 0) throw new ImageIndexError(index.file, `cannot pick ${what}: the image index is empty (run update(folder) on a folder of images first)`);
}

/**
 * Hard negatives: for each positive embedding its `perPositive` nearest pool images, merged
 * without duplicates, most similar (to any positive) first.
 */
export function hardNegatives(index: ImageIndex, positiveEmbeddings: readonly Float32Array[], options: HardNegativeOptions): string[] {
  assertNotEmpty(index, 'hard negatives');
  if (!Number.isInteger(options.perPositive) || options.perPositive < 0) throw new RangeError(`perPositive must be a non-negative integer, got ${options.perPositive}`);
  const exclude = [...(options.exclude ?? [])];
  const best = new Map<string, number>();
  for (const neighbours of index.nearestMany(positiveEmbeddings, options.perPositive, { exclude })) {
    for (const { path, similarity } of neighbours) {
      if (options.maxSimilarity !== undefined && similarity >= options.maxSimilarity) continue;
      const previous = best.get(path);
      if (previous === undefined || similarity > previous) best.set(path, similarity);
    }
  }
  const excludedIndexed = new Set(exclude.map((p) => resolve(p)).filter((p) => index.has(p))).size;
  if (excludedIndexed === index.size) throw new ImageIndexError(index.file, 'cannot pick hard negatives: every indexed image is excluded');
  return [...best].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([path]) => path);
}

/** Easy negatives: `count` random pool images (fewer if the pool is smaller), reproducible by seed. */
export function easyNegatives(index: ImageIndex, count: number, options: { seed: number; exclude?: Iterable<string> }): string[] {
  assertNotEmpty(index, 'easy negatives');
  const picked = index.sample(count, options.seed, { exclude: options.exclude });
  if (picked.length === 0 && count > 0) throw new ImageIndexError(index.file, 'cannot pick easy negatives: every indexed image is excluded');
  return picked;
}
