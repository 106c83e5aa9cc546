/**
 * `yollava demo`: the whole product on the shipped default model, in a few minutes. It writes
 * the world benchmark (once, cached), picks one subject, learns it from 5 photos with easy and
 * hard negatives from the pool, then finds it among new photos, answers a question about it
 * in a photo, and one with no photo.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchmarkIsCurrent, writeBenchmark } from '../../world/writeBenchmark.ts';
import { createConcept } from '../../personalize/createConcept.ts';
import { ConceptSet } from '../../personalize/ConceptSet.ts';
import { recognize } from '../../personalize/recognize.ts';
import { boundarySummary } from '../boundarySummary.ts';
import { CliError } from '../CliError.ts';
import { modelOptions, modelOptionsHelp, openLibrary, openModel } from '../modelOption.ts';
import { formatSeconds, ProgressLine } from '../progressLine.ts';

/** Where the demo writes its world's photos (the benchmark layout; `yollava-data/pool` is its negative pool). */
export function demoWorldDir(seed = 0, poolSize = 1000): string {
  return join(process.env.YOLLAVA_HOME ?? join(homedir(), '.yollava'), 'demo', `world-${seed}-pool-${poolSize}`);
}

export const demoUsage = `Usage: yollava demo [options]

Learns one subject of the generated world from 5 photos (with easy and hard negatives),
then recognizes it among new photos and answers questions about it, with and without a photo.
The world's photos are written once to $YOLLAVA_HOME/demo (about 15 MB).

${modelOptionsHelp}
      --subject <name>   which benchmark subject (default: the first pet)
      --seed <n>         world seed (default 0)
      --epochs <n>       training epochs (default 5)
      --pool-size <n>    images in the negative pool (default 1000)`;

