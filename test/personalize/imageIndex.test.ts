/**
 * The image index over real PNG files written by sharp, with a deterministic fake embedder
 * (the image's mean colour, normalised) whose neighbours can be checked by hand; then the two
 * real embedders: the base model's vision tower on a tiny checkpoint, and CLIP on a tiny
 * random CLIP checkpoint checked against a plain recomputation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { getKernels } from '../../src/engine/backend.ts';
import { jsKernels } from '../../src/engine/jsKernels.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/engine/safetensors.ts';
import { ModelLoadError } from '../../src/models/config.ts';
import { decodeImage } from '../../src/models/image/decodeImage.ts';
import type { RgbImage } from '../../src/models/image/RgbImage.ts';
import { ImageProcessor } from '../../src/models/image/ImageProcessor.ts';
import { seededNormal } from '../../src/models/randomLlava.ts';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { VisionTower } from '../../src/models/visionTower.ts';
import { easyNegatives, hardNegatives, ImageIndex, ImageIndexError, type UpdateProgress } from '../../src/personalize/ImageIndex.ts';
import { clipEmbedder, visionTowerEmbedder, type ImageEmbedder } from '../../src/personalize/imageEmbedder.ts';
import { loadClipVision } from '../../src/personalize/loadClipVision.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';

type Rgb = readonly [number, number, number];

/** Mean colour of the image as a unit vector; counts its calls. */
class MeanColourEmbedder implements ImageEmbedder {
  readonly dimension = 3;
  calls = 0;
  constructor(readonly id = 'mean-colour-v1') {}
  async embed(image: RgbImage): Promise<Float32Array> {
    this.calls++;
    const sum = [0, 0, 0];
    for (let i = 0; i < image.data.length; i += 3) for (let c = 0; c < 3; c++) sum[c] += image.data[i + c];
    const norm = Math.hypot(...sum);
    return Float32Array.from(sum, (v) => v / norm);
  }
}

function tempDir(t: { after: (fn: () => void) => void }, prefix = 'yollava-index-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function writeSolid(path: string, colour: Rgb, size = 8): Promise<void> {
  await sharp({ create: { width: size, height: size, channels: 3, background: { r: colour[0], g: colour[1], b: colour[2] } } }).png().toFile(path);
}

// Solid colours whose mean-colour cosines are easy to order by hand.
const POOL: Record<string, Rgb> = {
  'red.png': [250, 10, 10],
  'orange.png': [250, 120, 10],
  'yellow.png': [250, 250, 10],
  'green.png': [10, 250, 10],
  'cyan.png': [10, 250, 250],
  'blue.png': [10, 10, 250],
  'grey.png': [128, 128, 128],
};

async function writePool(dir: string): Promise<void> {
  for (const [name, colour] of Object.entries(POOL)) await writeSolid(join(dir, name), colour);
}

const unit = (v: readonly number[]) => { const n = Math.hypot(...v); return Float32Array.from(v, (x) => x / n); };
const names = (paths: readonly string[]) => paths.map((p) => p.split('/').pop());

