import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, areaUnderCurve, recognitionScores, rocAuc, rocCurve, weightedAccuracy } from '../../src/eval/metrics.ts';
import { isYesNoQuestion, qaScore, type QaRecord } from '../../src/eval/results.ts';
import { formatDuration } from '../../src/eval/report.ts';

test('weighted accuracy is the mean of positive and negative accuracy', () => {
  assert.equal(weightedAccuracy(1, 0), 0.5);
  assert.equal(weightedAccuracy(0.9, 0.7), 0.8);
  assert.equal(weightedAccuracy(null, 0.7), 0.7);
  assert.equal(weightedAccuracy(null, null), null);
  // Always "No" on 1 positive and 39 negatives: 97.5% plain accuracy, 0.5 weighted.
  const records = [{ positive: true, parsed: 'no' as const, probability: 0.1 }, ...Array.from({ length: 39 }, () => ({ positive: false, parsed: 'no' as const, probability: 0.1 }))];
  const scores = recognitionScores(records);
  assert.equal(scores.positiveAccuracy, 0);
  assert.equal(scores.negativeAccuracy, 1);
  assert.equal(scores.weightedAccuracy, 0.5);
  assert.equal(scores.rocAuc, 0.5); // every score tied
});

test('recognition scores count unparsed answers as wrong on both sides', () => {
  const scores = recognitionScores([
    { positive: true, parsed: 'yes', probability: 0.9 },
    { positive: true, parsed: null, probability: 0.6 },
    { positive: false, parsed: null, probability: 0.4 },
    { positive: false, parsed: 'no', probability: 0.2 },
    { positive: false, parsed: 'yes', probability: NaN },
  ]);
  assert.equal(scores.positives, 2);
  assert.equal(scores.negatives, 3);
  assert.equal(scores.positiveAccuracy, 0.5);
  assert.equal(scores.negativeAccuracy, 1 / 3);
  assert.equal(scores.unparsed, 2);
  assert.equal(scores.rocAuc, 1); // the NaN score is left out
});

test('ROC AUC: perfect, reversed, chance, ties counting one half', () => {
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [true, true, false, false]), 1);
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [true, true, false, false]), 0);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [true, false, true, false]), 0.5);
  // Positives 0.8, 0.5; negatives 0.5, 0.2: pairs (0.8>0.5) 1, (0.8>0.2) 1, (0.5=0.5) ½, (0.5>0.2) 1 → 3.5/4.
  assert.equal(rocAuc([0.8, 0.5, 0.5, 0.2], [true, true, false, false]), 0.875);
  // Against a brute-force pair count on random scores with many ties.
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const scores = Array.from({ length: 60 }, () => Math.round(random() * 5) / 5);
  const labels = scores.map(() => random() < 0.3);
  let wins = 0, pairs = 0;
  scores.forEach((p, i) => scores.forEach((n, j) => {
    if (!labels[i] || labels[j]) return;
    pairs++;
    wins += p > n ? 1 : p === n ? 0.5 : 0;
  }));
  assert.ok(Math.abs(rocAuc(scores, labels)! - wins / pairs) < 1e-12);
  // The curve's trapezoid area is the same number, ties as diagonal steps.
  const curve = rocCurve(scores, labels);
  assert.deepEqual(curve[0], { falsePositiveRate: 0, truePositiveRate: 0 });
  assert.deepEqual(curve.at(-1), { falsePositiveRate: 1, truePositiveRate: 1 });
  assert.ok(Math.abs(areaUnderCurve(curve) - wins / pairs) < 1e-12);
  assert.equal(rocAuc([0.3, 0.4], [true, true]), null);
  assert.throws(() => rocAuc([0.1], [true, false]), /1 scores for 2 labels/);
});

test('accuracy of option answers', () => {
  assert.equal(accuracy([true, false, true, true]), 0.75);
  assert.equal(accuracy([]), null);
});

test('QA scores apart by form: options Yes / No (either order, any case) and the others', () => {
  const record = (A: string, B: string, right: boolean): QaRecord => ({
    question: 'q', options: { A, B }, photo: null, about: 's', correct: 'A', answer: right ? 'A' : 'B', parsed: right ? 'A' : 'B', probabilityA: right ? 0.9 : 0.1, right,
  });
  const records = [record('Yes', 'No', true), record('no', 'Yes.', false), record('No', 'Yes', false), record('Red', 'Blue', true), record('Yes, it is', 'No', true)];
  assert.equal(isYesNoQuestion(records[1]), true);
  assert.equal(isYesNoQuestion(records[4]), false);
  const s = qaScore(records);
  assert.equal(s.questions, 5);
  assert.equal(s.accuracy, 3 / 5);
  assert.deepEqual(s.byForm.yesNo, { questions: 3, accuracy: 1 / 3 });
  assert.deepEqual(s.byForm.other, { questions: 2, accuracy: 1 });
  assert.deepEqual(qaScore([]).byForm.yesNo, { questions: 0, accuracy: null });
});

test('report durations round once: 299.6 s is "5 min 0 s", never "4 min 60 s"', () => {
  assert.equal(formatDuration(299.6), '5 min 0 s');
  assert.equal(formatDuration(59.7), '1 min 0 s');
  assert.equal(formatDuration(9.96), '10 s');
  assert.equal(formatDuration(7.64), '7.6 s');
  assert.equal(formatDuration(3599.6), '1 h 0 min');
  assert.equal(formatDuration(Number.NaN), '–');
});
