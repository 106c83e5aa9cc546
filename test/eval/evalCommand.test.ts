/**
 * `yollava eval` as a process on the tiny random checkpoint and a tiny dataset: every output
 * is written (results per method and subject, results.json, report.md, plots), a second run
 * reuses everything, a removed result is recomputed alone, and Ctrl-C stops with a report of
 * what is done that the next run completes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/fixtures.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';
import { readEvalDataset } from '../../src/eval/dataset.ts';
import { conceptIsStored } from '../../src/eval/evalConcepts.ts';
import { DEFAULT_RECIPE } from '../../src/eval/methods.ts';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { writeTinyDataset } from './tinyDataset.ts';

const cli = join(repoRoot, 'bin', 'yollava.mjs');

function mtimes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.set(join(entry.parentPath, entry.name), statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return out;
}

test('yollava eval: outputs, reuse, recomputing one result, interruption', async (t) => {
  const tiny = await makeTinyCheckpoint(t);
  const work = mkdtempSync(join(tmpdir(), 'yollava-eval-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const data = await writeTinyDataset(join(work, 'data'), { subjects: ['bo', 'mam', 'toro'], trainPhotos: 3, testPhotos: 2, poolImages: 6 });
  const out = join(work, 'out');
  const args = [cli, 'eval', data, '--model', tiny.dir, '--out', out, '--epochs', '1', '--methods', 'vanilla,text-human,image-prompt,yollava,forgetting'];
  const run = () => spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, YOLLAVA_HOME: join(work, 'home') } });

  const first = run();
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout.trim(), join(out, 'report.md'));
  const summary = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(summary.methods.map((m: { id: string }) => m.id), ['vanilla', 'text-human', 'image-prompt', 'yollava', 'forgetting']);
  const byId = Object.fromEntries(summary.methods.map((m: { id: string }) => [m.id, m]));
  // 3 subjects × 6 test photos: 6 positive and 12 negative pairs per method.
  assert.equal(byId.vanilla.recognition.positives, 6);
  assert.equal(byId.vanilla.recognition.negatives, 12);
  assert.equal(byId.vanilla.visualQa.questions, 3);
  assert.equal(byId.vanilla.textQa.questions, 6);
  assert.equal(byId.vanilla.tokensUsed, 0);
  assert.deepEqual(byId['text-human'].skipped, [{ subject: 'toro', reason: 'no description of "toro" (world.json)' }]);
  assert.equal(byId['text-human'].recognition.positives, 4);
  assert.ok(byId['image-prompt'].tokensUsed > 0);
  assert.equal(byId.yollava.perSubject.length, 3);
  assert.equal(byId.yollava.perSubject[0].concept.latentCount, 16);
  assert.equal(byId.yollava.perSubject[0].concept.photos, 3);
  // Forgetting: each concept on the other two subjects' visual questions, with and without it.
  assert.equal(byId.forgetting.forgetting.with.questions, 6);
  assert.equal(byId.forgetting.forgetting.without.questions, 6);
  for (const m of summary.methods) for (const key of ['weightedAccuracy', 'rocAuc']) {
    const value = m.recognition[key];
    assert.ok(value === null || (value >= 0 && value <= 1), `${m.id} ${key} ${value}`);
  }
  const stored = JSON.parse(readFileSync(join(out, 'results', 'yollava', 'bo.json'), 'utf8'));
  assert.equal(stored.recognition.length, 6);
  assert.deepEqual(stored.recognition.map((r: { positive: boolean }) => r.positive), [true, true, false, false, false, false]);
  assert.match(stored.context, /^<bo> is <bo_0><bo_1>.*<bo_15>\.$/);
  assert.ok(existsSync(join(out, stored.concept.file)));

  const report = readFileSync(join(out, 'report.md'), 'utf8');
  assert.match(report, /^# yollava evaluation/);
  assert.match(report, /\| Method \| Tokens used \| Positive \| Negative \| Weighted \| ROC AUC \| Visual QA \| Text QA \| Time \|/);
  assert.match(report, /\| Vanilla \(no concept\) \| 0 \| \d\.\d{3} \| \d\.\d{3} \| \d\.\d{3} \|/);
  assert.match(report, /\| Yo'LLaVA \(k = 16, n = 5\) \| \d+ \|/);
  // The tiny dataset's text questions: one yes/no check and one choice between values per subject.
  assert.match(report, /\| Vanilla \(no concept\) \| [–\d.]+(?: \(\d+\))? \| [–\d.]+(?: \(\d+\))? \| \d\.\d{3} \(3\) \| \d\.\d{3} \(3\) \|/);
  assert.match(report, /## Forgetting/);
  assert.match(report, /text-human: skipped toro: no description/);
  assert.match(report, /\*\*Command\*\*: `yollava eval .* --methods vanilla,text-human,image-prompt,yollava,forgetting`/);
  for (const plot of ['roc', 'per-subject-accuracy']) {
    assert.match(report, new RegExp(`\\(plots/${plot}\\.png\\)`));
    assert.deepEqual([...readFileSync(join(out, 'plots', `${plot}.png`)).subarray(1, 4)], [...Buffer.from('PNG')]);
    assert.match(readFileSync(join(out, 'plots', `${plot}.svg`), 'utf8'), /^<svg /);
  }

  // The stored concepts count as stored only for the preparation they were made with (the time left depends on it).
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const bo = readEvalDataset(data).subjects.find((s) => s.conceptName === 'bo')!;
  const settings = { outDir: out, epochs: 1, seed: 0, negativePool: summary.settings.negatives as string };
  assert.equal(conceptIsStored(vlm, bo, DEFAULT_RECIPE, settings), true);
  assert.equal(conceptIsStored(vlm, bo, DEFAULT_RECIPE, { ...settings, negativePool: join(work, 'elsewhere') }), false);
  assert.equal(conceptIsStored(vlm, bo, { ...DEFAULT_RECIPE, photos: 2 }, settings), false);

  // Again: everything is reused, nothing rewritten but the summary, report and plots.
  const before = mtimes(join(out, 'results'));
  const conceptsBefore = mtimes(join(out, 'concepts'));
  const second = run();
  assert.equal(second.status, 0, second.stderr);
  assert.equal((second.stderr.match(/stored result/g) ?? []).length, 15);
  assert.deepEqual(mtimes(join(out, 'results')), before);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).methods, summary.methods);

  // A removed result is recomputed alone; the concepts are not trained again.
  rmSync(join(out, 'results', 'yollava', 'mam.json'));
  const third = run();
  assert.equal(third.status, 0, third.stderr);
  const after = mtimes(join(out, 'results'));
  for (const [file, time] of before) if (!file.endsWith(join('yollava', 'mam.json'))) assert.equal(after.get(file), time, file);
  assert.deepEqual(mtimes(join(out, 'concepts')), conceptsBefore);
  assert.equal(JSON.parse(readFileSync(join(out, 'results', 'yollava', 'mam.json'), 'utf8')).recognition.length, 6);

  // Ctrl-C in a fresh run: stops, writes the report of what is done; the next run completes it.
  const out2 = join(work, 'out2');
  const interruptedArgs = [cli, 'eval', data, '--model', tiny.dir, '--out', out2, '--epochs', '1', '--methods', 'vanilla,yollava', '--subjects', 'bo,mam'];
  const child = spawn(process.execPath, interruptedArgs, { env: { ...process.env, YOLLAVA_HOME: join(work, 'home') } });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const firstResult = join(out2, 'results', 'vanilla', 'bo.json');
  for (let i = 0; i < 600 && !existsSync(firstResult) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  const code = await exited;
  if (code === 130) {
    assert.match(stderr, /interrupted: run the same command again to continue/);
    assert.match(readFileSync(join(out2, 'report.md'), 'utf8'), /of 2 subjects done \(run the same command again to continue\)/);
  } else {
    assert.equal(code, 0, stderr); // finished before the signal arrived
  }
  const resumed = spawnSync(process.execPath, interruptedArgs, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, YOLLAVA_HOME: join(work, 'home') } });
  assert.equal(resumed.status, 0, resumed.stderr);
  const resumedSummary = JSON.parse(readFileSync(join(out2, 'results.json'), 'utf8'));
  assert.deepEqual(resumedSummary.methods.map((m: { id: string; subjectsDone: number }) => [m.id, m.subjectsDone]), [['vanilla', 2], ['yollava', 2]]);
  assert.equal(resumedSummary.methods[0].recognition.positives + resumedSummary.methods[0].recognition.negatives, 8);
});

test('yollava eval --methods yollava-text: the concept\'s description is words in its prompt, counted as tokens used', async (t) => {
  const tiny = await makeTinyCheckpoint(t);
  const work = mkdtempSync(join(tmpdir(), 'yollava-eval-text-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const data = await writeTinyDataset(join(work, 'data'), { subjects: ['bo', 'mam'], trainPhotos: 2, testPhotos: 1, poolImages: 4 });
  const out = join(work, 'out');
  const result = spawnSync(process.execPath, [cli, 'eval', data, '--model', tiny.dir, '--out', out, '--epochs', '1', '--methods', 'yollava,yollava-text', '--subjects', 'bo'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, YOLLAVA_HOME: join(work, 'home') } });
  assert.equal(result.status, 0, result.stderr);
  const stored = (method: string) => JSON.parse(readFileSync(join(out, 'results', method, 'bo.json'), 'utf8'));
  const plain = stored('yollava'), worded = stored('yollava-text');
  assert.match(plain.context, /^<bo> is <bo_0>.*<bo_15>\.$/);
  const match = /^<bo> is <bo_0>.*<bo_15>\. <bo> is (.+)\.$/s.exec(worded.context);
  assert.ok(match, worded.context);
  // The words are the description the rows started from (the same prepared description as ours).
  const description = JSON.parse(readFileSync(join(out, worded.concept.file.replace(/\.concept\.safetensors$/, '.data.json')), 'utf8')).description;
  assert.equal(match[1], description.replace(/\s+/g, ' ').replace(/[.\s]+$/, '').trim());
  assert.ok(worded.tokensUsed > plain.tokensUsed, `${worded.tokensUsed} > ${plain.tokensUsed}`);
});

test('yollava eval: bad input gives one line and exit code 2', async (t) => {
  const tiny = await makeTinyCheckpoint(t);
  const work = mkdtempSync(join(tmpdir(), 'yollava-eval-bad-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const data = await writeTinyDataset(join(work, 'data'), { subjects: ['bo', 'mam'], trainPhotos: 1, testPhotos: 1, poolImages: 1 });
  const cases: [string[], RegExp][] = [
    [[join(work, 'nothing')], /^yollava eval: .*nothing: no such folder\n$/],
    [[data, '--methods', 'yolava'], /^yollava eval: unknown method "yolava"/],
    [[data, '--subjects', 'rex'], /^yollava eval: .*: no subject "rex" \(have: bo, mam\)\n$/],
    [[data, '--limit', '0'], /^yollava eval: --limit must be an integer ≥ 1, got 0\n$/],
  ];
  for (const [extra, pattern] of cases) {
    const result = spawnSync(process.execPath, [cli, 'eval', ...extra, '--model', tiny.dir, '--out', join(work, 'out')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 2, `${extra.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
  }
  const list = spawnSync(process.execPath, [cli, 'eval', '--list-methods'], { encoding: 'utf8' });
  assert.equal(list.status, 0);
  assert.match(list.stdout, /^Methods:\n {2}vanilla /);
});

test('yollava eval --world writes the generated benchmark first; --report-only runs nothing', async (t) => {
  const tiny = await makeTinyCheckpoint(t);
  const work = mkdtempSync(join(tmpdir(), 'yollava-eval-world-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const data = join(work, 'world');
  const out = join(work, 'out');
  const base = [cli, 'eval', data, '--model', tiny.dir, '--out', out, '--methods', 'vanilla'];
  const first = spawnSync(process.execPath, [...base, '--world', '0', '--pool-size', '10', '--report-only'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /wrote .*yollava-data: 40 subjects, 400 training and \d+ test photos, 10 pool images/);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /vanilla: 0 of 40 subjects done/);
  const world = JSON.parse(readFileSync(join(data, 'yollava-data', 'world.json'), 'utf8'));
  const [a, b] = Object.keys(world.subjects);
  const second = spawnSync(process.execPath, [...base, '--world', '0', '--subjects', `${a},${b}`, '--limit', '1'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(second.status, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /wrote /); // already there
  const summary = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(summary.dataset.subjects, [a, b]);
  assert.equal(summary.methods[0].recognition.positives, 2);
  assert.equal(summary.methods[0].visualQa.questions, 2);
  assert.equal(summary.methods[0].textQa.questions, 2);
});