test('nearest neighbours on a small pool are the hand-checked ones', async (t) => {
  const dir = tempDir(t);
  const pool = join(dir, 'pool');
  mkdirSync(pool);
  await writePool(pool);
  writeFileSync(join(pool, 'notes.txt'), 'not an image');
  const embedder = new MeanColourEmbedder();
  const index = ImageIndex.open(join(dir, 'index.sqlite'), embedder);
  t.after(() => index.close());
  const result = await index.update(pool);
  assert.equal(result.scanned, 7);
  assert.equal(result.added, 7);
  assert.equal(index.size, 7);
  assert.deepEqual(result.failures, []);

  // Pure red: red (cos ≈ 0.998), then orange (≈ 0.90), then yellow (≈ 0.71), grey (≈ 0.577).
  const red = index.nearest(unit([1, 0, 0]), 4);
  assert.deepEqual(names(red.map((n) => n.path)), ['red.png', 'orange.png', 'yellow.png', 'grey.png']);
  const expected = [[250, 10, 10], [250, 120, 10], [250, 250, 10], [128, 128, 128]].map((c) => c[0] / Math.hypot(...c));
  red.forEach((n, i) => assert.ok(Math.abs(n.similarity - expected[i]) < 1e-6, `${n.path}: ${n.similarity} vs ${expected[i]}`));
  assert.equal(red[0].path, join(pool, 'red.png'), 'paths are absolute');

  assert.deepEqual(names(index.nearest(unit([0, 0, 1]), 2).map((n) => n.path)), ['blue.png', 'cyan.png']);
  // Not normalised queries are normalised; exclusion skips paths.
  assert.deepEqual(names(index.nearest(Float32Array.from([0, 0, 5]), 2, { exclude: [join(pool, 'blue.png')] }).map((n) => n.path)), ['cyan.png', 'grey.png']);
  assert.equal(index.nearest(unit([1, 1, 1]), 100).length, 7, 'k past the pool gives the whole pool');
  assert.equal(index.nearest(unit([1, 1, 1]), 1)[0].path, join(pool, 'grey.png'));
  assert.deepEqual(index.nearest(unit([1, 1, 1]), 0), []);
  assert.throws(() => index.nearest(new Float32Array(4), 1), (e: Error) => e instanceof ImageIndexError && /4 values/.test(e.message));
  assert.ok(Math.abs(index.embeddingOf(join(pool, 'grey.png'))![0] - 1 / Math.sqrt(3)) < 1e-6);
});

test('nearest: the BLAS and plain-loop paths agree with a full sort, one query or many', async (t) => {
  const dir = tempDir(t);
  const normal = seededNormal(5);
  for (let i = 0; i < 60; i++) {
    const pixels = Buffer.from(Array.from({ length: 4 * 4 * 3 }, () => Math.max(0, Math.min(255, Math.round(128 + 60 * normal())))));
    await sharp(pixels, { raw: { width: 4, height: 4, channels: 3 } }).png().toFile(join(dir, `noise-${String(i).padStart(2, '0')}.png`));
  }
  // 48 dimensions: the centred pixel values themselves.
  const pixelEmbedder: ImageEmbedder = { id: 'pixels-v1', dimension: 48, embed: async (image) => unit(Array.from(image.data, (v) => v - 128)) };
  const file = join(dir, 'index.sqlite');
  const blas = ImageIndex.open(file, pixelEmbedder, { kernels: getKernels });
  t.after(() => blas.close());
  await blas.update(dir);
  const plain = ImageIndex.open(file, pixelEmbedder, { kernels: () => jsKernels });
  t.after(() => plain.close());
  const queries = Array.from({ length: 5 }, () => Float32Array.from({ length: 48 }, () => normal()));
  const exclude = [join(dir, 'noise-07.png'), join(dir, 'noise-33.png')];
  const many = blas.nearestMany(queries, 6, { exclude });
  queries.forEach((query, i) => {
    const q = unit(Array.from(query));
    const all = blas.allPaths().filter((p) => !exclude.includes(p)).map((path) => {
      const e = blas.embeddingOf(path)!;
      return { path, similarity: e.reduce((s, v, j) => s + v * q[j], 0) };
    }).sort((a, b) => b.similarity - a.similarity);
    for (const found of [blas.nearest(query, 6, { exclude }), plain.nearest(query, 6, { exclude }), many[i]]) {
      assert.deepEqual(found.map((n) => n.path), all.slice(0, 6).map((n) => n.path));
      found.forEach((n, j) => assert.ok(Math.abs(n.similarity - all[j].similarity) < 1e-5));
    }
  });
});

