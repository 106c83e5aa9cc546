/** `yollava train <name> <photos or folders…>`: learn a concept and add it to the library. */
import { parseArgs } from 'node:util';
import { buildConceptData, type ConceptData } from '../../personalize/conceptData.ts';
import { loadConceptData, saveConceptData } from '../../personalize/conceptDataFile.ts';
import { createConcept, PAPER_RECIPE, prepareConceptData, type CreateConceptProgress } from '../../personalize/createConcept.ts';
import { DEFAULT_FALSE_POSITIVE_RATE, removeCheckpoint, trainConcept } from '../../personalize/trainConcept.ts';
import { CliError } from '../CliError.ts';
import { boundarySummary } from '../boundarySummary.ts';
import { collectPhotos } from '../collectPhotos.ts';
import { modelOptions, modelOptionsHelp, openLibrary, openModel } from '../modelOption.ts';
import { formatSeconds, ProgressLine } from '../progressLine.ts';

export const trainUsage = `Usage: yollava train <name> <photos or folders…> [options]

Learns the concept <name> from photos of it (5 are used by default; folders are searched),
and saves it in the concept library. Ctrl-C stops training and keeps the best epoch so far.

${modelOptionsHelp}
  -n, --negatives <folder>  a pool of other images: hard negatives (the most similar to your
                            photos, through a persistent index) and easy ones (random)
      --hard <n>            hard negatives per photo (default: 100 in all, at most half
                            of a small pool, so that random ones remain)
      --easy <n>            easy negatives (default 100)
      --held-out <n>        random pool images kept out of training, to set the Yes/No
                            boundary on after training (default 150; 0: none)
      --false-positive-rate <r>
                            the share of those the concept may answer "Yes" to (default
                            ${DEFAULT_FALSE_POSITIVE_RATE}); "off" keeps the best epoch's rows as trained
      --subject <kind>      "person" or "subject" (default): which questions the base model
                            answers about the photos for text-only training
      --no-conversations    skip those questions
      --description <text>  start the latent tokens from this description of the subject
                            ("a small brown dog with a red collar") instead of the base
                            model's own description of the first photo
      --paper-recipe        train exactly as the paper: latent tokens start at random,
                            recognition answers are its sentences, every sample weighs the same
                            and the boundary is not moved (default: description start, "Yes"/"No"
                            answers, negatives weighted to count as much as positives in all,
                            hard ones a quarter of that, shifted windows, the boundary set on
                            held-out negatives)
  -k, --latent <k>          latent tokens (default 16)
      --epochs <n>          at most this many epochs (default 5; with --paper-recipe 15)
      --lr <x>              learning rate (default 0.001)
      --seed <n>            seed (default 0)
      --add                 continue training the library's <name> with these photos added
      --resume              continue an interrupted run of the same data
      --data <file>         train on this training-data file (from --save-data or edited) instead
      --save-data <file>    write the training data (JSON) and stop without training`;

