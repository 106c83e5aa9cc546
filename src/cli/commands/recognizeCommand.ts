/** `yollava recognize <name> <photos or folders…>`: which photos show the concept, most likely first. */
import { parseArgs } from 'node:util';
import { recognize } from '../../personalize/recognize.ts';
import { questionWithPlaceholder } from '../../personalize/recognitionTemplates.ts';
import { CliError } from '../CliError.ts';
import { collectPhotos } from '../collectPhotos.ts';
import { attachConcepts, modelOptions, modelOptionsHelp, openLibrary, openModel } from '../modelOption.ts';

export const recognizeUsage = `Usage: yollava recognize <name> <photos or folders…> [options]

Asks "Can you see if <name> is in this photo?" about every photo (folders are searched
recursively) and prints, most likely first, Yes/No and the probability of Yes.

${modelOptionsHelp}
      --threshold <p>   probability above which the answer is Yes (default 0.5)
      --question <text> ask in other words, naming the concept as <name> (default: "Can you
                        see if <name> is in this photo? Answer with a single word or phrase.",
                        the question concepts are trained and evaluated on)
      --json            one JSON object per photo instead of the table`;

export async function recognizeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...modelOptions, threshold: { type: 'string' }, question: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { process.stdout.write(recognizeUsage + '\n'); return 0; }
  const [name, ...paths] = positionals;
  if (!name || paths.length === 0) throw new CliError(`recognize needs a concept name and photos\n\n${recognizeUsage}`);
  const threshold = values.threshold === undefined ? 0.5 : Number(values.threshold);
  if (!(threshold >= 0 && threshold <= 1)) throw new CliError(`--threshold must be a probability in [0, 1], got ${values.threshold}`);
  const photos = collectPhotos(paths);
  const library = openLibrary(values.library);
  const concept = library.load(name);
  const question = values.question === undefined ? undefined : questionNaming(values.question, concept.identifier);
  const vlm = await openModel(values.model);
  const concepts = attachConcepts(vlm, library, [name]);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  const results = await recognize(vlm, concepts, concept, photos, {
    question,
    signal: controller.signal,
    onProgress: (done, total) => { if (process.stderr.isTTY) process.stderr.write(`\rrecognizing: ${done}/${total}`); },
  });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  results.sort((a, b) => (Number.isNaN(a.probability) ? 1 : Number.isNaN(b.probability) ? -1 : b.probability - a.probability));
  if (values.json) {
    for (const r of results) process.stdout.write(JSON.stringify({ photo: r.photo, answer: r.probability >= threshold ? 'Yes' : 'No', probability: r.probability, ...(r.error ? { error: r.error } : {}) }) + '\n');
  } else {
    for (const r of results) {
      if (r.error) process.stdout.write(`  ?   ${'–'.padStart(6)}  ${r.photo}  (${r.error})\n`);
      else process.stdout.write(`${r.probability >= threshold ? 'Yes' : 'No '}  ${r.probability.toFixed(3).padStart(6)}  ${r.photo}\n`);
    }
    const yes = results.filter((r) => r.probability >= threshold).length;
    process.stderr.write(`${yes} of ${results.length} photos show <${name}>${controller.signal.aborted ? ' (interrupted)' : ''}\n`);
  }
  return results.some((r) => r.error) ? 1 : 0;
}

/** The question with the concept as "<sks>" (recognize's placeholder); it has to name the concept. */
function questionNaming(question: string, identifier: string): string {
  const asked = questionWithPlaceholder(question, identifier);
  if (asked === null) throw new CliError(`--question must name the concept as ${identifier}, got ${JSON.stringify(question)}`);
  return asked;
}