test('update embeds only new and changed files, drops removed ones, and persists across close/open', async (t) => {
  const dir = tempDir(t);
  const pool = join(dir, 'pool');
  mkdirSync(join(pool, 'sub', 'deeper'), { recursive: true });
  await writePool(pool);
  await writeSolid(join(pool, 'sub', 'deeper', 'violet.PNG'), [200, 10, 240]);
  const file = join(dir, 'index.sqlite');
  const embedder = new MeanColourEmbedder();
  let index = ImageIndex.open(file, embedder);
  assert.equal((await index.update(pool)).added, 8, 'sub-folders are scanned, extensions case-insensitive');
  assert.equal(embedder.calls, 8);

  const again = await index.update(pool);
  assert.equal(embedder.calls, 8, 'nothing changed: nothing embedded');
  assert.deepEqual({ ...again, failures: again.failures.length }, { scanned: 8, added: 0, changed: 0, removed: 0, unchanged: 8, failures: 0 });

  // Add one, change one (red becomes blue, with a later mtime), delete one.
  await writeSolid(join(pool, 'sub', 'white.jpg'), [255, 255, 255]);
  await writeSolid(join(pool, 'red.png'), [10, 10, 250]);
  const later = new Date(Date.now() + 5000);
  utimesSync(join(pool, 'red.png'), later, later);
  unlinkSync(join(pool, 'green.png'));
  const incremental = await index.update(pool);
  assert.equal(embedder.calls, 10, 'only the added and the changed file are embedded');
  assert.deepEqual({ ...incremental, failures: incremental.failures.length }, { scanned: 8, added: 1, changed: 1, removed: 1, unchanged: 6, failures: 0 });
  assert.equal(index.size, 8);
  assert.equal(index.has(join(pool, 'green.png')), false);
  const blueish = names(index.nearest(unit([0, 0, 1]), 2).map((n) => n.path)).sort();
  assert.deepEqual(blueish, ['blue.png', 'red.png'], 'the changed file has its new vector');
  const before = index.nearest(unit([0.3, 0.5, 0.2]), 8);
  index.close();
  assert.throws(() => index.nearest(unit([1, 0, 0]), 1), /closed/);

  const reopenedEmbedder = new MeanColourEmbedder();
  index = ImageIndex.open(file, reopenedEmbedder);
  t.after(() => index.close());
  assert.equal(index.size, 8);
  assert.deepEqual(index.nearest(unit([0.3, 0.5, 0.2]), 8), before, 'the same neighbours after reopening');
  await index.update(pool);
  assert.equal(reopenedEmbedder.calls, 0, 'a reopened index re-embeds nothing');

  // A second folder in the same index is kept apart: updating one does not drop the other.
  const other = join(dir, 'other');
  mkdirSync(other);
  await writeSolid(join(other, 'black-ish.webp'), [30, 20, 20]);
  await index.update(other);
  assert.equal(index.size, 9);
  await index.update(pool);
  assert.equal(index.size, 9);
});

test('an index built with another embedder is refused, or rebuilt on request', async (t) => {
  const dir = tempDir(t);
  await writePool(dir);
  const file = join(dir, 'index.sqlite');
  const first = ImageIndex.open(file, new MeanColourEmbedder('mean-colour-v1'));
  await first.update(dir);
  first.close();

  const other = new MeanColourEmbedder('other-model');
  assert.throws(() => ImageIndex.open(file, other), (e: Error) =>
    e instanceof ImageIndexError && e.message.includes(file) && /built with embedder "mean-colour-v1"/.test(e.message) && /rebuild: true/.test(e.message));
  const rebuilt = ImageIndex.open(file, other, { rebuild: true });
  t.after(() => rebuilt.close());
  assert.equal(rebuilt.size, 0, 'the old vectors are dropped');
  await rebuilt.update(dir);
  assert.equal(other.calls, 7);
  assert.equal(rebuilt.size, 7);
});

test('unreadable files are reported and skipped; a changed file that breaks loses its old vector', async (t) => {
  const dir = tempDir(t);
  await writePool(dir);
  writeFileSync(join(dir, 'broken.png'), Buffer.from('this is not a png at all'));
  writeFileSync(join(dir, 'empty.jpg'), Buffer.alloc(0));
  await writeSolid(join(dir, 'black.png'), [0, 0, 0]); // decodes, but its mean colour is zero
  const embedder = new MeanColourEmbedder();
  const index = ImageIndex.open(join(dir, 'index.sqlite'), embedder);
  t.after(() => index.close());
  const result = await index.update(dir);
  assert.equal(index.size, 7);
  assert.deepEqual(result.failures.map((f) => f.path.split('/').pop()).sort(), ['black.png', 'broken.png', 'empty.jpg']);
  for (const failure of result.failures) assert.ok(failure.reason.length > 0);
  assert.match(result.failures.find((f) => f.path.endsWith('broken.png'))!.reason, /broken\.png/);
  assert.match(result.failures.find((f) => f.path.endsWith('black.png'))!.reason, /zero/);

  writeFileSync(join(dir, 'red.png'), Buffer.from('truncated now'));
  const second = await index.update(dir);
  assert.equal(index.has(join(dir, 'red.png')), false);
  assert.equal(second.failures.length, 4, 'failures are retried (and reported) on every update');
  assert.equal(index.size, 6);
});

