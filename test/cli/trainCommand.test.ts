/** `yollava train` as a user runs it: negatives from a pool through the index, conversations, the library. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/fixtures.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';

function run(home: string, args: string[]) {
  const result = spawnSync(process.execPath, [join(repoRoot, 'bin', 'yollava.mjs'), ...args], {
    encoding: 'utf8', timeout: 180_000, env: { ...process.env, YOLLAVA_HOME: home },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A YOLLAVA_HOME with two photos of the subject in mine/ and the next `poolCount` photos in pool/. */
function homeWithPhotos(t: { after: (fn: () => void) => void }, photos: readonly string[], poolCount: number) {
  const home = mkdtempSync(join(tmpdir(), 'yollava-home-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const mine = join(home, 'mine');
  const pool = join(home, 'pool');
  mkdirSync(mine);
  mkdirSync(pool);
  photos.slice(0, 2).forEach((p, i) => renameSync(p, join(mine, `bo-${i}.png`)));
  photos.slice(2, 2 + poolCount).forEach((p, i) => renameSync(p, join(pool, `other-${i}.png`)));
  return { home, mine, pool };
}

test('train: pool negatives, conversations, saved in the library; --add, --save-data, --data', async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 10 });
  const { home, mine, pool } = homeWithPhotos(t, tiny.photos, 7);
  const common = ['--model', tiny.dir, '-k', '2', '--epochs', '2', '--hard', '1', '--easy', '1'];

  const first = run(home, ['train', 'bo', mine, '--negatives', pool, ...common]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /training data for <bo>: 32 positive, [12] hard-negative, 1 easy-negative, 20 conversation samples; [45] held-out negatives/);
  assert.match(first.stderr, /Yes\/No boundary: held-out negatives answered "Yes" \d\/[45] → \d\/[45] \(target ≤ 0\.08; rows moved -?\d+\.\d % of their norm\)/);
  const heldOut = (JSON.parse(readFileSync(join(home, 'concepts', 'bo.data.json'), 'utf8')) as { heldOutNegatives: string[] }).heldOutNegatives;
  assert.ok(heldOut.length >= 4 && heldOut.every((p) => p.includes(`${join(home, 'pool')}`)), `held out: ${heldOut.join(', ')}`);
  assert.match(first.stderr, /^epoch  2: loss \d+\.\d{4}  recognition positive/m);
  assert.match(first.stdout, /saved <bo> to .*bo\.concept\.safetensors \(epoch [012], weighted recognition/);
  assert.ok(existsSync(join(home, 'concepts', 'bo.data.json')));
  assert.ok(existsSync(join(home, 'indexes')), 'the pool index persists');

  const again = run(home, ['train', 'bo', mine, ...common]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists .* --add/);

  const added = run(home, ['train', 'bo', join(tiny.photos[9]), '--add', '--no-conversations', ...common]);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stderr, /training data for <bo>: 48 positive/);

  const dataFile = join(home, 'mam.json');
  const saved = run(home, ['train', 'mam', mine, '--no-conversations', '--save-data', dataFile, ...common]);
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal(JSON.parse(readFileSync(dataFile, 'utf8')).name, 'mam');
  assert.ok(!existsSync(join(home, 'concepts', 'mam.concept.safetensors')), '--save-data does not train');
  const savedData = JSON.parse(readFileSync(dataFile, 'utf8')) as { description?: string; samples: Array<{ kind: string; answer: string }> };
  assert.equal(typeof savedData.description, 'string', 'the base model\'s description of the first photo is in the data');
  assert.ok(savedData.samples.every((s) => s.answer === (s.kind === 'positive' ? 'Yes' : 'No')), 'short recognition answers by default');
  const fromData = run(home, ['train', 'mam', '--data', dataFile, ...common]);
  assert.equal(fromData.code, 0, fromData.stderr);

  const paperFile = join(home, 'paper.json');
  const paper = run(home, ['train', 'pap', mine, '--no-conversations', '--paper-recipe', '--save-data', paperFile, ...common]);
  assert.equal(paper.code, 0, paper.stderr);
  const paperData = JSON.parse(readFileSync(paperFile, 'utf8')) as { description?: string; samples: Array<{ answer: string }> };
  assert.equal(paperData.description, undefined, 'the paper starts at random');
  assert.ok(paperData.samples.every((s) => s.answer.includes('<pap>')), 'the paper\'s sentence answers');
  const given = join(home, 'given.json');
  assert.equal(run(home, ['train', 'giv', mine, '--no-conversations', '--description', 'a red ball', '--save-data', given, ...common]).code, 0);
  assert.equal(JSON.parse(readFileSync(given, 'utf8')).description, 'a red ball');
  const both = run(home, ['train', 'zed', mine, '--paper-recipe', '--description', 'a red ball', ...common]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--description and --paper-recipe do not go together/);
  const paperRate = run(home, ['train', 'zed', mine, '--paper-recipe', '--false-positive-rate', '0.1', ...common]);
  assert.equal(paperRate.code, 2);
  assert.match(paperRate.stderr, /--false-positive-rate and --paper-recipe do not go together/);
  const badRate = run(home, ['train', 'zed', mine, '--false-positive-rate', '5', ...common]);
  assert.equal(badRate.code, 2);
  assert.match(badRate.stderr, /--false-positive-rate must be a number from 0 to below 1, or "off", got 5/);

  const noPhotos = run(home, ['train', 'zed', join(home, 'missing'), ...common]);
  assert.equal(noPhotos.code, 2);
  assert.match(noPhotos.stderr, /missing: no such file or folder/);
  const badName = run(home, ['train', '<zed>', mine, ...common]);
  assert.equal(badName.code, 2);
  assert.match(badName.stderr, /without angle brackets/);
});

test('train, recognize and chat on a model that talks through its chat template (Qwen2 LLaVA, ChatML)', async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 6, tokenizer: 'qwen2' });
  const { home, mine, pool } = homeWithPhotos(t, tiny.photos, 4);
  const trained = run(home, ['train', 'bo', mine, '--negatives', pool, '--model', tiny.dir, '-k', '2', '--epochs', '1', '--hard', '1', '--easy', '1']);
  assert.equal(trained.code, 0, trained.stderr);
  assert.match(trained.stdout, /saved <bo> to .*bo\.concept\.safetensors/);
  assert.match(trained.stderr, /training data for <bo>: \d+ positive, \d hard-negative, \d easy-negative, \d+ conversation samples/, 'the base model answered the conversations through its template');
  const recognized = run(home, ['recognize', 'bo', mine, '--model', tiny.dir, '--json']);
  assert.equal(recognized.code, 0, recognized.stderr);
  const results = recognized.stdout.trim().split('\n').map((line) => JSON.parse(line) as { probability: number });
  assert.equal(results.length, 2);
  assert.ok(results.every((r) => r.probability > 0 && r.probability < 1));
  const chat = run(home, ['chat', '-c', 'bo', 'What is <bo>?', '--model', tiny.dir, '--max-tokens', '3']);
  assert.equal(chat.code, 0, chat.stderr);
});