function describe(progress: CreateConceptProgress): string {
  switch (progress.stage) {
    case 'index': return progress.progress.total === 0 ? 'the negative pool is indexed already' : `indexing negatives: ${progress.progress.done}/${progress.progress.total}${progress.progress.failed ? ` (${progress.progress.failed} unreadable)` : ''}`;
    case 'negatives': return `negatives: ${progress.hard} hard, ${progress.easy} easy, ${progress.heldOut} kept out of training to set the Yes/No boundary on`;
    case 'conversations': return `asking the base model about the photos: ${progress.done}/${progress.total}`;
    case 'description': return `the latent tokens start from: "${progress.description}"`;
    case 'training': {
      const p = progress.progress;
      if (p.phase === 'preparing') return 'preparing training…';
      if (p.phase === 'evaluating') return `epoch ${p.epoch}/${p.epochs}: checking recognition on the training photos…`;
      if (p.phase === 'calibrating') return 'setting the Yes/No boundary on the held-out negatives…';
      const accuracy = p.lastAccuracy === null ? '' : `  recognition ${p.lastAccuracy.toFixed(3)} (best ${p.bestAccuracy?.toFixed(3)})`;
      return `epoch ${p.epoch}/${p.epochs}  step ${p.step}/${p.steps}  loss ${Number.isFinite(p.loss) ? p.loss.toFixed(4) : '–'}${accuracy}  ${formatSeconds(p.elapsedSeconds)} elapsed, ${formatSeconds(p.remainingSeconds)} left`;
    }
  }
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      ...modelOptions, negatives: { type: 'string', short: 'n' }, hard: { type: 'string' }, easy: { type: 'string' }, 'held-out': { type: 'string' }, 'false-positive-rate': { type: 'string' },
      subject: { type: 'string' }, 'no-conversations': { type: 'boolean' }, description: { type: 'string' }, 'paper-recipe': { type: 'boolean' }, latent: { type: 'string', short: 'k' },
      epochs: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' }, add: { type: 'boolean' },
      resume: { type: 'boolean' }, data: { type: 'string' }, 'save-data': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { process.stdout.write(trainUsage + '\n'); return 0; }
  const [name, ...paths] = positionals;
  if (!name) throw new CliError(`train needs a concept name\n\n${trainUsage}`);
  if (paths.length === 0 && !values.data) throw new CliError(`train needs photos of <${name}> (files or folders)\n\n${trainUsage}`);
  const integer = (flag: string, value: string | undefined, min: number) => {
    if (value === undefined) return undefined;
    const x = Number(value);
    if (!Number.isInteger(x) || x < min) throw new CliError(`--${flag} must be an integer ≥ ${min}, got ${value}`);
    return x;
  };
  const subject = values.subject ?? 'subject';
  if (subject !== 'person' && subject !== 'subject') throw new CliError(`--subject must be "person" or "subject", got ${values.subject}`);
  const lr = values.lr === undefined ? undefined : Number(values.lr);
  if (lr !== undefined && !(lr > 0)) throw new CliError(`--lr must be a positive number, got ${values.lr}`);
  const library = openLibrary(values.library);
  if (library.has(name) && !values.add && !values.resume && !values['save-data']) {
    throw new CliError(`a concept named "${name}" already exists in ${library.dir}: use --add to continue it with more photos, or choose another name`);
  }
  const photos = paths.length ? collectPhotos(paths) : [];
  const previous = values.add ? library.load(name) : undefined;
  const vlm = await openModel(values.model);
  const controller = new AbortController();
  const line = new ProgressLine();
  const onInterrupt = () => { controller.abort(); line.done('stopping: keeping the best epoch so far…'); };
  process.once('SIGINT', onInterrupt);
  const seed = integer('seed', values.seed, 0) ?? 0;
  const paper = values['paper-recipe'] ?? false;
  if (paper && values.description !== undefined) throw new CliError('--description and --paper-recipe do not go together (the paper starts the latent tokens at random)');
  if (values.description !== undefined && values.description.trim() === '') throw new CliError('--description needs some text');
  const answerStyle = paper ? PAPER_RECIPE.answerStyle : 'short';
  const rateFlag = values['false-positive-rate'];
  const rate = rateFlag === undefined ? undefined : rateFlag === 'off' ? null : Number(rateFlag);
  if (rate !== undefined && rate !== null && !(rate >= 0 && rate < 1)) throw new CliError(`--false-positive-rate must be a number from 0 to below 1, or "off", got ${rateFlag}`);
  if (paper && rate !== undefined) throw new CliError('--false-positive-rate and --paper-recipe do not go together (the paper keeps the trained rows as they are)');
  const training = {
    ...(paper ? PAPER_RECIPE.training : {}), latentCount: integer('latent', values.latent, 0), epochs: integer('epochs', values.epochs, 1) ?? (paper ? PAPER_RECIPE.training.epochs : undefined), learningRate: lr,
    ...(rate !== undefined ? { targetFalsePositiveRate: rate } : {}),
  };
  try {
    let data: ConceptData;
    if (values.data) {
      data = loadConceptData(values.data);
      if (data.name !== name) throw new CliError(`${values.data}: holds training data for <${data.name}>, not <${name}>`);
    } else {
      const previousData = values.add ? library.loadData(name) : null;
      const prepared = await prepareConceptData(vlm, {
        name, photos, negativePool: values.negatives, hardPerPhoto: integer('hard', values.hard, 0), easyCount: integer('easy', values.easy, 0),
        heldOutCount: paper || rate === null ? 0 : integer('held-out', values['held-out'], 0),
        conversations: !values['no-conversations'], subjectKind: subject, seed, signal: controller.signal,
        answerStyle, description: paper ? PAPER_RECIPE.description : values.description ?? true,
        onProgress: (progress) => line.update(describe(progress), progress.stage === 'negatives'),
      });
      data = previousData ? buildConceptData({
        name, seed,
        positives: [...new Set([...previousData.samples.filter((s) => s.kind === 'positive').map((s) => s.image!), ...photos])],
        hardNegatives: [...new Set(previousData.samples.filter((s) => s.kind === 'hard-negative').map((s) => s.image!).concat(prepared.samples.filter((s) => s.kind === 'hard-negative').map((s) => s.image!)))],
        easyNegatives: [...new Set(previousData.samples.filter((s) => s.kind === 'easy-negative').map((s) => s.image!).concat(prepared.samples.filter((s) => s.kind === 'easy-negative').map((s) => s.image!)))],
        conversations: [...previousData.samples, ...prepared.samples].filter((s) => s.kind === 'conversation').map((s) => ({ question: s.question, answer: s.answer })),
        maxPositives: Number.MAX_SAFE_INTEGER, answerStyle, description: previousData.description, heldOutNegatives: prepared.heldOutNegatives,
      }) : prepared;
    }
    line.done(`training data for <${name}>: ${data.summary.positives} positive, ${data.summary.hardNegatives} hard-negative, ${data.summary.easyNegatives} easy-negative, ${data.summary.conversations} conversation samples${data.heldOutNegatives ? `; ${data.heldOutNegatives.length} held-out negatives` : ''}`);
    for (const warning of data.warnings) process.stderr.write(`note: ${warning}\n`);
    if (values['save-data']) {
      saveConceptData(values['save-data'], data);
      process.stderr.write(`wrote ${values['save-data']}\n`);
      return 0;
    }
    const result = await trainConcept(vlm, data, {
      ...training, seed, signal: controller.signal, initialConcept: previous,
      checkpointFile: library.trainingCheckpointFile(name), resume: values.resume,
      onProgress: (progress) => line.update(describe({ stage: 'training', progress }), progress.phase === 'evaluating'),
    });
    line.done();
    for (const e of result.epochs) {
      process.stderr.write(`epoch ${String(e.epoch).padStart(2)}: loss ${e.loss === null ? '   –  ' : e.loss.toFixed(4)}  recognition positive ${e.positiveAccuracy.toFixed(3)} negative ${e.negativeAccuracy.toFixed(3)} weighted ${e.weightedAccuracy.toFixed(3)}  (${e.seconds.toFixed(1)} s)\n`);
    }
    const file = library.save(result.concept, data);
    if (!result.interrupted) removeCheckpoint(library.trainingCheckpointFile(name));
    const best = result.epochs.find((e) => e.epoch === result.concept.info.bestEpoch);
    const point = result.concept.info.operatingPoint;
    if (point) process.stderr.write(`${boundarySummary(point)}\n`);
    process.stdout.write(`saved <${name}> to ${file}${best ? ` (epoch ${best.epoch}, weighted recognition ${best.weightedAccuracy.toFixed(3)} on the training photos)` : ''}${result.interrupted ? ' — interrupted' : ''}\n`);
    return 0;
  } catch (error) {
    if (controller.signal.aborted && (error as Error).name === 'AbortError') {
      line.done(`stopped before training started: nothing saved`);
      return 130;
    }
    throw error;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}