test('progress is reported file by file, and an abort keeps what was finished', async (t) => {
  const dir = tempDir(t);
  await writePool(dir);
  const file = join(dir, 'index.sqlite');
  const embedder = new MeanColourEmbedder();
  const index = ImageIndex.open(file, embedder);
  t.after(() => index.close());
  const controller = new AbortController();
  const seen: UpdateProgress[] = [];
  await assert.rejects(index.update(dir, {
    signal: controller.signal,
    onProgress: (p) => { seen.push(p); if (p.done === 3) controller.abort(); },
  }), (e: Error) => e.name === 'AbortError');
  assert.deepEqual(seen.map((p) => p.done), [0, 1, 2, 3]);
  assert.ok(seen.every((p) => p.total === 7 && p.failed === 0));
  assert.equal(seen[0].path, null);
  assert.equal(index.size, 3, 'the three finished files are committed');

  const resumed: UpdateProgress[] = [];
  const result = await index.update(dir, { onProgress: (p) => resumed.push(p) });
  assert.equal(result.added, 4);
  assert.equal(embedder.calls, 7, 'the resumed update embeds only the rest');
  assert.deepEqual(resumed.map((p) => `${p.done}/${p.total}`), ['0/4', '1/4', '2/4', '3/4', '4/4']);
  await assert.rejects(index.update(dir, { signal: AbortSignal.abort() }), (e: Error) => e.name === 'AbortError');

  // Failures are reported as they happen; a second update while one runs is refused.
  writeFileSync(join(dir, 'broken.webp'), 'not an image');
  const failuresSeen: string[] = [];
  const running = index.update(dir, { onProgress: (p) => { if (p.failure) failuresSeen.push(p.failure.path); } });
  await assert.rejects(index.update(dir), /already running/);
  assert.equal((await running).failures.length, 1);
  assert.deepEqual(failuresSeen, [join(dir, 'broken.webp')]);
});

test('hard and easy negatives', async (t) => {
  const dir = tempDir(t);
  await writePool(dir);
  const index = ImageIndex.open(join(dir, 'index.sqlite'), new MeanColourEmbedder());
  t.after(() => index.close());

  assert.throws(() => hardNegatives(index, [unit([1, 0, 0])], { perPositive: 2 }), (e: Error) => e instanceof ImageIndexError && /empty/.test(e.message));
  assert.throws(() => easyNegatives(index, 5, { seed: 1 }), (e: Error) => e instanceof ImageIndexError && /empty/.test(e.message));
  await index.update(dir);

  // Red's top 2: red (0.998), orange (0.901); orange's: orange (1), yellow (0.943). Merged
  // without duplicates, by best similarity.
  const hard = hardNegatives(index, [unit([1, 0, 0]), unit([250, 120, 10])], { perPositive: 2 });
  assert.deepEqual(names(hard), ['orange.png', 'red.png', 'yellow.png']);
  const hardExcluding = hardNegatives(index, [unit([1, 0, 0]), unit([0, 0, 1])], { perPositive: 2, exclude: [join(dir, 'red.png')] });
  assert.deepEqual(names(hardExcluding), ['blue.png', 'orange.png', 'cyan.png', 'yellow.png']);
  const noDuplicates = hardNegatives(index, [unit([250, 120, 10])], { perPositive: 3, maxSimilarity: 0.9999 });
  assert.deepEqual(names(noDuplicates), ['yellow.png', 'red.png'], 'near-duplicates of a positive are dropped');
  assert.throws(() => hardNegatives(index, [unit([1, 0, 0])], { perPositive: 1, exclude: index.allPaths() }), /every indexed image is excluded/);

  const easy = easyNegatives(index, 4, { seed: 7 });
  assert.equal(new Set(easy).size, 4);
  assert.deepEqual(easyNegatives(index, 4, { seed: 7 }), easy, 'the same seed gives the same sample');
  const seeds = new Set(Array.from({ length: 6 }, (_, s) => easyNegatives(index, 4, { seed: s }).join()));
  assert.ok(seeds.size > 1, 'other seeds give other samples');
  assert.equal(easyNegatives(index, 50, { seed: 1 }).length, 7, 'no more than the pool');
  const excluding = easyNegatives(index, 10, { seed: 3, exclude: [join(dir, 'red.png')] });
  assert.equal(excluding.length, 6);
  assert.ok(!excluding.includes(join(dir, 'red.png')));
  assert.throws(() => easyNegatives(index, 3, { seed: 1, exclude: index.allPaths() }), /every indexed image is excluded/);
});

