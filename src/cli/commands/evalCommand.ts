/** `yollava eval <dataset-dir>`: baselines, Yo'LLaVA concepts and ablations on an evaluation set, with a report. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DatasetError } from '../../eval/dataset.ts';
import { METHOD_GROUPS, METHODS, MethodError } from '../../eval/methods.ts';
import { runEvaluation, type EvalProgress } from '../../eval/runEvaluation.ts';
import { BENCHMARK_FOLDER, benchmarkIsCurrent, writeBenchmark } from '../../world/writeBenchmark.ts';
import { CliError } from '../CliError.ts';
import { modelOptions, openModel } from '../modelOption.ts';
import { formatSeconds, ProgressLine } from '../progressLine.ts';

export const evalUsage = `Usage: yollava eval <dataset-dir> [options]

Evaluates methods of telling the model about a subject on an evaluation set in the public
Yo'LLaVA layout (train/<subject>/, test/<subject>/, yollava-visual-qa.json,
yollava-text-qa.json; world.json and pool/ when present): recognition over every test photo
of every subject, two-option questions with and without a photo. Results are kept per
method and subject in the output folder: run the same command again to continue.

  -m, --model <dir>         base model folder (default: $YOLLAVA_MODEL, else the shipped default model)
  -o, --out <dir>           output folder (default: yollava-eval)
      --methods <list>      comma-separated methods or groups (default: main); see --list-methods
      --subjects <list>     comma-separated subject folder names (default: all)
      --limit <n>           at most n test photos, visual and text questions per subject
      --epochs <n>          concept training epochs (default: 5 for ours, 15 for the paper's)
      --seed <n>            seed of concept training data and training (default 0)
      --negatives <folder>  images for easy and hard negatives (default: the dataset's pool/)
      --forgetting-others <n>  other subjects whose visual questions each concept is tried on (default 3)
      --world <seed>        first write the generated world's benchmark (40 subjects, public
                            layout, with world.json and a negative pool) into <dataset-dir>,
                            unless it is already there
      --pool-size <n>       images in that benchmark's negative pool (default 5000)
      --report-only         rebuild the report from stored results; run nothing
      --list-methods        list the methods and groups, and stop

Writes <out>/report.md, <out>/results.json, <out>/plots/*.svg|png, <out>/results/<method>/<subject>.json.`;

function listMethods(): string {
  const width = Math.max(...METHODS.map((m) => m.id.length));
  return [
    'Methods:', ...METHODS.map((m) => `  ${m.id.padEnd(width)}  ${m.description}`), '',
    'Groups:', ...Object.entries(METHOD_GROUPS).map(([name, ids]) => `  ${name.padEnd(width)}  ${ids.join(', ')}`), '',
    'k16, n5 and data-hard-negatives are the yollava method itself.',
  ].join('\n');
}

function describe(p: EvalProgress): string {
  const where = `[${p.methodIndex + 1}/${p.methodCount} ${p.method}] ${p.subjectIndex + 1}/${p.subjectCount} ${p.subject}`;
  const what = p.phase === 'training' ? `training: ${p.detail ?? ''}` : p.phase === 'cached' ? 'stored result' : `${p.phase} ${p.done}/${p.total}`;
  return `${where}: ${what}  (${formatSeconds(p.elapsedSeconds)} elapsed, ${formatSeconds(p.remainingSeconds)} left)`;
}

export async function evalCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      model: modelOptions.model, out: { type: 'string', short: 'o' }, methods: { type: 'string' }, subjects: { type: 'string' },
      limit: { type: 'string' }, epochs: { type: 'string' }, seed: { type: 'string' }, negatives: { type: 'string' },
      'forgetting-others': { type: 'string' }, world: { type: 'string' }, 'pool-size': { type: 'string' },
      'report-only': { type: 'boolean' }, 'list-methods': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { process.stdout.write(evalUsage + '\n'); return 0; }
  if (values['list-methods']) { process.stdout.write(listMethods() + '\n'); return 0; }
  if (positionals.length !== 1) throw new CliError(`eval needs one dataset folder\n\n${evalUsage}`);
  const integer = (flag: string, value: string | undefined, min: number): number | undefined => {
    if (value === undefined) return undefined;
    const x = Number(value);
    if (!Number.isInteger(x) || x < min) throw new CliError(`--${flag} must be an integer ≥ ${min}, got ${value}`);
    return x;
  };
  const limit = integer('limit', values.limit, 1);
  const epochs = integer('epochs', values.epochs, 1);
  const seed = integer('seed', values.seed, 0);
  const forgettingOthers = integer('forgetting-others', values['forgetting-others'], 1);
  const subjects = values.subjects?.split(',').map((s) => s.trim()).filter(Boolean);
  const outDir = values.out ?? 'yollava-eval';
  const command = ['yollava', 'eval', ...argv].map((a) => (/^[\w./,=:@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');

  const worldSeed = integer('world', values.world, 0);
  const poolSize = integer('pool-size', values['pool-size'], 10);
  const line = new ProgressLine();
  if (worldSeed !== undefined && !benchmarkIsCurrent(positionals[0])) {
    if (existsSync(join(positionals[0], BENCHMARK_FOLDER, 'world.json'))) line.done(`${join(positionals[0], BENCHMARK_FOLDER)} was written by another version of the world generator: writing it again`);
    const written = await writeBenchmark(positionals[0], { seed: worldSeed, poolSize, onProgress: (p) => line.update(`writing the world benchmark (seed ${worldSeed}): ${p.phase} ${p.done}/${p.total}`) });
    line.done(`wrote ${written.root}: ${written.subjects} subjects, ${written.trainImages} training and ${written.testImages} test photos, ${written.poolImages} pool images, ${written.visualQuestions} visual and ${written.textQuestions} text questions (${formatSeconds(written.seconds)})`);
  }
  const vlm = await openModel(values.model);
  const controller = new AbortController();
  const onInterrupt = () => { controller.abort(); line.done('stopping: writing the report of what is done…'); };
  process.once('SIGINT', onInterrupt);
  try {
    const result = await runEvaluation(vlm, {
      dataset: positionals[0], outDir, methods: values.methods ?? 'main', subjects, limit, epochs, seed,
      negatives: values.negatives, forgettingOthers, command, signal: controller.signal, reportOnly: values['report-only'],
      onProgress: (p) => line.update(describe(p), p.phase === 'cached'),
    });
    line.done();
    for (const m of result.summary.methods) {
      const r = m.recognition;
      const fmt = (x: number | null) => (x === null ? '–' : x.toFixed(3));
      process.stderr.write(`${m.id.padEnd(18)} recognition ${fmt(r.positiveAccuracy)} / ${fmt(r.negativeAccuracy)} / ${fmt(r.weightedAccuracy)} (AUC ${fmt(r.rocAuc)})  visual QA ${fmt(m.visualQa.accuracy)}  text QA ${fmt(m.textQa.accuracy)}${m.forgetting ? `  forgetting: ${fmt(m.forgetting.without.accuracy)} → ${fmt(m.forgetting.with.accuracy)}` : ''}\n`);
    }
    process.stdout.write(`${result.reportFile}\n`);
    if (result.interrupted) { process.stderr.write('interrupted: run the same command again to continue\n'); return 130; }
    return 0;
  } catch (error) {
    if (error instanceof DatasetError || error instanceof MethodError) throw new CliError(error.message);
    throw error;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}
