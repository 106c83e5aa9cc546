/**
 * Can the base model say a description back with no photo? For each of the 40 benchmark
 * subjects (never seen in pretraining): "<sks> is <its true description>. What does <sks> look
 * like?", greedy, and the answer compared with the description ("A chubby brown cat with ….").
 *
 *   node --import tsx bench/descriptionRecall.ts MODEL_DIR…
 *
 * Prints, per model, the share of answers equal to the description and the mean share of the
 * description's words the answer has, with two answers as examples.
 */
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { capitalize } from '../src/world/describeIndividual.ts';
import { createWorldSplit, describeIndividual } from '../src/world/index.ts';

const models = process.argv.slice(2);
if (models.length === 0) throw new Error('usage: descriptionRecall.ts MODEL_DIR…');
const subjects = createWorldSplit(0).subjects;
const words = (text: string) => text.toLowerCase().replace(/[.,]/g, '').split(/\s+/).filter(Boolean);

for (const dir of models) {
  const vlm = await VisionLanguageModel.load(dir);
  let exact = 0;
  let overlap = 0;
  const examples: string[] = [];
  for (const { individual } of subjects) {
    const description = describeIndividual(individual);
    const prompt = vlm.prompt([{ user: `<sks> is ${description}. What does <sks> look like?` }]);
    const answer = (await vlm.generate(prompt, [], { maxNewTokens: 48, stopStrings: ['\n'] })).text.trim();
    const expected = `${capitalize(description)}.`;
    if (answer === expected) exact++;
    const said = new Set(words(answer));
    const wanted = words(description);
    overlap += wanted.filter((w) => said.has(w)).length / wanted.length;
    if (examples.length < 2) examples.push(`"${description}" → "${answer}"`);
  }
  console.log(`${dir}: said back exactly ${exact}/${subjects.length}, description words present ${(overlap / subjects.length).toFixed(3)}; e.g. ${examples.join('; ')}`);
}
