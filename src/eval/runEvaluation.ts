/**
 * `yollava eval`: every selected method on every selected subject of an evaluation set —
 * recognition over every test photo of every subject (its own photos positive, all others
 * negative), two-option questions with a photo and without — then per-method and per-subject
 * scores as JSON, and a markdown report with plots.
 *
 * Resumable: each (method, subject) result is written atomically as soon as it is complete,
 * and reused by a later run with the same settings (fingerprint); concepts, captions and the
 * negative pool's index are kept in the output folder too. An AbortSignal stops after the
 * current question; the report then covers what is done.
 */
import { createHash } from 'node:crypto';
import { relative, resolve } from 'node:path';
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import { ConceptSet } from '../personalize/ConceptSet.ts';
import type { CreateConceptProgress } from '../personalize/createConcept.ts';
import { modelIdentity } from '../personalize/modelIdentity.ts';
import { ModelAsker, type PromptContext } from './askModel.ts';
import { readEvalDataset, selectSubjects, SUBJECT_TOKEN, type EvalDataset, type EvalSubject, type McqQuestion } from './dataset.ts';
import { conceptFolder, pipelineField, conceptIsStored, obtainConcept, type ConceptSettings, type EvalConcept } from './evalConcepts.ts';
import { METHODS, recipeKey, resolveMethods, type EvalMethod } from './methods.ts';
import { writeEvalReport, type EvalSummary } from './report.ts';
import { readResult, RESULT_FORMAT, resultFile, summarizeMethod, writeResult, type ConceptRecord, type QaRecord, type RecognitionRecord, type SubjectResult } from './results.ts';
import { captionsContext, humanContext, obtainDescriptions, summaryContext } from './textContexts.ts';

/** Bump when prompts or scoring change, so that older stored results are recomputed. */
export const HARNESS_VERSION = 1;

export interface EvalOptions {
  /** The evaluation set (public layout; see dataset.ts). */
  readonly dataset: string;
  /** Where results, concepts, the report and plots go. */
  readonly outDir: string;
  /** Method ids and groups (methods.ts). Default "main". */
  readonly methods?: string | readonly string[];
  /** Subject folder names (default all). */
  readonly subjects?: readonly string[];
  /** At most this many test photos, visual and text questions per subject. */
  readonly limit?: number;
  /** Concept training epochs (default: each recipe's own, recipeEpochs: 5 for ours, 15 for the paper's). */
  readonly epochs?: number;
  readonly seed?: number;
  /** Folder of negatives for concept training (default the dataset's pool/; null: none). */
  readonly negatives?: string | null;
  /** Forgetting: how many other subjects' visual questions each concept is tried on (default 3). */
  readonly forgettingOthers?: number;
  /** The command line, for the report. */
  readonly command?: string;
  /** Only rebuild results.json, the report and plots from stored results (nothing is run). */
  readonly reportOnly?: boolean;
  readonly onProgress?: (progress: EvalProgress) => void;
  readonly signal?: AbortSignal;
}

export type EvalPhase = 'cached' | 'training' | 'captions' | 'recognition' | 'visual-qa' | 'text-qa' | 'forgetting';

export interface EvalProgress {
  readonly method: string;
  readonly methodIndex: number;
  readonly methodCount: number;
  readonly subject: string;
  readonly subjectIndex: number;
  readonly subjectCount: number;
  readonly phase: EvalPhase;
  /** Within the phase. */
  readonly done: number;
  readonly total: number;
  /** Concept training's own progress line. */
  readonly detail?: string;
  readonly elapsedSeconds: number;
  /** The whole run's estimate (null until something has been timed). */
  readonly remainingSeconds: number | null;
}

export interface EvalRunResult {
  readonly summary: EvalSummary;
  readonly reportFile: string;
  readonly jsonFile: string;
  readonly interrupted: boolean;
}

interface Job {
  readonly method: EvalMethod;
  readonly subject: EvalSubject;
  readonly file: string;
  readonly fingerprint: string;
}