test('opening: missing or read-only folders, files that are not an index', async (t) => {
  const dir = tempDir(t);
  const embedder = new MeanColourEmbedder();
  const missing = join(dir, 'nope', 'index.sqlite');
  assert.throws(() => ImageIndex.open(missing, embedder), (e: Error) => e instanceof ImageIndexError && e.message.includes(missing) && /does not exist/.test(e.message));

  const notSqlite = join(dir, 'notes.sqlite');
  writeFileSync(notSqlite, 'x'.repeat(4096));
  assert.throws(() => ImageIndex.open(notSqlite, embedder), (e: Error) => e instanceof ImageIndexError && /not an SQLite file/.test(e.message));

  const foreign = join(dir, 'foreign.sqlite');
  const db = new Database(foreign);
  db.exec('CREATE TABLE users (name TEXT)');
  db.close();
  assert.throws(() => ImageIndex.open(foreign, embedder), /not an image index \(tables: users\)/);
  assert.throws(() => ImageIndex.open(dir, embedder), /is a folder/);
  const index = ImageIndex.open(join(dir, 'index.sqlite'), embedder);
  t.after(() => index.close());
  await assert.rejects(index.update(join(dir, 'no-such-pool')), (e: Error) => e instanceof ImageIndexError && /does not exist/.test(e.message));
});

test('an index cannot be created in a read-only folder', async (t) => {
  const dir = tempDir(t);
  const readOnly = join(dir, 'ro');
  mkdirSync(readOnly);
  // Root ignores permission bits; the immutable attribute stops root too.
  const root = process.getuid?.() === 0;
  const lock = () => (root ? spawnSync('chattr', ['+i', readOnly]).status === 0 : (chmodSync(readOnly, 0o555), true));
  const unlock = () => (root ? spawnSync('chattr', ['-i', readOnly]) : chmodSync(readOnly, 0o755));
  if (!lock()) return t.skip('cannot make a folder read-only here (no chattr)');
  try {
    const file = join(readOnly, 'index.sqlite');
    assert.throws(() => ImageIndex.open(file, new MeanColourEmbedder()), (e: Error) => e instanceof ImageIndexError && e.message.includes(file) && /read-only/.test(e.message));
  } finally {
    unlock(); // before the temporary folder is removed
  }
});

// -------------------------------------------------------------------------------------------
// Real embedders

