/**
 * What an evaluation stores: one file per method and subject (`<out>/results/<method>/<subject>.json`,
 * written atomically, reused when its fingerprint matches the run's settings), and the
 * aggregation of those files into per-method and per-subject scores.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../personalize/writeFileAtomic.ts';
import type { EvalMethod } from './methods.ts';
import { accuracy, recognitionScores, rocCurve, type RecognitionScores, type RocPoint } from './metrics.ts';
import type { OptionLetter, YesNo } from './parseAnswers.ts';

export const RESULT_FORMAT = 'yollava-eval-result/1';

export interface RecognitionRecord {
  /** Relative to the dataset root. */
  readonly photo: string;
  /** Whose test photo it is. */
  readonly photoSubject: string;
  readonly positive: boolean;
  readonly answer: string;
  readonly parsed: YesNo | null;
  /** P(Yes) / (P(Yes) + P(No)) at the first answer token (NaN is stored as null). */
  readonly probability: number;
  readonly error?: string;
}

export interface QaRecord {
  readonly question: string;
  readonly options: { readonly A: string; readonly B: string };
  readonly photo: string | null;
  /** The subject the question is about (differs from the result's subject in forgetting). */
  readonly about: string;
  readonly correct: OptionLetter;
  readonly answer: string;
  readonly parsed: OptionLetter | null;
  /** P(A) / (P(A) + P(B)) at the first answer token. */
  readonly probabilityA: number;
  readonly right: boolean;
  readonly error?: string;
}

export interface ConceptRecord {
  readonly file: string;
  readonly latentCount: number;
  readonly photos: number;
  readonly bestEpoch: number | null;
  readonly trainingWeightedAccuracy: number | null;
  readonly samples: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly reused: boolean;
}

export interface SubjectResult {
  readonly format: string;
  readonly method: string;
  readonly subject: string;
  readonly fingerprint: string;
  readonly createdAt: string;
  /** Evaluation time (and captioning); a concept's training time is in `concept.seconds`. */
  readonly seconds: number;
  /** Why the method could not run on this subject (then every list is empty). */
  readonly skipped?: string;
  /** Tokens the method adds to each prompt (context text, reference photos' image tokens). */
  readonly tokensUsed: number | null;
  /** The text the method adds after the image (null: none). */
  readonly context: string | null;
  readonly concept?: ConceptRecord;
  readonly recognition: readonly RecognitionRecord[];
  readonly visualQa: readonly QaRecord[];
  readonly textQa: readonly QaRecord[];
  readonly forgetting?: { readonly without: readonly QaRecord[]; readonly with: readonly QaRecord[] };
}

export function resultFile(outDir: string, methodId: string, conceptName: string): string {
  return join(outDir, 'results', methodId, `${conceptName}.json`);
}

/** A stored result when it exists and was made with the same fingerprint, else null. */
export function readResult(file: string, fingerprint: string): SubjectResult | null {
  if (!existsSync(file)) return null;
  try {
    const result = JSON.parse(readFileSync(file, 'utf8'), (key, value) => (key === 'probability' || key === 'probabilityA') && value === null ? NaN : value) as SubjectResult;
    return result.format === RESULT_FORMAT && result.fingerprint === fingerprint ? result : null;
  } catch {
    return null; // a damaged file is recomputed
  }
}

export function writeResult(file: string, result: SubjectResult): void {
  writeFileAtomic(file, `${JSON.stringify(result, null, 1)}\n`);
}

export interface QaScore {
  readonly questions: number;
  readonly accuracy: number | null;
  readonly unparsed: number;
  /** The questions whose options are "Yes" and "No" (either order), and the others: a model can fail one form whatever it knows. */
  readonly byForm: { readonly yesNo: FormScore; readonly other: FormScore };
}

export interface FormScore {
  readonly questions: number;
  readonly accuracy: number | null;
}

/** True when a two-option question's options are "Yes" and "No" (either order, any case). */
export function isYesNoQuestion(record: Pick<QaRecord, 'options'>): boolean {
  return [record.options.A, record.options.B].map((o) => o.trim().toLowerCase().replace(/[.!]$/, '')).sort().join() === 'no,yes';
}

export function qaScore(records: readonly QaRecord[]): QaScore {
  const form = (subset: readonly QaRecord[]): FormScore => ({ questions: subset.length, accuracy: accuracy(subset.map((r) => r.right)) });
  return {
    questions: records.length, accuracy: accuracy(records.map((r) => r.right)), unparsed: records.filter((r) => r.parsed === null).length,
    byForm: { yesNo: form(records.filter(isYesNoQuestion)), other: form(records.filter((r) => !isYesNoQuestion(r))) },
  };
}

