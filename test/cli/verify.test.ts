/** `yollava verify` as a user runs it: a real process on every fixture, a tampered reference, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/engine/safetensors.ts';
import { fixtureDir, fixtureModels, repoRoot } from '../helpers/fixtures.ts';

function yollava(...args: string[]) {
  const result = spawnSync(process.execPath, [join(repoRoot, 'bin', 'yollava.mjs'), ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

for (const name of fixtureModels) {
  test(`verify passes on ${name}`, () => {
    const dir = fixtureDir(name);
    const { code, stdout, stderr } = yollava('verify', dir, '--reference', join(dir, 'reference.safetensors'));
    assert.equal(code, 0, stdout + stderr);
    for (const tensor of ['vision_hidden_states', 'image_features_projected', 'text_hidden_states', 'logits', 'text_logits', 'generated_ids', 'soft_grad_P', 'text_soft_grad_w_new']) {
      assert.match(stdout, new RegExp(`^${tensor} .* pass$`, 'm'));
    }
    assert.match(stdout, /^20 passed, 0 failed/m);
  });
}

test('verify fails (exit 1) on a tampered reference and names the tensor', (t) => {
  const dir = fixtureDir('tiny-llava-clip-llama');
  const temp = mkdtempSync(join(tmpdir(), 'yollava-verify-'));
  t.after(() => rmSync(temp, { recursive: true, force: true }));
  const reference = readSafetensors(join(dir, 'reference.safetensors'));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, tensor] of reference) tensors[name] = { shape: tensor.shape, data: tensor.data, dtype: tensor.dtype };
  const logits = (reference.get('text_logits')!.data as Float32Array).slice();
  logits[7] += 0.01;
  tensors.text_logits = { shape: reference.get('text_logits')!.shape, data: logits };
  const file = join(temp, 'reference.safetensors');
  writeSafetensors(file, tensors);
  const { code, stdout } = yollava('verify', dir, '--reference', file);
  assert.equal(code, 1);
  assert.match(stdout, /^text_logits .* FAIL$/m);
  assert.match(stdout, /^19 passed, 1 failed/m);
});

test('verify rejects bad input with exit 2 and a one-line message', () => {
  const dir = fixtureDir('tiny-llava-clip-llama');
  const missing = yollava('verify', dir, '--reference', '/no/such/reference.safetensors');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /\/no\/such\/reference\.safetensors: reference file not found/);
  const wrongModel = yollava('verify', fixtureDir('tiny-llava-siglip-qwen2'), '--reference', join(dir, 'reference.safetensors'));
  assert.equal(wrongModel.code, 2);
  assert.match(wrongModel.stderr, /pixel_values holds 2352 values, the model gives 3072/);
  assert.doesNotMatch(wrongModel.stderr, /\n\s+at /, 'no stack trace');
  const noArgs = yollava('verify');
  assert.equal(noArgs.code, 2);
  const unknown = yollava('frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});
