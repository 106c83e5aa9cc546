/**
 * The checkpoint loader on real safetensors files derived from the fixtures: compact dtypes,
 * shards with an index, the three key conventions, and every kind of bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { float32ToBf16, float32ToF16 } from '../../src/engine/dtypes.ts';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/engine/safetensors.ts';
import { ModelLoadError } from '../../src/models/config.ts';
import { loadLlava, sanitizeName } from '../../src/models/loadLlava.ts';
import { f32, fixtureDir, ints, maxAbsDiff, readReference } from '../helpers/fixtures.ts';

const SOURCE = 'tiny-llava-clip-llama';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'yollava-load-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes the fixture's weights with names and values transformed. */
function writeVariant(dir: string, options: { rename?: (name: string) => string; dtype?: 'BF16' | 'F16'; shards?: number; drop?: string; config?: (c: Record<string, unknown>) => void }) {
  const source = fixtureDir(SOURCE);
  const config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8'));
  options.config?.(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const tensors = readSafetensors(join(source, 'model.safetensors'));
  const out: Record<string, TensorToWrite>[] = Array.from({ length: options.shards ?? 1 }, () => ({}));
  let i = 0;
  for (const [name, tensor] of tensors) {
    if (name === options.drop) continue;
    const target = options.rename ? options.rename(name) : name;
    let entry: TensorToWrite = { shape: tensor.shape, data: tensor.data };
    if (options.dtype) {
      const convert = options.dtype === 'BF16' ? float32ToBf16 : float32ToF16;
      entry = { shape: tensor.shape, dtype: options.dtype, data: Uint16Array.from(tensor.data as Float32Array, (v) => convert(v)) };
    }
    out[i++ % out.length][target] = entry;
  }
  if (out.length === 1) {
    writeSafetensors(join(dir, 'model.safetensors'), out[0], { format: 'pt' });
    return;
  }
  const weightMap: Record<string, string> = {};
  out.forEach((shard, s) => {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(out.length).padStart(5, '0')}.safetensors`;
    writeSafetensors(join(dir, file), shard, { format: 'pt' });
    for (const name of Object.keys(shard)) weightMap[name] = file;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
}

function logitsOf(dir: string, dtype: 'auto' | 'float32' = 'auto') {
  const { model } = loadLlava(dir, { dtype });
  const ref = readReference(SOURCE);
  const ids = ints(ref.get('input_ids'));
  const features = model.encodeImage(f32(ref.get('pixel_values')));
  const hidden = model.forward({ ids, images: [features] }, model.decoder.newCache());
  return { logits: model.logitsAt(hidden, ids.map((_, i) => i)), model };
}

test('key names: all three conventions map to one', () => {
  const canonical = [
    ['language_model.model.layers.0.mlp.up_proj.weight', 'language_model.layers.0.mlp.up_proj.weight'],
    ['model.language_model.layers.0.mlp.up_proj.weight', 'language_model.layers.0.mlp.up_proj.weight'],
    ['language_model.lm_head.weight', 'lm_head.weight'],
    ['lm_head.weight', 'lm_head.weight'],
    ['vision_tower.vision_model.embeddings.class_embedding', 'vision_tower.embeddings.class_embedding'],
    ['model.vision_tower.vision_model.embeddings.class_embedding', 'vision_tower.embeddings.class_embedding'],
    ['vision_tower.embeddings.class_embedding', 'vision_tower.embeddings.class_embedding'],
    ['model.multi_modal_projector.linear_1.bias', 'multi_modal_projector.linear_1.bias'],
  ];
  for (const [name, expected] of canonical) assert.equal(sanitizeName(name), expected);
});

test('new-convention names in 3 shards with an index load and give the reference logits', (t) => {
  const dir = tempDir(t);
  writeVariant(dir, {
    shards: 3,
    rename: (name) => name.startsWith('language_model.lm_head.') ? name.replace('language_model.', '') : 'model.' + name.replace('language_model.model.', 'language_model.'),
  });
  const { logits } = logitsOf(dir);
  assert.ok(maxAbsDiff(logits, f32(readReference(SOURCE).get('logits'))) <= 1e-4);
});

test('the mixed convention (vision_tower.* without vision_model.) loads', (t) => {
  const dir = tempDir(t);
  writeVariant(dir, { rename: (name) => name.replace('vision_tower.vision_model.', 'vision_tower.') });
  const { logits } = logitsOf(dir);
  assert.ok(maxAbsDiff(logits, f32(readReference(SOURCE).get('logits'))) <= 1e-4);
});

test('a Mistral language model (BakLLaVA) is Llama with a sliding window: the same logits within it, a clear refusal past it', (t) => {
  // HF's Mistral differs from Llama only by the window mask, which sequences within the window never meet.
  const reference = f32(readReference(SOURCE).get('logits'));
  const length = ints(readReference(SOURCE).get('input_ids')).length;
  const dir = tempDir(t);
  writeVariant(dir, { config: (c) => { (c.text_config as Record<string, unknown>).model_type = 'mistral'; (c.text_config as Record<string, unknown>).sliding_window = length; } });
  const { logits, model } = logitsOf(dir);
  assert.equal(model.decoder.config.kind, 'mistral');
  assert.equal(model.decoder.config.slidingWindow, length);
  assert.ok(maxAbsDiff(logits, reference) <= 1e-4);
  const ids = ints(readReference(SOURCE).get('input_ids'));
  assert.throws(() => model.forward({ ids: [...ids, ids[ids.length - 1]], images: [model.encodeImage(f32(readReference(SOURCE).get('pixel_values')))] }, model.decoder.newCache()),
    new RegExp(`^RangeError: ${length + 1} tokens exceed the model's sliding window of ${length}: sliding-window attention is not implemented`));
  // sliding_window null (Mistral v0.2 on) is full causal attention; a bad one names the file.
  const unbounded = tempDir(t);
  writeVariant(unbounded, { config: (c) => { (c.text_config as Record<string, unknown>).model_type = 'mistral'; (c.text_config as Record<string, unknown>).sliding_window = null; } });
  assert.equal(loadLlava(unbounded).model.decoder.config.slidingWindow, undefined);
  const bad = tempDir(t);
  writeVariant(bad, { config: (c) => { (c.text_config as Record<string, unknown>).model_type = 'mistral'; (c.text_config as Record<string, unknown>).sliding_window = 0; } });
  expectLoadError(bad, /config\.json: text_config\.sliding_window must be a positive integer or null, got 0/);
});

for (const dtype of ['BF16', 'F16'] as const) {
  test(`${dtype} weights stay compact and compute what their float32 widening computes`, (t) => {
    const dir = tempDir(t);
    writeVariant(dir, { dtype });
    const compact = logitsOf(dir, 'auto');
    const q = compact.model.decoder.weights.layers[0].q.weight;
    assert.equal(q.dtype, dtype.toLowerCase());
    assert.ok(q.data instanceof Uint16Array);
    const widened = logitsOf(dir, 'float32');
    assert.equal(widened.model.decoder.weights.layers[0].q.weight.dtype, 'f32');
    const diff = maxAbsDiff(compact.logits, widened.logits);
    assert.ok(diff <= 1e-4, `compact vs widened: ${diff}`);
    // Rounding the weights moves the logits a little from the float32 reference, not a lot.
    const fromReference = maxAbsDiff(compact.logits, f32(readReference(SOURCE).get('logits')));
    assert.ok(fromReference > 0 && fromReference < 0.05, `vs float32 reference: ${fromReference}`);
  });
}

function expectLoadError(dir: string, pattern: RegExp) {
  assert.throws(() => loadLlava(dir), (error: unknown) => {
    assert.ok(error instanceof ModelLoadError, `expected a ModelLoadError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

test('bad checkpoints give clear errors that name the file', (t) => {
  const missing = tempDir(t);
  expectLoadError(join(missing, 'nope'), /nope: is not a folder/);
  expectLoadError(missing, /config\.json: is missing/);

  const badJson = tempDir(t);
  writeFileSync(join(badJson, 'config.json'), '{ not json');
  expectLoadError(badJson, /config\.json: is not valid JSON/);

  const unknownType = tempDir(t);
  writeVariant(unknownType, { config: (c) => { c.model_type = 'bert'; } });
  expectLoadError(unknownType, /config\.json: model_type "bert" is not supported/);

  const unknownText = tempDir(t);
  writeVariant(unknownText, { config: (c) => { (c.text_config as Record<string, unknown>).model_type = 'gpt2'; } });
  expectLoadError(unknownText, /text_config\.model_type "gpt2" is not supported/);

  const wrongShape = tempDir(t);
  writeVariant(wrongShape, { config: (c) => { (c.text_config as Record<string, unknown>).intermediate_size = 97; } });
  expectLoadError(wrongShape, /model\.safetensors: tensor "language_model\.model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[96,64\] but config\.json implies \[97,64\]/);

  const dropped = tempDir(t);
  writeVariant(dropped, { drop: 'language_model.model.norm.weight' });
  expectLoadError(dropped, /tensor "language_model\.norm\.weight" is missing/);

  const truncated = tempDir(t);
  writeVariant(truncated, {});
  const file = join(truncated, 'model.safetensors');
  truncateSync(file, statSync(file).size - 100);
  expectLoadError(truncated, /model\.safetensors: tensor ".*" ends at byte \d+ of the data section but the file holds only \d+ bytes of data \(truncated file\?\)/);

  const notSafetensors = tempDir(t);
  copyFileSync(join(fixtureDir(SOURCE), 'config.json'), join(notSafetensors, 'config.json'));
  writeFileSync(join(notSafetensors, 'model.safetensors'), 'hello, not a tensor file');
  expectLoadError(notSafetensors, /model\.safetensors: header length \d+ does not fit/);

  const noWeights = tempDir(t);
  copyFileSync(join(fixtureDir(SOURCE), 'config.json'), join(noWeights, 'config.json'));
  expectLoadError(noWeights, /holds no model\.safetensors/);

  const missingShard = tempDir(t);
  writeVariant(missingShard, { shards: 2 });
  rmSync(join(missingShard, 'model-00002-of-00002.safetensors'));
  expectLoadError(missingShard, /model-00002-of-00002\.safetensors: is listed in .*index\.json but does not exist/);
});