test('visionTowerEmbedder: mean of the post-normed last hidden state, normalised', async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 3 });
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const embedder = visionTowerEmbedder(vlm);
  assert.equal(embedder.dimension, 32);
  const image = await decodeImage(tiny.photos[0]);
  const vector = await embedder.embed(image);
  assert.equal(vector.length, 32);
  assert.ok(Math.abs(Math.hypot(...vector) - 1) < 1e-5);

  // Straightforward recomputation: all layers, layernorm each token with post_layernorm's weights, average.
  const tower = vlm.model.visionTower;
  assert.ok(tower instanceof VisionTower);
  const { hiddenStates } = tower.forward(vlm.imageProcessor.preprocess(image).pixelValues);
  const last = hiddenStates[hiddenStates.length - 1];
  const norm = tower.weights.postNorm;
  const mean = new Float64Array(32);
  for (let tkn = 0; tkn < tower.numTokens; tkn++) {
    const row = Array.from(last.subarray(tkn * 32, (tkn + 1) * 32));
    let normed = row;
    if (norm) {
      const mu = row.reduce((a, b) => a + b, 0) / 32;
      const variance = row.reduce((a, b) => a + (b - mu) ** 2, 0) / 32;
      normed = row.map((x, c) => ((x - mu) / Math.sqrt(variance + 1e-5)) * norm.weight[c] + norm.bias[c]);
    }
    normed.forEach((x, c) => { mean[c] += x / tower.numTokens; });
  }
  const expected = unit(Array.from(mean));
  for (let c = 0; c < 32; c++) assert.ok(Math.abs(vector[c] - expected[c]) < 1e-5, `component ${c}`);

  const index = ImageIndex.open(join(tiny.dir, 'pool.sqlite'), embedder);
  t.after(() => index.close());
  const result = await index.update(tiny.dir);
  assert.equal(result.added, 3);
  const top = index.nearest(vector, 1)[0];
  assert.equal(top.path, tiny.photos[0]);
  assert.ok(top.similarity > 0.9999);
  index.close();

  // The same checkpoint in another folder: the same id, so the pool is not embedded again.
  const copy = join(tiny.dir, 'copied-model');
  mkdirSync(copy);
  for (const name of readdirSync(tiny.dir)) if (/\.(json|safetensors)$/.test(name)) copyFileSync(join(tiny.dir, name), join(copy, name));
  const copiedEmbedder = visionTowerEmbedder(await VisionLanguageModel.load(copy));
  assert.equal(copiedEmbedder.id, embedder.id, 'the id does not depend on the folder');
  const reopened = ImageIndex.open(join(tiny.dir, 'pool.sqlite'), copiedEmbedder);
  t.after(() => reopened.close());
  const again = await reopened.update(tiny.dir);
  assert.equal(again.added, 0, 'the vectors made under the first folder are reused');

  // Weights retrained in place (same folder, same config): another id, so the old vectors are not reused.
  assert.equal(visionTowerEmbedder(vlm).id, embedder.id, 'the id is stable for the same weights');
  const firstWeights = Object.values(tower.weights).find((w): w is Float32Array => w instanceof Float32Array) ?? tower.weights.postNorm!.weight;
  firstWeights[0] += 0.5;
  assert.notEqual(visionTowerEmbedder(vlm).id, embedder.id);
});

/** Random CLIP vision weights in HF names (with `vision_model.` prefix) and a visual projection. */
function randomClipTensors(c: { hidden: number; inter: number; layers: number; image: number; patch: number; proj: number }, seed: number): Record<string, TensorToWrite> {
  const normal = seededNormal(seed);
  const rand = (shape: number[], std = 0.3, mean = 0) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => mean + std * normal()) });
  const tokens = (c.image / c.patch) ** 2 + 1;
  const out: Record<string, TensorToWrite> = {
    'vision_model.embeddings.class_embedding': rand([c.hidden]),
    'vision_model.embeddings.patch_embedding.weight': rand([c.hidden, 3, c.patch, c.patch], 0.05),
    'vision_model.embeddings.position_embedding.weight': rand([tokens, c.hidden]),
    'vision_model.pre_layrnorm.weight': rand([c.hidden], 0.1, 1), 'vision_model.pre_layrnorm.bias': rand([c.hidden], 0.1),
    'vision_model.post_layernorm.weight': rand([c.hidden], 0.1, 1), 'vision_model.post_layernorm.bias': rand([c.hidden], 0.1),
    'visual_projection.weight': rand([c.proj, c.hidden]),
  };
  for (let l = 0; l < c.layers; l++) {
    const p = `vision_model.encoder.layers.${l}`;
    for (const n of ['layer_norm1', 'layer_norm2']) { out[`${p}.${n}.weight`] = rand([c.hidden], 0.1, 1); out[`${p}.${n}.bias`] = rand([c.hidden], 0.1); }
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) { out[`${p}.self_attn.${n}.weight`] = rand([c.hidden, c.hidden]); out[`${p}.self_attn.${n}.bias`] = rand([c.hidden], 0.1); }
    out[`${p}.mlp.fc1.weight`] = rand([c.inter, c.hidden]); out[`${p}.mlp.fc1.bias`] = rand([c.inter], 0.1);
    out[`${p}.mlp.fc2.weight`] = rand([c.hidden, c.inter]); out[`${p}.mlp.fc2.bias`] = rand([c.hidden], 0.1);
  }
  return out;
}

