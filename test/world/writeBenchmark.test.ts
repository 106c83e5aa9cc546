import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import {
  attributeAnswer,
  attributeCheckQuestion,
  attributeQuestion,
  BENCHMARK_KIND_COUNTS,
  benchmarkIsCurrent,
  createWorldSplit,
  describeIndividual,
  KIND_SCHEMAS,
  KINDS,
  subjectRef,
  unknownWords,
  WORLD_VERSION,
  writeBenchmark,
  type BenchmarkProgress,
  type Individual,
  type QaEntry,
  type WriteBenchmarkOptions,
} from '../../src/world/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'yollava-world-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL: Omit<WriteBenchmarkOptions, 'seed'> = { trainPhotos: 2, testPhotos: [4, 5], poolSize: 60, visualQuestions: 4, textQuestions: 6 };
const progress: BenchmarkProgress[] = [];
const dirA = join(tmp, 'a');
const summaryA = await writeBenchmark(dirA, { seed: 3, ...SMALL, onProgress: (p) => progress.push(p) });
const root = join(dirA, 'yollava-data');
const readJson = (name: string) => JSON.parse(readFileSync(join(root, name), 'utf8'));
const world = readJson('world.json');
const visual: Record<string, Record<string, QaEntry>> = readJson('yollava-visual-qa.json');
const text: Record<string, QaEntry[]> = readJson('yollava-text-qa.json');
const scenes = readJson('scenes.json');
const split = createWorldSplit(3);
const individualOf = (subject: string): Individual => ({ kind: world.subjects[subject].kind, attributes: world.subjects[subject].attributes });
const fromPublic = (p: string): string => join(dirA, p);

test('layout: train, test and pool folders of PNGs, and the JSON files, in the public layout', async () => {
  assert.deepEqual(readdirSync(dirA), ['yollava-data'], 'no temporary folder left behind');
  assert.deepEqual(readdirSync(root).sort(), ['pool', 'scenes.json', 'test', 'train', 'world.json', 'yollava-text-qa.json', 'yollava-visual-qa.json']);
  const names = split.subjects.map((s) => s.name).sort();
  assert.deepEqual(readdirSync(join(root, 'train')).sort(), names);
  assert.deepEqual(readdirSync(join(root, 'test')).sort(), names);
  let tests = 0;
  for (const name of names) {
    assert.deepEqual(readdirSync(join(root, 'train', name)).sort(), ['0.png', '1.png']);
    const t = readdirSync(join(root, 'test', name));
    assert.ok(t.length >= 4 && t.length <= 5);
    assert.deepEqual(t.sort(), Array.from({ length: t.length }, (_, i) => `${i}.png`).sort());
    tests += t.length;
  }
  assert.equal(readdirSync(join(root, 'pool')).length, 60);
  assert.deepEqual(
    { subjects: summaryA.subjects, train: summaryA.trainImages, test: summaryA.testImages, pool: summaryA.poolImages },
    { subjects: 40, train: 80, test: tests, pool: 60 },
  );
  const meta = await sharp(join(root, 'test', names[0], '0.png')).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 64, 64, 3]);
});

test('world.json records the world generator\'s version; a benchmark of another version is not current', () => {
  assert.equal(world.worldVersion, WORLD_VERSION);
  assert.equal(benchmarkIsCurrent(dirA), true);
  assert.equal(benchmarkIsCurrent(join(tmp, 'nowhere')), false);
  const old = join(tmp, 'old', 'yollava-data');
  mkdirSync(old, { recursive: true });
  writeFileSync(join(old, 'world.json'), JSON.stringify({ ...world, worldVersion: WORLD_VERSION - 1 }));
  assert.equal(benchmarkIsCurrent(join(tmp, 'old')), false);
  writeFileSync(join(old, 'world.json'), '{ not json');
  assert.equal(benchmarkIsCurrent(join(tmp, 'old')), false);
});

test('world.json holds each subject’s ground truth; the kinds match the paper’s 10/5/5/15/5', () => {
  const kinds = Object.values(world.subjects).map((s: any) => s.kind);
  for (const kind of KINDS) assert.equal(kinds.filter((k) => k === kind).length, BENCHMARK_KIND_COUNTS[kind]);
  for (const s of split.subjects) {
    const w = world.subjects[s.name];
    assert.deepEqual(w.attributes, s.individual.attributes);
    assert.equal(w.description, describeIndividual(s.individual));
    assert.equal(w.train.length, 2);
    for (const p of [...w.train, ...w.test]) assert.ok(existsSync(fromPublic(p)), p);
  }
});

