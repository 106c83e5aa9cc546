import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOptionLetter, parseYesNo } from '../../src/eval/parseAnswers.ts';

test('yes/no answers in the usual phrasings', () => {
  const cases: [string, 'yes' | 'no' | null][] = [
    ['Yes', 'yes'], ['Yes.', 'yes'], ['yes', 'yes'], ['YES!', 'yes'], ['yes, it is', 'yes'], ['Yes, <bo> is in the photo.', 'yes'],
    ['Yeah', 'yes'], ['Sure.', 'yes'], ['Definitely', 'yes'], ['"Yes"', 'yes'], ['**Yes**', 'yes'], ['Answer: yes', 'yes'],
    ['The answer is yes.', 'yes'], ['Yes, it is not hidden.', 'yes'], ['I think so.', 'yes'], ['<bo> is in this photo.', 'yes'],
    ['I can see <bo> on the left.', 'yes'],
    ['No', 'no'], ['No.', 'no'], ['no, it is not', 'no'], ['Nope', 'no'], ['I don\'t think so', 'no'], ['I don’t think so.', 'no'],
    ['Not in this photo.', 'no'], ['<bo> is not in the photo.', 'no'], ['I cannot see <bo>.', 'no'], ['There is no dog here.', 'no'],
    ['Answer: No', 'no'], ['(No)', 'no'],
    ['', null], ['   ', null], ['Maybe', null], ['A dog on a sofa', null], ['�\rB', null],
  ];
  for (const [text, expected] of cases) assert.equal(parseYesNo(text), expected, JSON.stringify(text));
});

test('option letters in the usual phrasings', () => {
  const options = { A: 'red', B: 'dark blue' };
  const cases: [string, 'A' | 'B' | null][] = [
    ['A', 'A'], ['B', 'B'], ['B.', 'B'], ['a', 'A'], ['b.', 'B'], ['(A)', 'A'], ['[B]', 'B'], ['A)', 'A'], ['B: dark blue', 'B'],
    ['A. red', 'A'], ['The answer is B', 'B'], ['The answer is (A).', 'A'], ['Answer: b', 'B'], ['Option A', 'A'], ['I choose option B.', 'B'],
    ['B is correct', 'B'], ['**A**', 'A'], ['red', 'A'], ['Dark blue.', 'B'], ['It is dark blue', 'B'],
    ['', null], ['I am not sure', null], ['A or B', null], ['A red ball', 'A'], ['A small thing', null],
  ];
  for (const [text, expected] of cases) assert.equal(parseOptionLetter(text, options), expected, JSON.stringify(text));
  // Without the options' text, an answer that only repeats an option cannot be read.
  assert.equal(parseOptionLetter('red'), null);
  assert.equal(parseOptionLetter('B'), 'B');
  // When one option contains the other, the longer match wins.
  assert.equal(parseOptionLetter('dark red', { A: 'red', B: 'dark red' }), 'B');
  assert.equal(parseOptionLetter('Yes', { A: 'Yes', B: 'No' }), 'A');
  assert.equal(parseOptionLetter('No.', { A: 'Yes', B: 'No' }), 'B');
});