function describeTraining(progress: CreateConceptProgress): string {
  switch (progress.stage) {
    case 'index': return `indexing negatives ${progress.progress.done}/${progress.progress.total}`;
    case 'negatives': return `negatives: ${progress.hard} hard, ${progress.easy} easy, ${progress.heldOut} held out`;
    case 'conversations': return `conversations ${progress.done}/${progress.total}`;
    case 'description': return 'description';
    case 'training': {
      const p = progress.progress;
      if (p.phase === 'evaluating') return `epoch ${p.epoch}/${p.epochs}: checking recognition`;
      if (p.phase === 'calibrating') return 'setting the Yes/No boundary';
      return `epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.steps} loss ${Number.isFinite(p.loss) ? p.loss.toFixed(3) : '–'}`;
    }
  }
}

/** Other subjects whose visual questions a subject's concept is tried on (forgetting): the next ones with questions, cyclically. */
function forgettingSubjects(subjects: readonly EvalSubject[], subject: EvalSubject, count: number): EvalSubject[] {
  const start = subjects.indexOf(subject);
  const out: EvalSubject[] = [];
  for (let i = 1; i < subjects.length && out.length < count; i++) {
    const other = subjects[(start + i) % subjects.length];
    if (other.visualQa.length) out.push(other);
  }
  return out;
}

