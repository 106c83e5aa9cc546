import type { OperatingPoint } from '../personalize/Concept.ts';

/** One line on where trainConcept set a concept's Yes/No boundary (train and demo print it). */
export function boundarySummary(point: OperatingPoint): string {
  const count = (share: number) => `${Math.round(share * point.heldOutNegatives)}/${point.heldOutNegatives}`;
  return `Yes/No boundary: held-out negatives answered "Yes" ${count(point.falsePositiveRateBefore)} → ${count(point.falsePositiveRate)} `
    + `(target ≤ ${point.targetFalsePositiveRate}; rows moved ${(point.shift * 100).toFixed(1)} % of their norm)`;
}