/** CLIP's image_embeds computed the plain way, straight from the tensors (float64, loops). */
function plainClipEmbedding(w: Record<string, TensorToWrite>, c: { hidden: number; inter: number; layers: number; image: number; patch: number; proj: number; heads: number }, pixels: Float32Array): Float64Array {
  const get = (name: string) => w[name].data as Float32Array;
  const C = c.hidden;
  const side = c.image / c.patch;
  const N = side * side + 1;
  const layerNorm = (x: number[], weight: Float32Array, bias: Float32Array) => {
    const mu = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mu) ** 2, 0) / x.length;
    return x.map((v, i) => ((v - mu) / Math.sqrt(variance + 1e-5)) * weight[i] + bias[i]);
  };
  const linear = (x: number[], weight: Float32Array, bias: Float32Array | null, out: number) =>
    Array.from({ length: out }, (_, o) => x.reduce((s, v, i) => s + v * weight[o * x.length + i], bias ? bias[o] : 0));
  const conv = get('vision_model.embeddings.patch_embedding.weight');
  let x: number[][] = [Array.from(get('vision_model.embeddings.class_embedding'))];
  for (let py = 0; py < side; py++) for (let px = 0; px < side; px++) {
    const token = new Array(C).fill(0);
    for (let o = 0; o < C; o++) for (let ch = 0; ch < 3; ch++) for (let ky = 0; ky < c.patch; ky++) for (let kx = 0; kx < c.patch; kx++) {
      token[o] += conv[((o * 3 + ch) * c.patch + ky) * c.patch + kx] * pixels[(ch * c.image + py * c.patch + ky) * c.image + px * c.patch + kx];
    }
    x.push(token);
  }
  const position = get('vision_model.embeddings.position_embedding.weight');
  x = x.map((token, n) => token.map((v, i) => v + position[n * C + i]));
  x = x.map((token) => layerNorm(token, get('vision_model.pre_layrnorm.weight'), get('vision_model.pre_layrnorm.bias')));
  const D = C / c.heads;
  for (let l = 0; l < c.layers; l++) {
    const p = `vision_model.encoder.layers.${l}`;
    const h = x.map((token) => layerNorm(token, get(`${p}.layer_norm1.weight`), get(`${p}.layer_norm1.bias`)));
    const [q, k, v] = ['q_proj', 'k_proj', 'v_proj'].map((n) => h.map((token) => linear(token, get(`${p}.self_attn.${n}.weight`), get(`${p}.self_attn.${n}.bias`), C)));
    const attended = h.map(() => new Array(C).fill(0));
    for (let head = 0; head < c.heads; head++) for (let i = 0; i < N; i++) {
      const scores = Array.from({ length: N }, (_, j) => { let s = 0; for (let d = 0; d < D; d++) s += q[i][head * D + d] * k[j][head * D + d]; return s / Math.sqrt(D); });
      const top = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - top));
      const total = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < N; j++) for (let d = 0; d < D; d++) attended[i][head * D + d] += (e[j] / total) * v[j][head * D + d];
    }
    x = x.map((token, n) => linear(attended[n], get(`${p}.self_attn.out_proj.weight`), get(`${p}.self_attn.out_proj.bias`), C).map((v2, i) => v2 + token[i]));
    x = x.map((token) => {
      const h2 = layerNorm(token, get(`${p}.layer_norm2.weight`), get(`${p}.layer_norm2.bias`));
      const up = linear(h2, get(`${p}.mlp.fc1.weight`), get(`${p}.mlp.fc1.bias`), c.inter).map((u) => u / (1 + Math.exp(-1.702 * u))); // quick_gelu
      return linear(up, get(`${p}.mlp.fc2.weight`), get(`${p}.mlp.fc2.bias`), C).map((v2, i) => v2 + token[i]);
    });
  }
  const pooled = layerNorm(x[0], get('vision_model.post_layernorm.weight'), get('vision_model.post_layernorm.bias'));
  const embedding = linear(pooled, get('visual_projection.weight'), null, c.proj);
  const norm = Math.hypot(...embedding);
  return Float64Array.from(embedding, (v) => v / norm);
}