export async function runEvaluation(vlm: VisionLanguageModel, options: EvalOptions): Promise<EvalRunResult> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const elapsed = () => (performance.now() - started) / 1000;
  const dataset = readEvalDataset(options.dataset);
  const subjects = selectSubjects(dataset, { names: options.subjects, limit: options.limit });
  const methods = resolveMethods(options.methods ?? 'main');
  const outDir = resolve(options.outDir);
  const epochs = options.epochs ?? null;
  const seed = options.seed ?? 0;
  const negativePool = options.negatives === undefined ? dataset.pool : options.negatives;
  const forgettingOthers = options.forgettingOthers ?? 3;
  const identity = modelIdentity(vlm.model);
  const modelKey = `${identity.configHash.slice(0, 16)}-${identity.weightsHash.slice(0, 16)}`;
  const conceptSettings: ConceptSettings = { outDir, epochs, seed, negativePool: negativePool ? resolve(negativePool) : null };
  const signal = options.signal;
  const rel = (path: string) => relative(dataset.root, path).split('\\').join('/');

  // Every test photo of every selected subject: the recognition set of each subject.
  const pairs = subjects.flatMap((s) => s.testPhotos.map((photo) => ({ photo, owner: s })));
  const fingerprintOf = (method: EvalMethod, subject: EvalSubject): string => createHash('sha256').update(JSON.stringify({
    version: HARNESS_VERSION, method: method.id, kind: method.kind, recipe: method.recipe ?? null, model: modelKey,
    concept: method.recipe ? { epochs, seed, negatives: conceptSettings.negativePool, ...pipelineField(method.recipe) } : null,
    subject: subject.name, context: method.kind === 'text-human' ? subject.description : null,
    photos: pairs.map((p) => [rel(p.photo), p.owner === subject]),
    visual: subject.visualQa.map((q) => [q.question, q.options, q.correct, rel(q.photo!)]),
    text: subject.textQa.map((q) => [q.question, q.options, q.correct]),
    forgetting: method.kind === 'forgetting' ? forgettingSubjects(subjects, subject, forgettingOthers).map((s) => [s.name, s.visualQa.map((q) => [q.question, rel(q.photo!)])]) : null,
  })).digest('hex').slice(0, 32);
  const jobsOf = (list: readonly EvalMethod[]): Job[] => list.flatMap((method) => subjects.map((subject) => ({
    method, subject, file: resultFile(outDir, method.id, subject.conceptName), fingerprint: fingerprintOf(method, subject),
  })));
  const jobs = jobsOf(methods);

  // Work left, for the time estimate: questions to ask and concepts to train.
  const questionsOf = (job: Job): number => {
    if (job.method.kind === 'forgetting') return 2 * forgettingSubjects(subjects, job.subject, forgettingOthers).reduce((n, s) => n + s.visualQa.length, 0);
    return pairs.length + job.subject.visualQa.length + job.subject.textQa.length;
  };
  const pending = jobs.filter((job) => !readResult(job.file, job.fingerprint));
  const trainingKey = (job: Job) => `${recipeKey(job.method.recipe!)}|${job.subject.conceptName}`;
  const trainingsLeft = new Set(pending.filter((job) => job.method.recipe && !conceptIsStored(vlm, job.subject, job.method.recipe, conceptSettings)).map(trainingKey));
  let questionsLeft = pending.reduce((n, job) => n + questionsOf(job), 0);
  let questionSeconds = 0, questionsTimed = 0, trainingSecondsSum = 0, trainingsTimed = 0;
  let currentTrainingLeft: number | null = null;
  const remaining = (): number | null => {
    const perQuestion = questionsTimed ? questionSeconds / questionsTimed : null;
    const perTraining = trainingsTimed ? trainingSecondsSum / trainingsTimed : null;
    if (perQuestion === null && perTraining === null && currentTrainingLeft === null) return null;
    const trainingPart = trainingsLeft.size === 0 ? 0 : perTraining !== null ? perTraining * trainingsLeft.size : currentTrainingLeft;
    if (trainingPart === null) return null;
    return (perQuestion ?? 0) * questionsLeft + trainingPart;
  };

  let interrupted = false;
  const asker = new ModelAsker(vlm);
  for (const [j, job] of jobs.entries()) {
    const { method, subject } = job;
    const methodIndex = methods.indexOf(method);
    const subjectIndex = subjects.indexOf(subject);
    const report = (phase: EvalPhase, done: number, total: number, detail?: string) => options.onProgress?.({
      method: method.id, methodIndex, methodCount: methods.length, subject: subject.name, subjectIndex, subjectCount: subjects.length,
      phase, done, total, detail, elapsedSeconds: elapsed(), remainingSeconds: remaining(),
    });
    if (signal?.aborted) { interrupted = true; break; }
    if (options.reportOnly) break;
    if (readResult(job.file, job.fingerprint)) { report('cached', j + 1, jobs.length); continue; }
    const jobStarted = performance.now();
    let conceptSet: ConceptSet | null = null;
    try {
      let context: PromptContext | null = null;
      let skipped: string | undefined;
      let conceptRecord: ConceptRecord | undefined;
      let conceptTrained: EvalConcept | null = null;
      switch (method.kind) {
        case 'vanilla':
          context = { identifier: SUBJECT_TOKEN, text: null, referencePhotos: [] };
          break;
        case 'text-human':
          if (subject.description) context = { identifier: SUBJECT_TOKEN, text: humanContext(SUBJECT_TOKEN, subject.description), referencePhotos: [] };
          else skipped = `no description of "${subject.name}" (world.json)`;
          break;
        case 'text-captions':
        case 'text-summary': {
          const descriptions = await obtainDescriptions(asker, subject, outDir, modelKey, { signal, onProgress: (done, total) => report('captions', done, total) });
          const text = method.kind === 'text-captions' ? captionsContext(SUBJECT_TOKEN, descriptions.captions) : summaryContext(SUBJECT_TOKEN, descriptions.summary);
          context = { identifier: SUBJECT_TOKEN, text, referencePhotos: [] };
          break;
        }
        case 'image-prompt':
          context = { identifier: SUBJECT_TOKEN, text: null, referencePhotos: [subject.trainPhotos[0]] };
          break;
        case 'concept':
        case 'forgetting': {
          const key = trainingKey(job);
          const trainingStarted = performance.now();
          conceptTrained = await obtainConcept(vlm, subject, method.recipe!, conceptSettings, {
            signal,
            onProgress: (p) => {
              if (p.stage === 'training' && p.progress.remainingSeconds !== null) currentTrainingLeft = p.progress.remainingSeconds + (trainingsLeft.size - 1) * (performance.now() - trainingStarted) / 1000;
              report('training', 0, 1, describeTraining(p));
            },
          });
          if (trainingsLeft.delete(key) && !conceptTrained.reused) { trainingSecondsSum += conceptTrained.seconds; trainingsTimed++; }
          currentTrainingLeft = null;
          const concept = conceptTrained.concept;
          conceptSet = new ConceptSet(vlm);
          conceptSet.add(concept);
          const best = concept.info.epochs.find((e) => e.epoch === concept.info.bestEpoch);
          conceptRecord = {
            file: relative(outDir, conceptTrained.file), latentCount: concept.info.latentCount, photos: conceptTrained.photos,
            bestEpoch: concept.info.bestEpoch, trainingWeightedAccuracy: best?.weightedAccuracy ?? null,
            samples: { ...conceptTrained.summary }, seconds: conceptTrained.seconds, reused: conceptTrained.reused,
          };
          context = { identifier: concept.identifier, text: concept.personalization, referencePhotos: [], extra: conceptSet.extraTokens() };
          break;
        }
      }
      const evaluationStarted = performance.now();
      const timed = async <T>(work: () => Promise<T>): Promise<T> => {
        signal?.throwIfAborted();
        const t0 = performance.now();
        const asked = asker.questions;
        const out = await work();
        if (asker.questions > asked) { // a remembered answer costs nothing and says nothing about the rate
          questionSeconds += (performance.now() - t0) / 1000;
          questionsTimed++;
        }
        questionsLeft--;
        return out;
      };
      const askQa = async (ctx: PromptContext, q: McqQuestion, about: string, withPhoto: boolean): Promise<QaRecord> => {
        const photo = withPhoto ? q.photo! : null;
        try {
          const answer = await timed(() => asker.choose(ctx, q.question, q.options, photo, signal));
          return { question: q.question, options: q.options, photo: photo && rel(photo), about, correct: q.correct, answer: answer.text, parsed: answer.parsed, probabilityA: answer.probability, right: answer.parsed === q.correct };
        } catch (error) {
          if (signal?.aborted) throw error;
          return { question: q.question, options: q.options, photo: photo && rel(photo), about, correct: q.correct, answer: '', parsed: null, probabilityA: NaN, right: false, error: (error as Error).message };
        }
      };
      const recognition: RecognitionRecord[] = [];
      const visualQa: QaRecord[] = [];
      const textQa: QaRecord[] = [];
      let forgetting: SubjectResult['forgetting'];
      if (context && method.kind === 'forgetting') {
        const others = forgettingSubjects(subjects, subject, forgettingOthers);
        const questions = others.flatMap((other) => other.visualQa.map((q) => ({ q, about: other.name })));
        const vanilla: PromptContext = { identifier: SUBJECT_TOKEN, text: null, referencePhotos: [] };
        // The question keeps "<sks>" (the other subject): only the attached concept differs.
        const attached: PromptContext = { ...context, identifier: SUBJECT_TOKEN };
        const without: QaRecord[] = [];
        const withConcept: QaRecord[] = [];
        for (const [i, { q, about }] of questions.entries()) {
          report('forgetting', i, questions.length);
          without.push(await askQa(vanilla, q, about, true));
          withConcept.push(await askQa(attached, q, about, true));
        }
        forgetting = { without, with: withConcept };
      } else if (context) {
        for (const [i, { photo, owner }] of pairs.entries()) {
          if (i % 4 === 0) report('recognition', i, pairs.length);
          try {
            const answer = await timed(() => asker.recognize(context!, photo, signal));
            recognition.push({ photo: rel(photo), photoSubject: owner.name, positive: owner === subject, answer: answer.text, parsed: answer.parsed, probability: answer.probability });
          } catch (error) {
            if (signal?.aborted) throw error;
            recognition.push({ photo: rel(photo), photoSubject: owner.name, positive: owner === subject, answer: '', parsed: null, probability: NaN, error: (error as Error).message });
          }
        }
        for (const [i, q] of subject.visualQa.entries()) { report('visual-qa', i, subject.visualQa.length); visualQa.push(await askQa(context, q, subject.name, true)); }
        for (const [i, q] of subject.textQa.entries()) { report('text-qa', i, subject.textQa.length); textQa.push(await askQa(context, q, subject.name, false)); }
      } else {
        questionsLeft -= questionsOf(job);
      }
      signal?.throwIfAborted(); // only complete results are stored
      const result: SubjectResult = {
        format: RESULT_FORMAT, method: method.id, subject: subject.name, fingerprint: job.fingerprint, createdAt: new Date().toISOString(),
        seconds: (performance.now() - (conceptTrained ? evaluationStarted : jobStarted)) / 1000,
        ...(skipped ? { skipped } : {}),
        tokensUsed: context ? asker.contextTokens(context) : null,
        context: context?.text ?? null,
        ...(conceptRecord ? { concept: conceptRecord } : {}),
        recognition, visualQa, textQa,
        ...(forgetting ? { forgetting } : {}),
      };
      writeResult(job.file, result);
    } catch (error) {
      if (signal?.aborted || (error as Error).name === 'AbortError') { interrupted = true; break; }
      throw error;
    } finally {
      if (conceptSet) for (const c of [...conceptSet.concepts]) conceptSet.remove(c.name);
    }
  }

  const summary = summarize(dataset, subjects, jobsOf(METHODS), {
    source: vlm.source, modelKey, epochs, seed, limit: options.limit ?? null, negativePool: conceptSettings.negativePool, forgettingOthers,
    command: options.command ?? null, startedAt, seconds: elapsed(), interrupted, selected: methods.map((m) => m.id),
    conceptFolders: Object.fromEntries(methods.filter((m) => m.recipe).map((m) => [m.id, relative(outDir, conceptFolder(conceptSettings, m.recipe!))])),
  });
  const { reportFile, jsonFile } = await writeEvalReport(outDir, summary);
  return { summary, reportFile, jsonFile, interrupted };
}

