/**
 * Scores: recognition accuracy on positives and negatives and their mean (the paper's
 * "weighted" accuracy, which does not reward always answering "No" on a benchmark with 39
 * negatives per positive), ROC AUC and ROC curves from the probability of "Yes" (ties count
 * one half, as in the Mann–Whitney statistic), and accuracy of option answers.
 */
import type { YesNo } from './parseAnswers.ts';

export interface RecognitionRecordLike {
  readonly positive: boolean;
  readonly parsed: YesNo | null;
  /** P(Yes) / (P(Yes) + P(No)) at the first answer token; NaN when the photo could not be read. */
  readonly probability: number;
}

export interface RecognitionScores {
  readonly positives: number;
  readonly negatives: number;
  /** Share of positive pairs answered yes (null without positives). */
  readonly positiveAccuracy: number | null;
  /** Share of negative pairs answered no. */
  readonly negativeAccuracy: number | null;
  /** (positive + negative) / 2, the paper's weighted accuracy. */
  readonly weightedAccuracy: number | null;
  /** Area under the ROC curve of P(Yes) (null unless both classes are present). */
  readonly rocAuc: number | null;
  /** Answers that were neither yes nor no (scored as wrong). */
  readonly unparsed: number;
}

/** The mean of two accuracies, or the one that exists. */
export function weightedAccuracy(positive: number | null, negative: number | null): number | null {
  if (positive === null) return negative;
  if (negative === null) return positive;
  return (positive + negative) / 2;
}

export function recognitionScores(records: readonly RecognitionRecordLike[]): RecognitionScores {
  let positives = 0, negatives = 0, positiveRight = 0, negativeRight = 0, unparsed = 0;
  for (const r of records) {
    if (r.parsed === null) unparsed++;
    if (r.positive) { positives++; if (r.parsed === 'yes') positiveRight++; } else { negatives++; if (r.parsed === 'no') negativeRight++; }
  }
  const positiveAccuracy = positives ? positiveRight / positives : null;
  const negativeAccuracy = negatives ? negativeRight / negatives : null;
  return {
    positives, negatives, positiveAccuracy, negativeAccuracy,
    weightedAccuracy: weightedAccuracy(positiveAccuracy, negativeAccuracy),
    rocAuc: rocAuc(records.map((r) => r.probability), records.map((r) => r.positive)),
    unparsed,
  };
}

/**
 * P(a random positive scores above a random negative), ties counting one half; pairs whose
 * score is NaN are left out. Null when either class is empty.
 */
export function rocAuc(scores: readonly number[], labels: readonly boolean[]): number | null {
  if (scores.length !== labels.length) throw new RangeError(`rocAuc: ${scores.length} scores for ${labels.length} labels`);
  const items = scores.map((score, i) => ({ score, positive: labels[i] })).filter((x) => !Number.isNaN(x.score));
  const nPositive = items.filter((x) => x.positive).length;
  const nNegative = items.length - nPositive;
  if (nPositive === 0 || nNegative === 0) return null;
  items.sort((a, b) => a.score - b.score);
  // Rank-sum with average ranks over ties.
  let positiveRankSum = 0;
  for (let i = 0; i < items.length;) {
    let j = i;
    while (j + 1 < items.length && items[j + 1].score === items[i].score) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) if (items[t].positive) positiveRankSum += averageRank;
    i = j + 1;
  }
  return (positiveRankSum - (nPositive * (nPositive + 1)) / 2) / (nPositive * nNegative);
}

export interface RocPoint {
  readonly falsePositiveRate: number;
  readonly truePositiveRate: number;
}

/**
 * The ROC curve from (0, 0) to (1, 1): one point per distinct score, highest first, so that
 * tied scores give one diagonal step (whose area is the half-credit of rocAuc).
 */
export function rocCurve(scores: readonly number[], labels: readonly boolean[]): RocPoint[] {
  const items = scores.map((score, i) => ({ score, positive: labels[i] })).filter((x) => !Number.isNaN(x.score)).sort((a, b) => b.score - a.score);
  const nPositive = items.filter((x) => x.positive).length;
  const nNegative = items.length - nPositive;
  const points: RocPoint[] = [{ falsePositiveRate: 0, truePositiveRate: 0 }];
  if (nPositive === 0 || nNegative === 0) return points;
  let tp = 0, fp = 0;
  for (let i = 0; i < items.length;) {
    let j = i;
    while (j < items.length && items[j].score === items[i].score) {
      if (items[j].positive) tp++; else fp++;
      j++;
    }
    points.push({ falsePositiveRate: fp / nNegative, truePositiveRate: tp / nPositive });
    i = j;
  }
  return points;
}

/** The area under a curve of rocCurve points (trapezoids), equal to rocAuc on the same data. */
export function areaUnderCurve(points: readonly RocPoint[]): number {
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    area += (points[i].falsePositiveRate - points[i - 1].falsePositiveRate) * (points[i].truePositiveRate + points[i - 1].truePositiveRate) / 2;
  }
  return area;
}

/** Share of true values (null for none). */
export function accuracy(correct: readonly boolean[]): number | null {
  return correct.length ? correct.filter(Boolean).length / correct.length : null;
}
