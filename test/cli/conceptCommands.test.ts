/**
 * The concept commands as a user runs them (real processes) on a tiny checkpoint and a concept
 * trained through the API: chat (one-shot, piped, with a photo and two concepts), recognize,
 * explain, and the library (list, show, rename, export, import, delete), with bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConceptSet } from '../../src/personalize/ConceptSet.ts';
import { recognize } from '../../src/personalize/recognize.ts';
import { repoRoot } from '../helpers/fixtures.ts';
import { makeTinyConceptLibrary } from '../helpers/tinyConceptLibrary.ts';

function run(home: string, args: string[], input?: string) {
  const result = spawnSync(process.execPath, [join(repoRoot, 'bin', 'yollava.mjs'), ...args], {
    encoding: 'utf8', timeout: 120_000, input: input ?? '', env: { ...process.env, YOLLAVA_HOME: home },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('chat, recognize, explain and the concept library', async (t) => {
  const { tiny, home, library, vlm } = await makeTinyConceptLibrary(t);
  const model = ['--model', tiny.dir];

  const list = run(home, ['concepts', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^<bo> +k=2 +recognition \d\.\d{3} \(epoch [01]\)/m);

  const oneShot = run(home, ['chat', ...model, '--concept', 'bo', '--max-tokens', '5', 'What', 'is', '<bo>?']);
  assert.equal(oneShot.code, 0, oneShot.stderr);
  assert.ok(oneShot.stdout.trim().length > 0);
  const badMode = run(home, ['chat', ...model, '--concept', 'bo', '--personalize', 'sometimes', 'Hi']);
  assert.equal(badMode.code, 2);
  assert.match(badMode.stderr, /--personalize must be mentioned or all, got sometimes/);
  const piped = run(home, ['chat', ...model, '--image', tiny.photos[2], '--max-tokens', '5'], 'Describe the photo.');
  assert.equal(piped.code, 0, piped.stderr);

  const recognized = run(home, ['recognize', 'bo', ...model, tiny.photos[0], tiny.photos[1], tiny.photos[2]]);
  assert.equal(recognized.code, 0, recognized.stderr);
  const rows = recognized.stdout.trim().split('\n');
  assert.equal(rows.length, 3);
  const probabilities = rows.map((row) => Number(row.trim().split(/\s+/)[1]));
  assert.deepEqual(probabilities, probabilities.slice().sort((a, b) => b - a), 'most likely first');
  for (const row of rows) assert.match(row, /^(Yes|No ) +\d\.\d{3} +\S+photo-\d\.png$/);
  const json = run(home, ['recognize', 'bo', ...model, '--json', tiny.dir]);
  assert.equal(json.stdout.trim().split('\n').map((line) => JSON.parse(line)).length, 3, 'a folder is searched for photos');
  // In other words: the probability the library gives for the same question.
  const otherWords = run(home, ['recognize', 'bo', ...model, '--json', '--question', 'Is <bo> in this photo?', tiny.photos[0]]);
  assert.equal(otherWords.code, 0, otherWords.stderr);
  const concepts = new ConceptSet(vlm);
  concepts.add(library.load('bo'));
  const [expected] = await recognize(vlm, concepts, concepts.get('bo'), [tiny.photos[0]], { question: 'Is <sks> in this photo?' });
  assert.ok(Math.abs(JSON.parse(otherWords.stdout).probability - expected.probability) < 1e-9);
  const unnamed = run(home, ['recognize', 'bo', ...model, '--question', 'Is the dog in this photo?', tiny.photos[0]]);
  assert.equal(unnamed.code, 2);
  assert.match(unnamed.stderr, /--question must name the concept as <bo>/);

  const explained = run(home, ['explain', 'bo', ...model, '--max-tokens', '4']);
  assert.equal(explained.code, 0, explained.stderr);
  assert.deepEqual(explained.stdout.trim().split('\n').map((line) => line.split(':')[0]), ['<bo>', '<bo_0>', '<bo_1>']);

  assert.equal(run(home, ['concepts', 'rename', 'bo', 'mam']).code, 0);
  assert.match(run(home, ['concepts', 'show', 'mam']).stdout, /"<mam_1>"/);
  assert.ok(existsSync(join(home, 'concepts', 'mam.data.json')), 'the training data follows the rename');
  const exported = join(home, 'mam.safetensors');
  assert.equal(run(home, ['concepts', 'export', 'mam', exported]).code, 0);
  assert.equal(run(home, ['concepts', 'import', exported, '--name', 'bo']).code, 0);
  const twoConcepts = run(home, ['chat', ...model, '-c', 'bo', '-c', 'mam', '--max-tokens', '3', 'Are <bo> and <mam> alike?']);
  assert.equal(twoConcepts.code, 0, twoConcepts.stderr);
  const duplicate = run(home, ['concepts', 'import', exported]);
  assert.equal(duplicate.code, 2);
  assert.match(duplicate.stderr, /already exists/);
  assert.equal(run(home, ['concepts', 'delete', 'mam']).code, 0);
  assert.doesNotMatch(run(home, ['concepts', 'list']).stdout, /<mam>/);

  const missing = run(home, ['recognize', 'nobody', ...model, tiny.photos[0]]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no concept "nobody"/);
  const noPhotos = run(home, ['recognize', 'bo', ...model, join(home, 'nothing-here')]);
  assert.equal(noPhotos.code, 2);
  assert.match(noPhotos.stderr, /nothing-here: no such file or folder/);
  const noModel = run(home, ['chat', '--model', home, 'hi']);
  assert.equal(noModel.code, 2);
  assert.match(noModel.stderr, /not a model folder/);
});