interface RunInfo {
  source: string; modelKey: string; epochs: number | null; seed: number; limit: number | null; negativePool: string | null; forgettingOthers: number;
  command: string | null; startedAt: string; seconds: number; interrupted: boolean; selected: string[]; conceptFolders: Record<string, string>;
}

/** Every method with stored results for these settings (this run's and earlier runs'). */
function summarize(dataset: EvalDataset, subjects: readonly EvalSubject[], jobs: readonly Job[], run: RunInfo): EvalSummary {
  const methods = METHODS.flatMap((method) => {
    const results = jobs.filter((j) => j.method === method).flatMap((j) => readResult(j.file, j.fingerprint) ?? []);
    return results.length ? [summarizeMethod(method, results, subjects.length)] : [];
  });
  return {
    format: 'yollava-eval-summary/1',
    model: { source: run.source, identity: run.modelKey },
    dataset: {
      root: dataset.root, subjects: subjects.map((s) => s.name),
      testPhotos: subjects.reduce((n, s) => n + s.testPhotos.length, 0),
      visualQuestions: subjects.reduce((n, s) => n + s.visualQa.length, 0),
      textQuestions: subjects.reduce((n, s) => n + s.textQa.length, 0),
      pool: dataset.pool,
    },
    settings: { epochs: run.epochs, seed: run.seed, limit: run.limit, negatives: run.negativePool, forgettingOthers: run.forgettingOthers, harnessVersion: HARNESS_VERSION },
    run: { command: run.command, startedAt: run.startedAt, finishedAt: new Date().toISOString(), seconds: run.seconds, interrupted: run.interrupted, methodsSelected: run.selected },
    methods,
    warnings: [
      ...dataset.warnings,
      ...(run.negativePool ? [] : ['no negative pool (the dataset has no pool/ and --negatives was not given): concepts were trained without easy or hard negatives']),
    ],
  };
}
