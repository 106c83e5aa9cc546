import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inWordsPrompt, recognitionItem, scoreRecognition } from '../../src/pretrain/evaluate.ts';
import { createWorldSplit, describeIndividual, KIND_SCHEMAS, type Individual } from '../../src/world/index.ts';

/** An oracle over the in-words prompt: Yes exactly when the listed values are the described individual's. */
function listedIsDescribed(prompt: string, subjects: readonly Individual[]): boolean {
  const m = /^In the photo: ([^.]+)\. (<[a-z]+>) is (.+?)\. Can you see if \2 is in this photo\?/.exec(prompt);
  assert.ok(m, prompt);
  const described = subjects.find((s) => describeIndividual(s) === m[3]);
  assert.ok(described, `a benchmark subject's description: ${m[3]}`);
  const [kind, ...values] = m[1].split(', ');
  return kind === described.kind && KIND_SCHEMAS[described.kind].every((a, j) => described.attributes[a.name] === values[j]);
}

test('recognition in words: the held-out recognition items with each photo written as its values; the look-alike differs in as many values as its distance', () => {
  const split = createWorldSplit(0);
  const subjects = split.subjects.map((s) => s.individual);
  for (let i = 0; i < 30; i++) {
    const item = recognitionItem(2001, i, split, true);
    const [positive, lookAlike, otherKind] = item.scenes.map((scene) => inWordsPrompt(item.question, scene));
    assert.ok(positive.endsWith(item.question) && positive.includes(item.subject.kind));
    const listed = (prompt: string) => /^In the photo: ([^.]+)\./.exec(prompt)![1].split(', ');
    const differing = listed(positive).filter((v, j) => v !== listed(lookAlike)[j]).length;
    assert.equal(differing, item.distance, `${positive}\n${lookAlike}`);
    assert.notEqual(listed(otherKind)[0], item.subject.kind);
  }
  const oracle = scoreRecognition(2001, 40, split, true, (question, scene) => (listedIsDescribed(inWordsPrompt(question, scene), subjects) ? 1 : -1));
  assert.equal(oracle.weighted, 1);
  assert.equal(oracle.aucLookAlike, 1);
  const blind = scoreRecognition(2001, 40, split, true, () => 1);
  assert.equal(blind.weighted, 0.5);
});
