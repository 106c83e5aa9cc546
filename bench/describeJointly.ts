/**
 * The description a concept starts from, made three ways from a world subject's training photos
 * and read as words (no concept rows): the most agreed of the 5 photos' own descriptions
 * (mostAgreed, the default until session 18), one description decoded jointly over the 5 photos
 * (describeSubjectFromPhotos, the default since session 19), and jointly over all 10; the true
 * description (world.json) beside them. Each is scored by its word F1 with the truth and by the
 * subject's two-option questions asked with "<sks> is {description}." in the prompt, as the
 * `text-human` method asks them. Trains nothing (~2 min for 40 subjects).
 *
 *   node --import tsx bench/describeJointly.ts [--model models/yollava-world] [--dataset ~/.yollava/eval/world-0] [--subjects a,b]
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelAsker, type PromptContext } from '../src/eval/askModel.ts';
import { readEvalDataset, SUBJECT_TOKEN, type EvalSubject } from '../src/eval/dataset.ts';
import { isYesNoQuestion } from '../src/eval/results.ts';
import { humanContext } from '../src/eval/textContexts.ts';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { describeSubject, describeSubjectFromPhotos, mostAgreed, wordOverlap } from '../src/personalize/describeSubject.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/yollava-world' },
    dataset: { type: 'string', default: join(homedir(), '.yollava', 'eval', 'world-0') },
    subjects: { type: 'string' },
  },
});
const vlm = await VisionLanguageModel.load(values.model!);
const asker = new ModelAsker(vlm);
const dataset = readEvalDataset(values.dataset!);
const only = values.subjects ? new Set(values.subjects.split(',')) : null;

const WAYS = ['most agreed of 5 photos', 'jointly over 5 photos', 'jointly over 10 photos', 'true description'] as const;
type Tally = { overlap: number; subjects: number; visual: number; visualCount: number; text: number; textCount: number; yesNo: number; yesNoCount: number };
const tallies = new Map<string, Tally>(WAYS.map((w) => [w, { overlap: 0, subjects: 0, visual: 0, visualCount: 0, text: 0, textCount: 0, yesNo: 0, yesNoCount: 0 }]));

async function score(way: string, subject: EvalSubject, description: string): Promise<void> {
  const tally = tallies.get(way)!;
  const context: PromptContext = { identifier: SUBJECT_TOKEN, text: humanContext(SUBJECT_TOKEN, description), referencePhotos: [] };
  tally.overlap += wordOverlap(description, subject.description!);
  tally.subjects++;
  for (const q of subject.visualQa) { tally.visualCount++; if ((await asker.choose(context, q.question, q.options, q.photo!)).parsed === q.correct) tally.visual++; }
  for (const q of subject.textQa) {
    const right = (await asker.choose(context, q.question, q.options, null)).parsed === q.correct ? 1 : 0;
    tally.textCount++; tally.text += right;
    if (isYesNoQuestion(q)) { tally.yesNoCount++; tally.yesNo += right; }
  }
}

for (const subject of dataset.subjects) {
  if (only && !only.has(subject.name)) continue;
  if (!subject.description) throw new Error(`${subject.name}: no true description (a world dataset's world.json is needed)`);
  const subjectKind = subject.kind === 'person' ? 'person' : 'subject';
  const five = subject.trainPhotos.slice(0, 5);
  const own: string[] = [];
  for (const photo of five) own.push(await describeSubject(vlm, photo, { subjectKind }));
  const described: Record<(typeof WAYS)[number], string> = {
    'most agreed of 5 photos': mostAgreed(own),
    'jointly over 5 photos': await describeSubjectFromPhotos(vlm, five, { subjectKind }),
    'jointly over 10 photos': await describeSubjectFromPhotos(vlm, subject.trainPhotos.slice(0, 10), { subjectKind }),
    'true description': subject.description,
  };
  for (const way of WAYS) await score(way, subject, described[way]);
  process.stderr.write(`${subject.name}\n${WAYS.map((w) => `  ${w}: ${described[w]}`).join('\n')}\n`);
}
const ratio = (a: number, b: number) => (b ? (a / b).toFixed(3) : '–');
console.log('| description, as words | word F1 with the truth | visual QA | text QA | text QA: yes/no |\n| --- | ---: | ---: | ---: | ---: |');
for (const [way, t] of tallies) console.log(`| ${way} | ${(t.overlap / Math.max(1, t.subjects)).toFixed(3)} | ${ratio(t.visual, t.visualCount)} | ${ratio(t.text, t.textCount)} | ${ratio(t.yesNo, t.yesNoCount)} |`);
