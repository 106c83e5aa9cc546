/** `yollava explain <name>`: what each of a concept's tokens holds (Yo'LLaVA, Appendix K). */
import { parseArgs } from 'node:util';
import { explainConcept } from '../../personalize/explainConcept.ts';
import { CliError } from '../CliError.ts';
import { attachConcepts, modelOptions, modelOptionsHelp, openLibrary, openModel } from '../modelOption.ts';

export const explainUsage = `Usage: yollava explain <name> [options]

Asks the model "Explain <name_i>." for the identifier and each latent token of a concept,
with no photo, and prints the answers.

${modelOptionsHelp}
      --max-tokens <n>  length of each answer (default 48)`;

export async function explainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...modelOptions, 'max-tokens': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { process.stdout.write(explainUsage + '\n'); return 0; }
  if (positionals.length !== 1) throw new CliError(`explain needs one concept name\n\n${explainUsage}`);
  const library = openLibrary(values.library);
  const concept = library.load(positionals[0]);
  const vlm = await openModel(values.model);
  const concepts = attachConcepts(vlm, library, [concept.name]);
  await explainConcept(vlm, concepts, concept, {
    maxNewTokens: values['max-tokens'] ? Number(values['max-tokens']) : undefined,
    onExplanation: ({ token, text }) => process.stdout.write(`${token}: ${text}\n`),
  });
  return 0;
}
