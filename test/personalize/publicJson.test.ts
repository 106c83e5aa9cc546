/** The public code's JSON layout (one file per kind) and our own concept data file: round trips and bad files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConceptData, type ConceptData } from '../../src/personalize/conceptData.ts';
import { loadConceptData, saveConceptData } from '../../src/personalize/conceptDataFile.ts';
import { ConceptDataError } from '../../src/personalize/ConceptDataError.ts';
import { exportPublicJson, importPublicJson, publicFileKind, readPublicJsonFolder, writePublicJsonFolder } from '../../src/personalize/publicJson.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'yollava-concept-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sampleData(root: string): ConceptData {
  const at = (...parts: string[]) => join(root, ...parts);
  return buildConceptData({
    name: 'bo',
    positives: [at('photos', '1.png'), at('photos', '2.png')],
    hardNegatives: [at('laion', 'a.png'), at('laion', 'b.png'), at('laion', 'c.png')],
    easyNegatives: ['/elsewhere/random/1.png', '/elsewhere/random/2.png'],
    conversations: [
      { question: 'What color is <sks>?', answer: '<sks> is brown.', sourceImage: at('photos', '1.png') },
      { question: 'What size is <sks>?', answer: 'Small.', sourceImage: at('photos', '1.png') },
      { question: 'What color is <sks>?', answer: 'Brown and white.', sourceImage: at('photos', '2.png') },
    ],
    seed: 3,
  });
}

test('public JSON: one file per kind, photo → [{Human, AI}], text-only Q/A keyed by their source photo', () => {
  const data = sampleData('/c');
  const files = exportPublicJson(data);
  assert.deepEqual(Object.keys(files).sort(), ['recognition_negative-cc12m.json', 'recognition_negative-laion.json', 'recognition_positive.json', 'text-only-conversation.json']);
  assert.equal(files['recognition_positive.json']!['/c/photos/1.png']!.length, 16);
  assert.deepEqual(Object.keys(files['recognition_negative-laion.json']!), ['/c/laion/a.png', '/c/laion/b.png', '/c/laion/c.png']);
  assert.deepEqual(files['text-only-conversation.json'], {
    '/c/photos/1.png': [{ Human: 'What color is <bo>?', AI: '<bo> is brown.' }, { Human: 'What size is <bo>?', AI: 'Small.' }],
    '/c/photos/2.png': [{ Human: 'What color is <bo>?', AI: 'Brown and white.' }],
  });
  assert.equal(publicFileKind('text-only-conversation.json'), 'conversation');
  assert.equal(publicFileKind('negative_recognition-random-imgs'), 'easy-negative');
  assert.equal(publicFileKind('complex_reasoning.json'), null);
  assert.equal(publicFileKind('constructor'), null);
});

test('public JSON round trip keeps every sample and its kind (through JSON text)', () => {
  const data = sampleData('/c');
  const back = importPublicJson(JSON.parse(JSON.stringify(exportPublicJson(data))), { name: 'bo' });
  assert.deepEqual(back.samples, data.samples);
  assert.deepEqual(back.summary, data.summary);
  // The file order does not matter; conversation samples without a source photo get the first positive.
  const noSource = buildConceptData({ name: 'bo', positives: ['p.png'], conversations: [{ question: 'Q <sks>?', answer: 'A.' }] });
  const files = exportPublicJson(noSource);
  assert.deepEqual(files['text-only-conversation.json'], { 'p.png': [{ Human: 'Q <bo>?', AI: 'A.' }] });
  const reordered = { 'text-only-conversation.json': files['text-only-conversation.json'], 'recognition_positive.json': files['recognition_positive.json'] };
  assert.deepEqual(importPublicJson(reordered, { name: 'bo' }).samples.map((s) => s.kind), noSource.samples.map((s) => s.kind));
});

test('public JSON import: placeholders, renaming, image root, skipped files and turns, errors', () => {
  const files = {
    'recognition_positive.json': { '../data/train/bo/3.png': [{ Human: 'Is <sks> here?', AI: 'Yes, <sks> is here.' }, { Human: 'Only a question' }] },
    'negative_recognition-laion.json': { './laion/1.png': [{ Human: 'Is <sks> here?', AI: 'No.' }] },
    'detail_description.json': { 'x.png': [{ Human: 'Describe <sks>.', AI: '…' }] },
  };
  const data = importPublicJson(files, { name: 'bo', imageRoot: '/repo' });
  assert.deepEqual(data.samples, [
    { kind: 'positive', image: '/data/train/bo/3.png', question: 'Is <bo> here?', answer: 'Yes, <bo> is here.' },
    { kind: 'hard-negative', image: '/repo/laion/1.png', question: 'Is <bo> here?', answer: 'No.' },
  ]);
  assert.equal(data.warnings.length, 2);
  assert.match(data.warnings.join('\n'), /detail_description\.json skipped: not a kind of data yollava trains/);
  assert.match(data.warnings.join('\n'), /"\.\.\/data\/train\/bo\/3\.png" turn 2 skipped/);

  const renamed = importPublicJson({ 'recognition_positive.json': { 'p.png': [{ Human: 'Is <bo> here?', AI: 'Yes.' }] } }, { name: 'dog', placeholder: '<bo>' });
  assert.equal(renamed.samples[0]!.question, 'Is <dog> here?');
  const forgotten = importPublicJson({ 'recognition_positive.json': { 'p.png': [{ Human: 'Is <bo> here?', AI: 'Yes.' }] } }, { name: 'dog' });
  assert.match(forgotten.warnings.at(-1)!, /no sample mentions <dog>: was the data written for another name/);

  const fails = (value: unknown, pattern: RegExp) => assert.throws(() => importPublicJson(value, { name: 'bo', directory: '/d' }), (e: unknown) => e instanceof ConceptDataError && pattern.test(e.message));
  fails([], /^\/d: expected the public files as an object/);
  fails({ 'recognition_positive.json': [] }, /^\/d\/recognition_positive\.json: expected \{"<photo path>"/);
  fails({ 'recognition_positive.json': { 'p.png': 'Yes' } }, /"p\.png" must map to a list/);
  fails({ 'recognition_negative-cc12m.json': { 'n.png': [{ Human: 'Is <sks> here?', AI: 'No.' }] } }, /no positive sample/);
});

test('public JSON folder: written and read back', (t) => {
  const dir = tempDir(t);
  const data = sampleData('/c');
  const written = writePublicJsonFolder(join(dir, 'bo'), data);
  assert.equal(written.length, 4);
  writeFileSync(join(dir, 'bo', 'conversation.json'), '{ not json');
  const back = readPublicJsonFolder(join(dir, 'bo'), { name: 'bo' });
  assert.deepEqual(back.samples, data.samples);
  assert.match(back.warnings.join('\n'), /conversation\.json skipped/);
  writeFileSync(join(dir, 'bo', 'recognition_positive.json'), '{ "cut": [');
  assert.throws(() => readPublicJsonFolder(join(dir, 'bo'), { name: 'bo' }), /recognition_positive\.json: not valid JSON/);
  assert.throws(() => readPublicJsonFolder(join(dir, 'nothing'), { name: 'bo' }), /nothing: no such folder/);
});

test('our concept data file: round trip, paths relative inside the folder, atomic write', (t) => {
  const dir = tempDir(t);
  const data = sampleData(dir);
  const path = join(dir, 'bo.json');
  saveConceptData(path, data);
  assert.deepEqual(readdirSync(dir), ['bo.json'], 'no temp file left behind');
  const stored = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(stored.format, 'yollava-concept-data');
  assert.deepEqual(stored.summary, data.summary);
  assert.equal(stored.samples[0].image, 'photos/1.png', 'photos inside the folder are stored relative to it');
  assert.equal(stored.samples.find((s: { kind: string }) => s.kind === 'easy-negative').image, '/elsewhere/random/1.png');
  assert.deepEqual(loadConceptData(path), data);

  // Moving the folder keeps the data usable; editing samples recomputes the summary.
  mkdirSync(join(dir, 'moved'));
  stored.samples = stored.samples.filter((s: { kind: string }) => s.kind !== 'conversation');
  writeFileSync(join(dir, 'moved', 'bo.json'), JSON.stringify(stored));
  const moved = loadConceptData(join(dir, 'moved', 'bo.json'));
  assert.equal(moved.samples[0]!.image, join(dir, 'moved', 'photos', '1.png'));
  assert.equal(moved.summary.conversations, 0);
});

test('a corrupted or wrong concept data file names the file and the problem', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'bo.json');
  saveConceptData(path, sampleData(dir));
  const text = readFileSync(path, 'utf8');
  const fails = (content: string, pattern: RegExp) => {
    writeFileSync(path, content);
    assert.throws(() => loadConceptData(path), (e: unknown) => e instanceof ConceptDataError && e.file === path && e.message.startsWith(`${path}: `) && pattern.test(e.message));
  };
  fails(text.slice(0, text.length / 2), /not valid JSON .*cut short/);
  fails('[]', /expected a concept data object, got a list/);
  fails('{"p.png": [{"Human": "q", "AI": "a"}]}', /a file of the public Yo'LLaVA code.*readPublicJsonFolder/);
  fails(text.replace('"version": 1', '"version": 2'), /written by a newer yollava \(version 2/);
  fails(text.replace('"format"', '"extra": 1, "format"'), /unknown field "extra"/);
  fails(text.replace('"kind": "positive"', '"kind": "postive"'), /samples\[0\]\.kind must be one of/);
  fails(text.replace('"name": "bo"', '"name": "b o"'), /concept name "b o"/);
  assert.throws(() => loadConceptData(join(dir, 'missing.json')), /missing\.json: no such file/);
  assert.throws(() => loadConceptData(dir), /is a folder/);
  assert.throws(() => saveConceptData(path, { ...sampleData(dir), samples: [] }), /no positive sample/);
});