export interface SubjectSummary {
  readonly subject: string;
  readonly skipped?: string;
  readonly tokensUsed: number | null;
  readonly recognition: RecognitionScores;
  readonly visualQa: QaScore;
  readonly textQa: QaScore;
  readonly forgetting?: { readonly without: QaScore; readonly with: QaScore };
  readonly seconds: number;
  readonly concept?: ConceptRecord;
}

export interface MethodSummary {
  readonly id: string;
  readonly title: string;
  readonly group: EvalMethod['group'];
  readonly description: string;
  /** Subjects with results (skipped ones included) of those selected. */
  readonly subjectsDone: number;
  readonly subjectsSelected: number;
  readonly skipped: readonly { readonly subject: string; readonly reason: string }[];
  /** Mean over the subjects it ran on. */
  readonly tokensUsed: number | null;
  /** Pooled over every pair of every subject. */
  readonly recognition: RecognitionScores;
  /** Mean of the per-subject ROC AUCs (each concept's own threshold-free score). */
  readonly meanSubjectRocAuc: number | null;
  readonly visualQa: QaScore;
  readonly textQa: QaScore;
  readonly forgetting?: { readonly without: QaScore; readonly with: QaScore };
  /** Evaluation seconds plus the training seconds of the concepts (however long ago they were made). */
  readonly seconds: number;
  readonly trainingSeconds: number;
  readonly perSubject: readonly SubjectSummary[];
  /** The pooled ROC curve (thinned to at most ~400 points), for plots. */
  readonly rocCurve: readonly RocPoint[];
}

/** Every k-th point, and the last, so that a curve over thousands of pairs stays small. */
function thin(points: readonly RocPoint[], max = 400): RocPoint[] {
  if (points.length <= max) return [...points];
  const step = Math.ceil(points.length / max);
  return points.filter((_, i) => i % step === 0 || i === points.length - 1);
}

const mean = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

export function summarizeMethod(method: EvalMethod, results: readonly SubjectResult[], subjectsSelected: number): MethodSummary {
  const ran = results.filter((r) => !r.skipped);
  const perSubject = results.map((r): SubjectSummary => ({
    subject: r.subject, ...(r.skipped ? { skipped: r.skipped } : {}), tokensUsed: r.tokensUsed,
    recognition: recognitionScores(r.recognition), visualQa: qaScore(r.visualQa), textQa: qaScore(r.textQa),
    ...(r.forgetting ? { forgetting: { without: qaScore(r.forgetting.without), with: qaScore(r.forgetting.with) } } : {}),
    seconds: r.seconds, ...(r.concept ? { concept: r.concept } : {}),
  }));
  const forgetting = ran.some((r) => r.forgetting)
    ? { without: qaScore(ran.flatMap((r) => r.forgetting?.without ?? [])), with: qaScore(ran.flatMap((r) => r.forgetting?.with ?? [])) }
    : undefined;
  // A concept shared by several methods is counted in each: each row says what it cost.
  const trainingSeconds = ran.reduce((sum, r) => sum + (r.concept?.seconds ?? 0), 0);
  return {
    id: method.id, title: method.title, group: method.group, description: method.description,
    subjectsDone: results.length, subjectsSelected,
    skipped: results.filter((r) => r.skipped).map((r) => ({ subject: r.subject, reason: r.skipped! })),
    tokensUsed: mean(ran.flatMap((r) => (r.tokensUsed === null ? [] : [r.tokensUsed]))),
    recognition: recognitionScores(ran.flatMap((r) => r.recognition)),
    meanSubjectRocAuc: mean(perSubject.filter((s) => !s.skipped).flatMap((s) => (s.recognition.rocAuc === null ? [] : [s.recognition.rocAuc]))),
    visualQa: qaScore(ran.flatMap((r) => r.visualQa)),
    textQa: qaScore(ran.flatMap((r) => r.textQa)),
    ...(forgetting ? { forgetting } : {}),
    seconds: results.reduce((sum, r) => sum + r.seconds, 0) + trainingSeconds,
    trainingSeconds,
    perSubject,
    rocCurve: thin(rocCurve(ran.flatMap((r) => r.recognition.map((x) => x.probability)), ran.flatMap((r) => r.recognition.map((x) => x.positive)))),
  };
}
