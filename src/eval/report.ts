/**
 * The evaluation's outputs: `results.json` (every method's scores, per subject too),
 * `report.md` (tables in the paper's layout, ablations, forgetting, per-subject scores, plots,
 * how it was run) and `plots/*.svg|png`.
 */
import { relative } from 'node:path';
import { join } from 'node:path';
import { writeFileAtomic } from '../personalize/writeFileAtomic.ts';
import { ablationRows, METHODS } from './methods.ts';
import { colorOf, dotPlotSvg, linePlotSvg, rocSvg, writePlot } from './plots.ts';
import type { FormScore, MethodSummary, QaScore } from './results.ts';

export interface EvalSummary {
  readonly format: string;
  readonly model: { readonly source: string; readonly identity: string };
  readonly dataset: {
    readonly root: string; readonly subjects: readonly string[]; readonly testPhotos: number;
    readonly visualQuestions: number; readonly textQuestions: number; readonly pool: string | null;
  };
  readonly settings: { readonly epochs: number | null; readonly seed: number; readonly limit: number | null; readonly negatives: string | null; readonly forgettingOthers: number; readonly harnessVersion: number };
  readonly run: { readonly command: string | null; readonly startedAt: string; readonly finishedAt: string; readonly seconds: number; readonly interrupted: boolean; readonly methodsSelected: readonly string[] };
  readonly methods: readonly MethodSummary[];
  readonly warnings: readonly string[];
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '–';
  if (seconds < 9.95) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds); // rounded once, so that 299.6 s reads "5 min 0 s", never "4 min 60 s"
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60);
  return minutes < 60 ? `${minutes} min ${whole % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const score = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(3));
const qa = (s: QaScore): string => (s.questions ? score(s.accuracy) : '–');
const tokens = (x: number | null): string => (x === null ? '–' : Number.isInteger(x) ? String(x) : x.toFixed(1));

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function scoreRow(label: string, m: MethodSummary | undefined): string[] {
  if (!m) return [label, '–', '–', '–', '–', '–', '–', '–', 'not run'];
  const r = m.recognition;
  const partial = m.subjectsDone < m.subjectsSelected ? ` (${m.subjectsDone}/${m.subjectsSelected} subjects)` : '';
  return [label, tokens(m.tokensUsed), score(r.positiveAccuracy), score(r.negativeAccuracy), score(r.weightedAccuracy), score(r.rocAuc), qa(m.visualQa), qa(m.textQa), formatDuration(m.seconds) + partial];
}

const SCORE_HEADER = ['Method', 'Tokens used', 'Positive', 'Negative', 'Weighted', 'ROC AUC', 'Visual QA', 'Text QA', 'Time'];

export async function writeEvalReport(outDir: string, summary: EvalSummary): Promise<{ reportFile: string; jsonFile: string; plots: string[] }> {
  const jsonFile = join(outDir, 'results.json');
  writeFileAtomic(jsonFile, `${JSON.stringify(summary, (key, value) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 1)}\n`);
  const byId = new Map(summary.methods.map((m) => [m.id, m]));
  const plotsDir = join(outDir, 'plots');
  const plots: string[] = [];
  const lines: string[] = [];
  const d = summary.dataset;
  const n = d.subjects.length;
  lines.push('# yollava evaluation', '');
  lines.push(`- **Model**: \`${summary.model.source}\` (identity ${summary.model.identity})`);
  lines.push(`- **Dataset**: \`${d.root}\` — ${n} subjects, ${d.testPhotos} test photos: ${d.testPhotos} positive and ${d.testPhotos * (n - 1)} negative recognition pairs per method; ${d.visualQuestions} visual and ${d.textQuestions} text-only two-option questions`);
  lines.push(`- **Settings**: seed ${summary.settings.seed}, ${summary.settings.epochs === null ? 'each recipe\'s own training epochs (ours up to 5, the paper\'s up to 15)' : `up to ${summary.settings.epochs} training epochs`}, ${summary.settings.limit === null ? 'every test photo and question' : `at most ${summary.settings.limit} test photos and questions per subject`}, negatives from ${summary.settings.negatives ? `\`${summary.settings.negatives}\`` : 'nowhere (none)'}`);
  if (summary.run.command) lines.push(`- **Command**: \`${summary.run.command}\``);
  const compute = summary.methods.reduce((s, m) => s + m.seconds, 0);
  lines.push(`- **Time**: this run ${formatDuration(summary.run.seconds)} (${summary.run.startedAt} → ${summary.run.finishedAt})${summary.run.interrupted ? ', **interrupted**' : ''}; the results below took ${formatDuration(compute)} of evaluation and training in all (a concept shared by several rows counts in each)`);
  lines.push('');

  lines.push('## Main results', '');
  lines.push('Recognition: "Can you see if <name> is in this photo? Answer with a single word or phrase." on every test photo of every subject (greedy answer read as yes/no; ROC AUC from P(Yes) at the first answer token). Weighted = (positive + negative) / 2. QA: two options, the answered letter. Tokens used: what the method adds to every prompt.', '');
  const main = METHODS.filter((m) => m.group === 'baseline' || m.group === 'yollava');
  lines.push(table(SCORE_HEADER, main.filter((m) => byId.has(m.id)).map((m) => scoreRow(m.title, byId.get(m.id)))), '');
  const withYesNo = main.flatMap((m) => (byId.get(m.id)?.textQa.byForm.yesNo.questions ? [m] : []));
  if (withYesNo.length) {
    const form = (f: FormScore): string => (f.questions ? `${score(f.accuracy)} (${f.questions})` : '–');
    lines.push('Two-option questions by form: options "Yes" / "No" (a check such as "Is <name> tall?") and the others (a choice between two values). Accuracy (questions).', '');
    lines.push(table(['Method', 'Visual QA: yes/no', 'Visual QA: values', 'Text QA: yes/no', 'Text QA: values'], withYesNo.map((m) => {
      const s = byId.get(m.id)!;
      return [m.title, form(s.visualQa.byForm.yesNo), form(s.visualQa.byForm.other), form(s.textQa.byForm.yesNo), form(s.textQa.byForm.other)];
    })), '');
  }
  lines.push("For reference, the paper (LLaVA-1.5-13B, k = 16, n = 5): Yo'LLaVA positive 0.949, negative 0.898, weighted 0.924, visual QA 0.929, text QA 0.883; vanilla LLaVA weighted 0.500; LLaVA + human description ~0.82; GPT-4V + 5 photos 0.925.", '');

  for (const [group, title, axis] of [['latent-tokens', 'Latent tokens k (n = 5, full data)', 'k'], ['photos', 'Training photos n (k = 16, full data)', 'n'], ['training-data', 'Training data (k = 16, n = 5)', '']] as const) {
    const rows = ablationRows(group);
    if (!rows.some((r) => r.methodId !== 'yollava' && byId.has(r.methodId))) continue;
    lines.push(`## Ablation: ${title}`, '');
    lines.push(table(SCORE_HEADER, rows.map((r) => scoreRow(r.label, byId.get(r.methodId)))), '');
    if (group === 'photos') {
      // Subjects with fewer training photos than n train on all they have (the public set has 4–11).
      const used = rows.flatMap((r) => {
        const counts = byId.get(r.methodId)?.perSubject.flatMap((p) => (p.concept ? [p.concept.photos] : [])) ?? [];
        return counts.length ? [`${r.label}: ${(counts.reduce((a, b) => a + b, 0) / counts.length).toFixed(1)}`] : [];
      });
      if (used.length) lines.push(`Photos actually used per subject, on average: ${used.join(', ')}.`, '');
    }
    if (axis) {
      const xs = rows.map((r) => r.value as number);
      const series = [
        { label: 'recognition weighted', pick: (m: MethodSummary) => m.recognition.weightedAccuracy },
        { label: 'visual QA', pick: (m: MethodSummary) => m.visualQa.accuracy },
        { label: 'text QA', pick: (m: MethodSummary) => m.textQa.accuracy },
      ].map((s, i) => ({ label: s.label, color: colorOf(i), points: rows.map((r) => ({ x: r.value as number, y: byId.has(r.methodId) ? s.pick(byId.get(r.methodId)!) : null })) }));
      const file = await writePlot(join(plotsDir, `ablation-${group}`), linePlotSvg(xs, series, `Ablation: ${axis}`, axis === 'k' ? 'latent tokens k' : 'training photos n'));
      plots.push(file);
      lines.push(`![${title}](${relative(outDir, file)})`, '');
    }
  }

  const forgetting = byId.get('forgetting');
  if (forgetting?.forgetting) {
    const f = forgetting.forgetting;
    lines.push('## Forgetting', '');
    lines.push(`Visual questions about other subjects (the next ${summary.settings.forgettingOthers} in the list), asked with each subject's Yo'LLaVA concept attached and without it. All weights are frozen, so only the context differs.`, '');
    const change = f.with.accuracy !== null && f.without.accuracy !== null ? (f.with.accuracy - f.without.accuracy) : null;
    lines.push(table(['Measure', 'Questions', 'Without concept', 'With concept', 'Change'], [['visual QA about other subjects', String(f.without.questions), score(f.without.accuracy), score(f.with.accuracy), change === null ? '–' : `${change >= 0 ? '+' : ''}${change.toFixed(3)}`]]), '');
  }

  // Per subject: weighted recognition accuracy of every method that recognizes.
  // The main methods only (ablations have their own tables and plots; every score is in results.json).
  const recognizing = summary.methods.filter((m) => (m.group === 'baseline' || m.group === 'yollava') && m.recognition.positives + m.recognition.negatives > 0);
  if (recognizing.length) {
    lines.push('## Per subject', '');
    lines.push('Per subject and main method: weighted recognition accuracy (positive, negative) / visual QA / text QA. Every method\'s per-subject scores are in results.json.', '');
    const cell = (m: MethodSummary, subject: string): string => {
      const s = m.perSubject.find((p) => p.subject === subject);
      if (!s) return '–';
      if (s.skipped) return 'skipped';
      return `${score(s.recognition.weightedAccuracy)} (${score(s.recognition.positiveAccuracy)}, ${score(s.recognition.negativeAccuracy)}) / ${qa(s.visualQa)} / ${qa(s.textQa)}`;
    };
    lines.push(table(['Subject', ...recognizing.map((m) => m.id)], d.subjects.map((subject) => [subject, ...recognizing.map((m) => cell(m, subject))])), '');
    const rocFile = await writePlot(join(plotsDir, 'roc'), rocSvg(recognizing.map((m, i) => ({ label: `${m.id} (AUC ${score(m.recognition.rocAuc)})`, points: m.rocCurve, color: colorOf(i) }))));
    const dotFile = await writePlot(join(plotsDir, 'per-subject-accuracy'), dotPlotSvg(d.subjects, recognizing.map((m, i) => ({
      label: m.id, color: colorOf(i), values: d.subjects.map((subject) => m.perSubject.find((p) => p.subject === subject && !p.skipped)?.recognition.weightedAccuracy ?? null),
    })), 'Weighted recognition accuracy per subject', 'weighted accuracy'));
    plots.push(rocFile, dotFile);
    lines.push('## Plots', '');
    lines.push(`![ROC curves](${relative(outDir, rocFile)})`, '', `![Per-subject accuracy](${relative(outDir, dotFile)})`, '');
  }

  lines.push('## Methods', '');
  for (const m of summary.methods) lines.push(`- **${m.id}** (${m.title}): ${m.description}`);
  lines.push('');

  const notes: string[] = [...summary.warnings];
  for (const id of summary.run.methodsSelected) if (!byId.has(id)) notes.push(`${id}: 0 of ${n} subjects done (run the same command again to continue)`);
  for (const m of summary.methods) {
    if (m.subjectsDone < m.subjectsSelected) notes.push(`${m.id}: ${m.subjectsDone} of ${m.subjectsSelected} subjects done (run the same command again to continue)`);
    for (const s of m.skipped) notes.push(`${m.id}: skipped ${s.subject}: ${s.reason}`);
    const unparsed = m.recognition.unparsed + m.visualQa.unparsed + m.textQa.unparsed;
    if (unparsed) notes.push(`${m.id}: ${unparsed} answers were neither yes/no nor a letter (scored as wrong)`);
  }
  if (notes.length) {
    lines.push('## Notes', '');
    for (const note of notes) lines.push(`- ${note}`);
    lines.push('');
  }
  const reportFile = join(outDir, 'report.md');
  writeFileAtomic(reportFile, lines.join('\n'));
  return { reportFile, jsonFile, plots };
}
