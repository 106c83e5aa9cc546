import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetError, readEvalDataset, selectSubjects } from '../../src/eval/dataset.ts';
import { writeTinyDataset } from './tinyDataset.ts';

async function tinyDataset(t: { after: (fn: () => void) => void }, options = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'yollava-eval-data-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return writeTinyDataset(dir, options);
}

test('reads the public layout: subjects, photos in numeric order, visual and text QA, descriptions, pool', async (t) => {
  const dir = await tinyDataset(t, { trainPhotos: 11, testPhotos: 2 });
  const dataset = readEvalDataset(dir);
  const root = join(dir, 'yollava-data');
  assert.equal(dataset.root, root);
  assert.deepEqual(dataset.subjects.map((s) => s.name), ['bo', 'mam', 'toro']);
  const bo = dataset.subjects[0];
  assert.deepEqual(bo.trainPhotos.slice(0, 3).map((p) => p.slice(root.length)), ['/train/bo/0.png', '/train/bo/1.png', '/train/bo/2.png']);
  assert.equal(bo.trainPhotos.at(-1), join(root, 'train', 'bo', '10.png'));
  assert.equal(bo.testPhotos.length, 2);
  // "./yollava-data/test/bo/0.png" in the JSON resolves to the file.
  assert.deepEqual(bo.visualQa, [{ question: 'What color is <sks>?', options: { A: 'red', B: 'blue' }, correct: 'A', photo: join(root, 'test', 'bo', '0.png') }]);
  assert.equal(bo.textQa.length, 2);
  assert.equal(bo.textQa[1].correct, 'B');
  assert.equal(bo.description, 'a small red thing');
  assert.equal(bo.kind, 'pet');
  assert.equal(dataset.subjects[2].description, null); // toro has no world.json entry
  assert.equal(dataset.pool, join(root, 'pool'));
  // The yollava-data folder itself works too.
  assert.deepEqual(readEvalDataset(root).subjects.map((s) => s.name), ['bo', 'mam', 'toro']);
});

test('text QA keyed like the visual file, and questions about unknown subjects are noted', async (t) => {
  const dir = await tinyDataset(t);
  const file = join(dir, 'yollava-data', 'yollava-text-qa.json');
  const text = JSON.parse(readFileSync(file, 'utf8'));
  text.bo = { q1: text.bo[0] };
  text.nobody = [];
  writeFileSync(file, JSON.stringify(text));
  const dataset = readEvalDataset(dir);
  assert.equal(dataset.subjects[0].textQa.length, 1);
  assert.match(dataset.warnings.join('\n'), /subject "nobody" has no test\/ folder/);
});

test('selects subjects and limits photos and questions', async (t) => {
  const dir = await tinyDataset(t, { testPhotos: 3 });
  const dataset = readEvalDataset(dir);
  const picked = selectSubjects(dataset, { names: ['toro', 'bo'], limit: 1 });
  assert.deepEqual(picked.map((s) => s.name), ['toro', 'bo']);
  assert.deepEqual(picked.map((s) => [s.testPhotos.length, s.visualQa.length, s.textQa.length]), [[1, 1, 1], [1, 1, 1]]);
  assert.throws(() => selectSubjects(dataset, { names: ['bo', 'rex'] }), /no subject "rex" \(have: bo, mam, toro\)/);
});

test('bad datasets: errors name the file and the problem', async (t) => {
  const dir = await tinyDataset(t);
  const root = join(dir, 'yollava-data');
  assert.throws(() => readEvalDataset(join(dir, 'nowhere')), (e: Error) => e instanceof DatasetError && /nowhere: no such folder/.test(e.message));
  assert.throws(() => readEvalDataset(join(root, 'pool')), /not an evaluation set \(expected train\/<subject>\/ and test\/<subject>\//);

  const visual = join(root, 'yollava-visual-qa.json');
  const original = readFileSync(visual, 'utf8');
  writeFileSync(visual, '{"bo": ');
  assert.throws(() => readEvalDataset(dir), (e: Error) => e instanceof DatasetError && e.message.startsWith(`${visual}: not valid JSON`));
  const json = JSON.parse(original);
  json.bo['./yollava-data/test/bo/0.png'].correct_answer = 'C';
  writeFileSync(visual, JSON.stringify(json));
  assert.throws(() => readEvalDataset(dir), new RegExp(`${visual}: "bo" / "./yollava-data/test/bo/0.png" has "correct_answer" "C"; expected "A" or "B"`));
  json.bo['./yollava-data/test/bo/0.png'].correct_answer = 'A';
  json.bo['./yollava-data/test/bo/9.png'] = json.bo['./yollava-data/test/bo/0.png'];
  writeFileSync(visual, JSON.stringify(json));
  assert.throws(() => readEvalDataset(dir), /"bo": image \.\/yollava-data\/test\/bo\/9\.png not found/);
  delete json.bo['./yollava-data/test/bo/9.png'];
  json.bo['./yollava-data/test/bo/0.png'].options = { A: 'red' };
  writeFileSync(visual, JSON.stringify(json));
  assert.throws(() => readEvalDataset(dir), /needs "options": \{"A": "…", "B": "…"\}/);
  writeFileSync(visual, original);

  renameSync(join(root, 'train', 'mam'), join(root, 'train', 'mam-moved'));
  assert.throws(() => readEvalDataset(dir), new RegExp(`${join(root, 'train', 'mam')}: missing \\(every subject in .* needs training photos\\)`));
});