test('clipEmbedder: a tiny random CLIP checkpoint matches a plain recomputation, in both layouts', async (t) => {
  const dir = tempDir(t, 'yollava-clip-');
  const shape = { hidden: 16, inter: 24, layers: 2, heads: 2, image: 28, patch: 14, proj: 8 };
  const weights = randomClipTensors(shape, 11);
  const visionJson = { hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2, image_size: 28, patch_size: 14, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5 };
  // CLIPVisionModelWithProjection, no preprocessor_config.json (CLIP's defaults at image_size).
  const withProjection = join(dir, 'with-projection');
  mkdirSync(withProjection);
  writeFileSync(join(withProjection, 'config.json'), JSON.stringify({ model_type: 'clip_vision_model', projection_dim: 8, ...visionJson }));
  writeSafetensors(join(withProjection, 'model.safetensors'), { ...weights, 'vision_model.embeddings.position_ids': { shape: [1, 5], data: new BigInt64Array(5) } });
  // Full CLIPModel: text weights and logit_scale beside, settings under vision_config.
  const full = join(dir, 'full');
  mkdirSync(full);
  writeFileSync(join(full, 'config.json'), JSON.stringify({ model_type: 'clip', projection_dim: 8, vision_config: visionJson, text_config: { hidden_size: 4 } }));
  writeSafetensors(join(full, 'model.safetensors'), { ...weights, 'text_projection.weight': { shape: [8, 4], data: new Float32Array(32) }, logit_scale: { shape: [], data: new Float32Array([2.6592]) } });

  const photo = join(dir, 'photo.png');
  await sharp(Buffer.from(Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 53) % 256)), { raw: { width: 40, height: 30, channels: 3 } }).png().toFile(photo);
  const image = await decodeImage(photo);
  const pixels = new ImageProcessor({ kind: 'clip', size: { shortestEdge: 28 }, cropSize: { height: 28, width: 28 } }).preprocess(image).pixelValues;
  const expected = plainClipEmbedding(weights, shape, pixels);

  const embeddings: Float32Array[] = [];
  for (const folder of [withProjection, full]) {
    const embedder = clipEmbedder(folder);
    assert.equal(embedder.dimension, 8);
    assert.ok(embedder.id.startsWith('clip-image-embeds-v2:') && !embedder.id.includes(folder), embedder.id);
    const vector = await embedder.embed(image);
    for (let i = 0; i < 8; i++) assert.ok(Math.abs(vector[i] - expected[i]) < 1e-5, `${folder} component ${i}: ${vector[i]} vs ${expected[i]}`);
    embeddings.push(vector);
  }
  assert.deepEqual(embeddings[0], embeddings[1]);
  assert.notEqual(clipEmbedder(withProjection).id, clipEmbedder(full).id);

  // Clear errors naming the file.
  const noProjection = join(dir, 'no-projection');
  mkdirSync(noProjection);
  writeFileSync(join(noProjection, 'config.json'), JSON.stringify({ model_type: 'clip_vision_model', ...visionJson }));
  const { 'visual_projection.weight': _dropped, ...rest } = weights;
  writeSafetensors(join(noProjection, 'model.safetensors'), rest);
  assert.throws(() => loadClipVision(noProjection), (e: Error) => e instanceof ModelLoadError && e.message.includes(join(noProjection, 'model.safetensors')) && /visual_projection/.test(e.message));
  writeFileSync(join(noProjection, 'config.json'), JSON.stringify({ model_type: 'clip_vision_model', projection_dim: 8, ...visionJson, hidden_size: 32 }));
  writeSafetensors(join(noProjection, 'model.safetensors'), weights);
  assert.throws(() => loadClipVision(noProjection), (e: Error) => e instanceof ModelLoadError && /model\.safetensors: tensor ".*" has shape/.test(e.message));
  writeFileSync(join(noProjection, 'config.json'), JSON.stringify({ model_type: 'llava' }));
  assert.throws(() => loadClipVision(noProjection), (e: Error) => e instanceof ModelLoadError && e.message.includes('config.json') && /not a CLIP checkpoint/.test(e.message));
  assert.throws(() => loadClipVision(join(dir, 'absent')), /is not a folder/);
});
