/**
 * `yollava demo`'s mechanics on a tiny random checkpoint (the shipped default model is what
 * makes its answers right): the world is written once, a subject is learned from 5 photos with
 * hard and easy negatives, recognized among new photos, and asked about with and without a photo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/fixtures.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';

test('demo runs every step and saves the concept', async (t) => {
  const tiny = await makeTinyCheckpoint(t);
  const home = mkdtempSync(join(tmpdir(), 'yollava-demo-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const result = spawnSync(process.execPath, [join(repoRoot, 'bin', 'yollava.mjs'), 'demo', '--model', tiny.dir, '--epochs', '1', '--pool-size', '300'], {
    encoding: 'utf8', timeout: 300_000, env: { ...process.env, YOLLAVA_HOME: home },
  });
  assert.equal(result.status, 0, result.stderr);
  const out = result.stdout;
  assert.match(out, /^1\. The subject: <(\w+)>, .* \(a pet\)\. Learning it from 5 photos:/m);
  const name = /<(\w+)>/.exec(out)![1];
  const heldOut = /negatives: \d+ hard \(most similar in the pool\), 100 easy \(random\), (\d+) kept out of training to set the Yes\/No boundary on/.exec(out);
  assert.ok(heldOut && Number(heldOut[1]) >= 100, out);
  assert.match(out, new RegExp(`Yes/No boundary: held-out negatives answered "Yes" \\d+/${heldOut[1]} → \\d+/${heldOut[1]} \\(target ≤ 0\\.08; rows moved -?\\d+\\.\\d % of their norm\\)`));
  assert.match(out, /^2\. Is <\w+> in these new photos\? \(4 show it, 6 show other pets\)/m);
  assert.equal((out.match(/P\(Yes\) \d\.\d{3} +(really it|not it)/g) ?? []).length, 10);
  assert.match(out, /^3\. With a photo/m);
  assert.match(out, /^4\. With no photo at all:/m);
  assert.ok(existsSync(join(home, 'concepts', `${name}.concept.safetensors`)));
  // The closing hints name this run's model, so that they find the concept.
  assert.ok(out.includes(`try: yollava chat --model ${tiny.dir} -c ${name} "Tell me about <${name}>."`), out.slice(-400));
  assert.ok(out.includes(`Or in the browser: yollava serve --model ${tiny.dir}, then open http://127.0.0.1:8737/`));
  assert.ok(existsSync(join(home, 'demo', 'world-0-pool-300', 'yollava-data', 'world.json')));
});