test('visual QA: public layout, ≥ 4 per subject on its own test photos, answers match the ground truth', () => {
  assert.deepEqual(Object.keys(visual).sort(), split.subjects.map((s) => s.name).sort());
  let a = 0;
  for (const [subject, byImage] of Object.entries(visual)) {
    const ind = individualOf(subject);
    const entries = Object.entries(byImage);
    assert.ok(entries.length >= 4);
    for (const [path, q] of entries) {
      assert.match(path, new RegExp(`^\\./yollava-data/test/${subject}/\\d+\\.png$`));
      assert.ok(existsSync(fromPublic(path)));
      assert.deepEqual(Object.keys(q), ['question', 'options', 'correct_answer']);
      assert.deepEqual(Object.keys(q.options), ['A', 'B']);
      assert.ok(q.question.includes('<sks>'));
      const attribute = KIND_SCHEMAS[ind.kind].find((s) => attributeQuestion(subjectRef('<sks>'), ind, s.name) === q.question)!.name;
      assert.equal(q.options[q.correct_answer], attributeAnswer(ind, attribute));
      assert.notEqual(q.options[q.correct_answer === 'A' ? 'B' : 'A'], attributeAnswer(ind, attribute));
      assert.deepEqual(unknownWords(`${q.question} ${q.options.A} ${q.options.B}`), []);
      if (q.correct_answer === 'A') a++;
    }
  }
  const total = Object.values(visual).reduce((n, v) => n + Object.keys(v).length, 0);
  assert.ok(a > total * 0.35 && a < total * 0.65, `${a}/${total} answers are A`);
});

test('text-only QA: per-subject lists, ≥ 4 each, answers match the ground truth', () => {
  for (const [subject, list] of Object.entries(text)) {
    const ind = individualOf(subject);
    assert.ok(list.length >= 4);
    assert.equal(new Set(list.map((q) => q.question)).size, list.length);
    for (const q of list) {
      const ref = subjectRef('<sks>');
      const correct = q.options[q.correct_answer];
      const open = KIND_SCHEMAS[ind.kind].find((s) => attributeQuestion(ref, ind, s.name) === q.question);
      if (open) {
        assert.equal(correct, attributeAnswer(ind, open.name));
      } else {
        const checks = KIND_SCHEMAS[ind.kind].flatMap((s) => s.values.map((v) => ({ a: s.name, v }))).filter(({ a, v }) => attributeCheckQuestion(ref, ind, a, v) === q.question);
        assert.ok(checks.length > 0, q.question);
        assert.equal(correct, checks.some(({ a, v }) => ind.attributes[a] === v) ? 'Yes' : 'No');
      }
      assert.deepEqual(unknownWords(`${q.question} ${q.options.A} ${q.options.B}`), []);
    }
  }
});

test('photos hold their subject; test photos vary; the pool has look-alikes but never a subject', () => {
  const paths = Object.keys(scenes);
  assert.equal(paths.length, summaryA.trainImages + summaryA.testImages + summaryA.poolImages);
  let withOthers = 0;
  let occluded = 0;
  for (const s of split.subjects) {
    for (const p of [...world.subjects[s.name].train, ...world.subjects[s.name].test]) {
      const me = scenes[p].entities.filter((e: any) => e.subject === s.name && e.distance === 0);
      assert.equal(me.length, 1, p);
    }
    for (const p of world.subjects[s.name].test) {
      if (scenes[p].entities.length > 1) withOthers++;
      if (scenes[p].entities.some((e: any) => e.subject === s.name && e.distance === 0 && e.occlusion >= 0.1)) occluded++;
    }
  }
  assert.ok(withOthers >= 40 && occluded >= 30, `${withOthers} with others, ${occluded} occluded`);
  const pool = paths.filter((p) => p.includes('/pool/'));
  assert.ok(pool.every((p) => scenes[p].entities.every((e: any) => e.distance !== 0)));
  const lookAlikes = pool.filter((p) => scenes[p].entities.some((e: any) => e.distance === 1 || e.distance === 2));
  assert.ok(lookAlikes.length >= 15, `${lookAlikes.length} pool images with look-alikes`);
});

test('progress is reported for every phase', () => {
  for (const phase of ['train', 'test', 'pool', 'json'] as const) {
    const last = progress.filter((p) => p.phase === phase).at(-1);
    assert.ok(last && last.done === last.total, phase);
  }
});

test('deterministic: the same seed writes the same bytes; another seed other subjects', async () => {
  const dirB = join(tmp, 'b');
  await writeBenchmark(dirB, { seed: 3, ...SMALL });
  for (const f of ['world.json', 'yollava-visual-qa.json', 'yollava-text-qa.json', 'scenes.json', 'pool/7.png', `test/${split.subjects[0].name}/1.png`]) {
    assert.ok(readFileSync(join(root, f)).equals(readFileSync(join(dirB, 'yollava-data', f))), f);
  }
  const dirC = join(tmp, 'c');
  await writeBenchmark(dirC, { seed: 4, ...SMALL, poolSize: 5 });
  const other = JSON.parse(readFileSync(join(dirC, 'yollava-data', 'world.json'), 'utf8'));
  assert.notDeepEqual(Object.keys(other.subjects).sort(), Object.keys(world.subjects).sort());
});

test('rewriting replaces the whole folder; an aborted write leaves nothing behind', async () => {
  const dirC = join(tmp, 'c');
  writeFileSync(join(dirC, 'yollava-data', 'stale.txt'), 'old');
  await writeBenchmark(dirC, { seed: 4, ...SMALL, poolSize: 5 });
  assert.ok(!existsSync(join(dirC, 'yollava-data', 'stale.txt')));
  assert.deepEqual(readdirSync(dirC), ['yollava-data']);

  const dirD = join(tmp, 'd');
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(writeBenchmark(dirD, { seed: 5, ...SMALL, signal: controller.signal }));
  assert.deepEqual(readdirSync(dirD), []);
});
