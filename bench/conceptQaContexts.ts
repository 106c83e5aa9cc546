/**
 * Where a concept's question answers are lost: the benchmark's two-option questions (visual and
 * text-only) asked about each subject with the concept's trained rows, with its starting
 * description as words instead (no rows), with both, and with the world's true description (a
 * world dataset's world.json), as words or beside the rows. Reads the concepts an evaluation
 * stored (`yollava eval --methods yollava --out DIR`); trains nothing.
 *
 *   node --import tsx bench/conceptQaContexts.ts --concepts eval/world-0-c9/concepts/k16-n5-full-e5-s0 [--model models/yollava-world] [--dataset ~/.yollava/eval/world-0] [--subjects a,b]
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelAsker, type PromptContext } from '../src/eval/askModel.ts';
import { readEvalDataset, SUBJECT_TOKEN } from '../src/eval/dataset.ts';
import { isYesNoQuestion } from '../src/eval/results.ts';
import { humanContext } from '../src/eval/textContexts.ts';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { Concept } from '../src/personalize/Concept.ts';
import { ConceptSet } from '../src/personalize/ConceptSet.ts';

const { values } = parseArgs({
  options: {
    concepts: { type: 'string' },
    model: { type: 'string', default: 'models/yollava-world' },
    dataset: { type: 'string', default: join(homedir(), '.yollava', 'eval', 'world-0') },
    subjects: { type: 'string' },
  },
});
if (!values.concepts) throw new Error('--concepts DIR (an evaluation\'s concepts/<recipe> folder) is required');
const vlm = await VisionLanguageModel.load(values.model!);
const asker = new ModelAsker(vlm);
const dataset = readEvalDataset(values.dataset!);
const only = values.subjects ? new Set(values.subjects.split(',')) : null;

const CONTEXTS = ['rows', 'description', 'rows + description', 'true description', 'rows + true description'] as const;
type Tally = { visual: number; visualCount: number; values: number; valuesCount: number; yesNo: number; yesNoCount: number };
const tallies = new Map<string, Tally>(CONTEXTS.map((c) => [c, { visual: 0, visualCount: 0, values: 0, valuesCount: 0, yesNo: 0, yesNoCount: 0 }]));

for (const subject of dataset.subjects) {
  if (only && !only.has(subject.name)) continue;
  const concept = Concept.load(join(values.concepts, `${subject.conceptName}.concept.safetensors`));
  const description = (JSON.parse(readFileSync(join(values.concepts, `${subject.conceptName}.data.json`), 'utf8')) as { description?: string }).description;
  if (!description || !subject.description) throw new Error(`${subject.name}: needs the concept's description and world.json's`);
  const set = new ConceptSet(vlm);
  set.add(concept);
  const extra = set.extraTokens();
  const id = concept.identifier;
  const contexts: Record<(typeof CONTEXTS)[number], PromptContext> = {
    rows: { identifier: id, text: concept.personalization, referencePhotos: [], extra },
    description: { identifier: SUBJECT_TOKEN, text: humanContext(SUBJECT_TOKEN, description), referencePhotos: [] },
    'rows + description': { identifier: id, text: `${concept.personalization} ${humanContext(id, description)}`, referencePhotos: [], extra },
    'true description': { identifier: SUBJECT_TOKEN, text: humanContext(SUBJECT_TOKEN, subject.description), referencePhotos: [] },
    'rows + true description': { identifier: id, text: `${concept.personalization} ${humanContext(id, subject.description)}`, referencePhotos: [], extra },
  };
  for (const name of CONTEXTS) {
    const tally = tallies.get(name)!;
    for (const q of subject.visualQa) { tally.visualCount++; if ((await asker.choose(contexts[name], q.question, q.options, q.photo!)).parsed === q.correct) tally.visual++; }
    for (const q of subject.textQa) {
      const right = (await asker.choose(contexts[name], q.question, q.options, null)).parsed === q.correct ? 1 : 0;
      if (isYesNoQuestion(q)) { tally.yesNoCount++; tally.yesNo += right; } else { tally.valuesCount++; tally.values += right; }
    }
  }
  set.remove(concept.name);
  process.stderr.write(`${subject.name}: "${description}"\n`);
}
const ratio = (a: number, b: number) => (b ? (a / b).toFixed(3) : '–');
console.log('| context | visual QA | text QA | text QA: values | text QA: yes/no |\n| --- | ---: | ---: | ---: | ---: |');
for (const [name, t] of tallies) console.log(`| ${name} | ${ratio(t.visual, t.visualCount)} | ${ratio(t.values + t.yesNo, t.valuesCount + t.yesNoCount)} | ${ratio(t.values, t.valuesCount)} | ${ratio(t.yesNo, t.yesNoCount)} |`);