interface WorldJson {
  subjects: Record<string, { kind: string; type: string; description: string; test: string[] }>;
}
type TextQa = Record<string, { question: string; options: { A: string; B: string }; correct_answer: string }[]>;
type VisualQa = Record<string, Record<string, { question: string; options: { A: string; B: string }; correct_answer: string }>>;

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...modelOptions, subject: { type: 'string' }, seed: { type: 'string' }, epochs: { type: 'string' }, 'pool-size': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { process.stdout.write(demoUsage + '\n'); return 0; }
  const started = performance.now();
  const seed = Number(values.seed ?? 0);
  const epochs = Number(values.epochs ?? 5);
  const poolSize = Number(values['pool-size'] ?? 1000);
  if (!Number.isInteger(seed) || !Number.isInteger(epochs) || epochs < 1 || !Number.isInteger(poolSize) || poolSize < 10) throw new CliError('--seed, --epochs (≥ 1) and --pool-size (≥ 10) take integers');
  const say = (text: string) => process.stdout.write(text + '\n');
  const line = new ProgressLine();

  const vlm = await openModel(values.model);
  const dir = demoWorldDir(seed, poolSize);
  const root = join(dir, 'yollava-data');
  // A benchmark drawn by an older world generator holds other pictures: written again.
  if (!benchmarkIsCurrent(dir)) {
    await writeBenchmark(dir, { seed, poolSize, onProgress: (p) => line.update(`writing the world's photos: ${p.phase} ${p.done}/${p.total}`) });
    line.done();
  }
  const world = JSON.parse(readFileSync(join(root, 'world.json'), 'utf8')) as WorldJson;
  const names = Object.keys(world.subjects);
  const name = values.subject ?? names.find((n) => world.subjects[n].kind === 'pet') ?? names[0];
  const subject = world.subjects[name];
  if (!subject) throw new CliError(`no subject "${name}" in the demo world (have: ${names.join(', ')})`);
  const photo = (publicPath: string) => join(dir, publicPath.replace(/^\.\//, ''));
  const trainPhotos = [0, 1, 2, 3, 4].map((i) => join(root, 'train', name, `${i}.png`));
  say(`1. The subject: <${name}>, ${subject.description} (a ${subject.kind}). Learning it from 5 photos:`);
  for (const p of trainPhotos) say(`     ${p}`);

  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const trainingStarted = performance.now();
  const { concept, data } = await createConcept(vlm, {
    name, photos: trainPhotos, negativePool: join(root, 'pool'), hardPerPhoto: 20, easyCount: 100,
    subjectKind: subject.kind === 'person' ? 'person' : 'subject', seed,
    training: { epochs }, signal: controller.signal,
    onProgress: (p) => {
      if (p.stage === 'index') { if (p.progress.total > 0) line.update(`   indexing the negative pool: ${p.progress.done}/${p.progress.total}`); }
      else if (p.stage === 'negatives') { line.done(); say(`   negatives: ${p.hard} hard (most similar in the pool), ${p.easy} easy (random), ${p.heldOut} kept out of training to set the Yes/No boundary on`); }
      else if (p.stage === 'conversations') line.update(`   asking the base model about the photos: ${p.done}/${p.total}`);
      else if (p.stage === 'description') { line.done(); say(`   the latent tokens start from the base model's description: "${p.description}"`); }
      else if (p.progress.phase === 'calibrating') line.update('   setting the Yes/No boundary on the held-out negatives…');
      else if (p.progress.phase === 'training') line.update(`   training: epoch ${p.progress.epoch}/${p.progress.epochs}, step ${p.progress.step}/${p.progress.steps}, loss ${p.progress.loss.toFixed(3)}, ${formatSeconds(p.progress.remainingSeconds)} left`);
    },
  });
  line.done();
  const best = concept.info.epochs.find((e) => e.epoch === concept.info.bestEpoch);
  say(`   trained on ${data.samples.length} samples in ${formatSeconds((performance.now() - trainingStarted) / 1000)}; best epoch ${concept.info.bestEpoch}, recognition on the training photos ${best?.weightedAccuracy.toFixed(3)}`);
  const point = concept.info.operatingPoint;
  if (point) say(`   ${boundarySummary(point)}`);
  const library = openLibrary(values.library);
  library.save(concept, data);

  const concepts = new ConceptSet(vlm);
  concepts.add(concept);
  const others = names.filter((n) => n !== name && world.subjects[n].kind === subject.kind).slice(0, 3);
  const positives = subject.test.slice(0, 4).map(photo);
  const negatives = others.flatMap((n) => world.subjects[n].test.slice(0, 2)).map(photo);
  say(`\n2. Is <${name}> in these new photos? (${positives.length} show it, ${negatives.length} show other ${subject.kind}s)`);
  const results = await recognize(vlm, concepts, concept, [...positives, ...negatives], { signal: controller.signal });
  results.sort((a, b) => b.probability - a.probability);
  let right = 0;
  for (const r of results) {
    const truth = positives.includes(r.photo);
    if ((r.answer === 'Yes') === truth) right++;
    say(`   ${r.answer.padEnd(3)}  P(Yes) ${r.probability.toFixed(3)}  ${truth ? 'really it  ' : 'not it     '}  ${r.photo}`);
  }
  say(`   ${right} of ${results.length} right`);

  const visual = (JSON.parse(readFileSync(join(root, 'yollava-visual-qa.json'), 'utf8')) as VisualQa)[name] ?? {};
  const [visualPath, visualQuestion] = Object.entries(visual)[0] ?? [];
  const personalization = concept.personalization;
  const extra = concepts.extraTokens();
  if (visualQuestion) {
    const q = visualQuestion.question.split('<sks>').join(`<${name}>`);
    const prompt = `Question: ${q}\nOptions:\nA. ${visualQuestion.options.A}\nB. ${visualQuestion.options.B}\nPlease give a single character from the options above.`;
    say(`\n3. With a photo (${photo(visualPath!)}):\n   ${prompt.split('\n').join('\n   ')}`);
    const answer = await vlm.generate(vlm.prompt([{ user: prompt }], { image: true, personalization }), [await vlm.imageFeatures(photo(visualPath!))], { maxNewTokens: 8, extra });
    say(`   model: ${answer.text}   (correct: ${visualQuestion.correct_answer})`);
  }
  const textQa = (JSON.parse(readFileSync(join(root, 'yollava-text-qa.json'), 'utf8')) as TextQa)[name] ?? [];
  if (textQa[0]) {
    const q = textQa[0].question.split('<sks>').join(`<${name}>`);
    const prompt = `Question: ${q}\nOptions:\nA. ${textQa[0].options.A}\nB. ${textQa[0].options.B}\nPlease give a single character from the options above.`;
    say(`\n4. With no photo at all:\n   ${prompt.split('\n').join('\n   ')}`);
    const answer = await vlm.generate(vlm.prompt([{ user: prompt }], { personalization }), [], { maxNewTokens: 8, extra });
    say(`   model: ${answer.text}   (correct: ${textQa[0].correct_answer})`);
    const free = await vlm.generate(vlm.prompt([{ user: `What does <${name}> look like?` }], { personalization }), [], { maxNewTokens: 40, extra, stopStrings: ['\n'] });
    say(`   What does <${name}> look like? — ${free.text}`);
  }
  // The same library and model as this run, so that the commands find <name>.
  const options = `${values.model ? ` --model ${values.model}` : ''}${values.library ? ` --library ${values.library}` : ''}`;
  say(`\nDone in ${formatSeconds((performance.now() - started) / 1000)}. <${name}> is saved in ${library.dir}; try: yollava chat${options} -c ${name} "Tell me about <${name}>."`);
  say(`Or in the browser: yollava serve${options}, then open http://127.0.0.1:8737/`);
  return 0;
}
