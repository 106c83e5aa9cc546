/** buildConceptData: sample counts per kind, distinct templates per photo, determinism, validation, held-out negatives. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConceptData, checkConceptData, conceptIdentifier, type BuildConceptDataOptions } from '../../src/personalize/conceptData.ts';
import { ConceptDataError } from '../../src/personalize/ConceptDataError.ts';
import { loadConceptData, saveConceptData } from '../../src/personalize/conceptDataFile.ts';
import { NEGATIVE_RECOGNITION_TEMPLATES, POSITIVE_RECOGNITION_TEMPLATES } from '../../src/personalize/recognitionTemplates.ts';

const photos = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `/data/${prefix}/${i}.png`);

const options: BuildConceptDataOptions = {
  name: 'bo',
  positives: photos('bo', 5),
  easyNegatives: photos('random', 40),
  hardNegatives: photos('lookalike', 35),
  conversations: [
    { question: 'What color is <sks>?', answer: '<sks> is brown and white.', sourceImage: '/data/bo/0.png' },
    { question: 'What size is <bo>?', answer: 'Small.' },
  ],
  seed: 7,
};

test('sample counts per kind, with the identifier in every recognition sample (the paper\'s sentence answers)', () => {
  const data = buildConceptData({ ...options, answerStyle: 'sentence' });
  assert.equal(data.name, 'bo');
  assert.equal(data.identifier, '<bo>');
  assert.deepEqual(data.summary, { positives: 5 * 16, easyNegatives: 40, hardNegatives: 35, conversations: 2 });
  assert.equal(data.samples.length, 80 + 40 + 35 + 2);
  assert.deepEqual(data.warnings, []);
  for (const sample of data.samples) {
    assert.ok(!sample.question.includes('<sks>') && !sample.answer.includes('<sks>'));
    if (sample.kind === 'conversation') {
      assert.equal(sample.image, null);
      continue;
    }
    assert.ok(sample.question.includes('<bo>') && sample.answer.includes('<bo>'), sample.question);
    const templates = sample.kind === 'positive' ? POSITIVE_RECOGNITION_TEMPLATES : NEGATIVE_RECOGNITION_TEMPLATES;
    assert.ok(templates.some((t) => t.question.replaceAll('<sks>', '<bo>') === sample.question && t.answer.replaceAll('<sks>', '<bo>') === sample.answer));
  }
  const conversations = data.samples.filter((s) => s.kind === 'conversation');
  assert.deepEqual(conversations, [
    { kind: 'conversation', image: null, question: 'What color is <bo>?', answer: '<bo> is brown and white.', sourceImage: '/data/bo/0.png' },
    { kind: 'conversation', image: null, question: 'What size is <bo>?', answer: 'Small.' },
  ]);
});

test('each positive photo gets distinct templates; negatives use each template about equally', () => {
  const data = buildConceptData({ ...options, questionsPerPositive: 17, hardNegatives: photos('lookalike', 60), easyNegatives: [], answerStyle: 'sentence' });
  for (const photo of options.positives) {
    const mine = data.samples.filter((s) => s.image === photo);
    assert.equal(mine.length, 17);
    assert.equal(new Set(mine.map((s) => `${s.question}|${s.answer}`)).size, 17, 'distinct templates per photo');
    assert.ok(mine.every((s) => s.kind === 'positive'));
  }
  const negatives = data.samples.filter((s) => s.kind === 'hard-negative');
  const uses = new Map<string, number>();
  for (const s of negatives) uses.set(s.answer, (uses.get(s.answer) ?? 0) + 1);
  assert.equal(uses.size, 30);
  assert.ok([...uses.values()].every((n) => n === 2), '60 negatives: every template twice');
});

test('short answers (the default): the same template questions, answered "Yes" on photos of the concept and "No" on negatives', () => {
  const short = buildConceptData(options);
  const sentence = buildConceptData({ ...options, answerStyle: 'sentence' });
  assert.deepEqual(short.summary, sentence.summary);
  short.samples.forEach((sample, i) => {
    assert.equal(sample.question, sentence.samples[i].question);
    if (sample.kind === 'conversation') assert.equal(sample.answer, sentence.samples[i].answer);
    else assert.equal(sample.answer, sample.kind === 'positive' ? 'Yes' : 'No');
  });
  assert.throws(() => buildConceptData({ ...options, answerStyle: 'long' as never }), /answerStyle must be "short" or "sentence", got "long"/);
});

test('a description is kept on one line (none when empty) and survives checkConceptData', () => {
  assert.equal(buildConceptData({ ...options, description: '  a small brown dog\nwith a red collar ' }).description, 'a small brown dog with a red collar');
  assert.equal('description' in buildConceptData({ ...options, description: '  ' }), false);
  const data = buildConceptData({ ...options, description: 'a small brown dog' });
  assert.equal(checkConceptData(JSON.parse(JSON.stringify(data))).description, 'a small brown dog');
  assert.throws(() => checkConceptData({ ...JSON.parse(JSON.stringify(data)), description: 3 }), /"description" must be a string, got number 3/);
});

test('the same seed gives the same samples; another seed other ones', () => {
  assert.deepEqual(buildConceptData(options), buildConceptData(options));
  const other = buildConceptData({ ...options, seed: 8 });
  assert.notDeepEqual(other.samples, buildConceptData(options).samples);
  assert.deepEqual(other.summary, buildConceptData(options).summary);
});

test('positives over the limit and duplicate photos give warnings', () => {
  const data = buildConceptData({
    name: 'my_dog-2', positives: ['a.png', './a.png', 'b.png', ...photos('bo', 6)], hardNegatives: ['n.png', 'n.png'], easyNegatives: ['n.png', 'r.png'], seed: 1,
  });
  assert.equal(data.identifier, '<my_dog-2>');
  assert.deepEqual(data.summary, { positives: 5 * 16, easyNegatives: 1, hardNegatives: 1, conversations: 0 });
  assert.deepEqual(new Set(data.samples.filter((s) => s.kind === 'positive').map((s) => s.image)), new Set(['a.png', 'b.png', ...photos('bo', 3)]));
  assert.equal(data.warnings.length, 4);
  assert.match(data.warnings.join('\n'), /positive photo \.\/a\.png is listed more than once/);
  assert.match(data.warnings.join('\n'), /first 5 of 8 positive photos/);
  assert.match(data.warnings.join('\n'), /hard-negative photo n\.png is listed more than once/);
  assert.match(data.warnings.join('\n'), /easy-negative photo n\.png is also a hard negative/);
  const one = buildConceptData({ name: 'x', positives: ['only.png'] });
  assert.deepEqual(one.summary, { positives: 16, easyNegatives: 0, hardNegatives: 0, conversations: 0 });
});

test('bad input is a ConceptDataError with a clear message', () => {
  const fails = (o: Partial<BuildConceptDataOptions>, pattern: RegExp) =>
    assert.throws(() => buildConceptData({ ...options, ...o } as BuildConceptDataOptions), (e: unknown) => e instanceof ConceptDataError && pattern.test(e.message));
  fails({ positives: [] }, /no photos of the concept were given \(at least one positive photo is needed/);
  fails({ name: 'my dog' }, /concept name "my dog": use 1–32 ASCII letters, digits/);
  fails({ name: '' }, /use 1–32/);
  fails({ name: 'x'.repeat(33) }, /use 1–32/);
  fails({ name: '<bo>' }, /without angle brackets \("bo"\)/);
  fails({ name: 'image' }, /<image> is a token the model already uses/);
  fails({ name: 5 as unknown as string }, /must be a string, got number 5/);
  fails({ positives: ['a.png', ''] }, /positive photo 2 must be a file path/);
  fails({ positives: ['a.png'], hardNegatives: ['./a.png'] }, /photo \.\/a\.png is given both as a photo of the concept and as a negative/);
  fails({ questionsPerPositive: 31 }, /questionsPerPositive must be an integer from 1 to 30/);
  fails({ maxPositives: 0 }, /maxPositives must be a positive integer/);
  assert.equal(conceptIdentifier('bo'), '<bo>');
  assert.throws(() => conceptIdentifier('a/b'), ConceptDataError);
  const skipped = buildConceptData({ ...options, conversations: [{ question: 'What is <sks>?', answer: '  ' }] });
  assert.equal(skipped.summary.conversations, 0);
  assert.match(skipped.warnings[0]!, /conversation 1 skipped: its answer is empty/);
});

test('checkConceptData recomputes the summary and names the bad field', () => {
  const data = buildConceptData(options);
  const edited = { ...data, summary: { positives: 0 }, samples: data.samples.slice(0, 3) };
  assert.deepEqual(checkConceptData(edited).summary, { positives: 3, easyNegatives: 0, hardNegatives: 0, conversations: 0 });
  const bad = (samples: unknown[], pattern: RegExp) =>
    assert.throws(() => checkConceptData({ name: 'bo', samples }, { file: 'bo.json' }), (e: unknown) => e instanceof ConceptDataError && e.file === 'bo.json' && pattern.test(e.message));
  const ok = data.samples[0]!;
  bad([ok, { ...ok, kind: 'postive' }], /^bo\.json: samples\[1\]\.kind must be one of "positive", .*got "postive"/);
  bad([ok, { ...ok, image: null }], /samples\[1\]\.image must be the path of a photo/);
  bad([ok, { ...ok, answer: '' }], /samples\[1\]\.answer must be a non-empty string/);
  bad([ok, { ...ok, imgae: 'x' }], /samples\[1\] has an unknown field "imgae"/);
  bad([ok, { kind: 'conversation', image: 'x.png', question: 'q', answer: 'a' }], /conversation samples are trained without a photo/);
  bad([{ ...ok, kind: 'easy-negative' }], /no positive sample/);
  bad([ok, { ...ok, kind: 'hard-negative' }], /is both a positive and a hard-negative sample/);
  assert.throws(() => checkConceptData({ name: 'bo', identifier: '<ba>', samples: [ok] }), /identifier must be "<bo>"/);
});

test('held-out negatives: kept apart from the training negatives, checked, and written to the data file relative to it', (t) => {
  const heldOut = ['/data/random/3.png', '/data/pool/a.png', '/data/pool/a.png', '/data/pool/b.png'];
  const data = buildConceptData({ ...options, heldOutNegatives: heldOut });
  assert.deepEqual(data.heldOutNegatives, ['/data/pool/a.png', '/data/pool/b.png']);
  assert.ok(data.warnings.some((w) => /random\/3\.png is also a training negative/.test(w)));
  assert.ok(data.warnings.some((w) => /pool\/a\.png is listed more than once/.test(w)));
  assert.equal(buildConceptData(options).heldOutNegatives, undefined, 'none given: no field');
  assert.deepEqual(checkConceptData(data).heldOutNegatives, data.heldOutNegatives);
  const where = (pattern: RegExp) => (e: unknown) => e instanceof ConceptDataError && e.file === 'bo.json' && pattern.test(e.message);
  assert.throws(() => checkConceptData({ ...data, heldOutNegatives: 'x.png' }, { file: 'bo.json' }), where(/"heldOutNegatives" must be a list of photo paths, got "x\.png"/));
  assert.throws(() => checkConceptData({ ...data, heldOutNegatives: ['a.png', 3] }, { file: 'bo.json' }), where(/heldOutNegatives\[1\] must be a file path, got number 3/));
  assert.throws(() => checkConceptData({ ...data, heldOutNegatives: ['/data/bo/0.png'] }, { file: 'bo.json' }), where(/\/data\/bo\/0\.png is both a positive sample and a held-out negative/));

  const dir = mkdtempSync(join(tmpdir(), 'yollava-data-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const inside = { ...data, heldOutNegatives: [join(dir, 'pool', 'a.png'), '/elsewhere/b.png'] };
  const file = join(dir, 'bo.data.json');
  saveConceptData(file, inside);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).heldOutNegatives, ['pool/a.png', '/elsewhere/b.png']);
  assert.deepEqual(loadConceptData(file).heldOutNegatives, inside.heldOutNegatives);
});
