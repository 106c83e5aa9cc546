/**
 * Does a concept answer "is it in this photo?" the same whatever the words? The trained concepts
 * of an evaluation (its Yes/No boundary set on the benchmark's prompt), asked each of the paper's
 * 30 positive recognition questions (the ones training uses) and the benchmark's prompt, on every
 * test photo of the subject and on `--negatives` test photos of other subjects per subject.
 * First-token P(Yes) against P(No), as `yollava recognize` reads it. Trains nothing.
 *
 *   node --import tsx bench/recognitionForms.ts --concepts eval/world-0-c10/concepts/k16-n5-full-e5-s0 [--model models/yollava-world] [--dataset ~/.yollava/eval/world-0] [--negatives 10] [--suffix "Answer with a single word or phrase."]
 *
 * Prints, per question form: photos of the subject accepted, other subjects' rejected, weighted,
 * and ROC AUC; the benchmark's prompt first.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readEvalDataset } from '../src/eval/dataset.ts';
import { rocAuc } from '../src/eval/metrics.ts';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { Concept } from '../src/personalize/Concept.ts';
import { ConceptSet } from '../src/personalize/ConceptSet.ts';
import { POSITIVE_RECOGNITION_TEMPLATES, RECOGNITION_EVAL_PROMPT } from '../src/personalize/recognitionTemplates.ts';
import { RecognitionQuestion } from '../src/personalize/recognize.ts';
import { Rng } from '../src/world/Rng.ts';

const { values } = parseArgs({
  options: {
    concepts: { type: 'string' },
    model: { type: 'string', default: 'models/yollava-world' },
    dataset: { type: 'string', default: join(homedir(), '.yollava', 'eval', 'world-0') },
    negatives: { type: 'string', default: '10' },
    // Appended to each training form ("Answer with a single word or phrase."): does the benchmark prompt's strength come from its last sentence?
    suffix: { type: 'string' },
  },
});
if (!values.concepts) throw new Error('--concepts DIR (an evaluation\'s concepts/<recipe> folder) is required');
const vlm = await VisionLanguageModel.load(values.model!);
const dataset = readEvalDataset(values.dataset!);
const forms = [RECOGNITION_EVAL_PROMPT, ...new Set(POSITIVE_RECOGNITION_TEMPLATES.map((t) => (values.suffix ? `${t.question} ${values.suffix}` : t.question)))];
const margins = forms.map(() => ({ positive: [] as number[], negative: [] as number[] }));
const negativeCount = Number(values.negatives);

for (const [s, subject] of dataset.subjects.entries()) {
  const concept = Concept.load(join(values.concepts, `${subject.conceptName}.concept.safetensors`));
  const set = new ConceptSet(vlm);
  set.add(concept);
  const others = dataset.subjects.filter((o) => o !== subject).flatMap((o) => o.testPhotos);
  const rng = Rng.from('recognition-forms', s);
  const negatives = Array.from({ length: negativeCount }, () => rng.pick(others));
  const photos = [...subject.testPhotos.map((photo) => ({ photo, positive: true })), ...negatives.map((photo) => ({ photo, positive: false }))];
  const features = await Promise.all(photos.map(({ photo }) => vlm.imageFeatures(photo)));
  forms.forEach((form, f) => {
    const question = new RecognitionQuestion(vlm, set, concept, { question: form });
    photos.forEach(({ positive }, p) => (positive ? margins[f].positive : margins[f].negative).push(question.yesMargin(features[p])));
  });
  set.remove(concept.name);
  process.stderr.write(`\r${s + 1}/${dataset.subjects.length} subjects`);
}
process.stderr.write('\n');

const share = (xs: number[], test: (x: number) => boolean) => xs.filter(test).length / xs.length;
console.log(`${margins[0].positive.length} photos of the subjects, ${margins[0].negative.length} of other subjects\n`);
console.log('| question | subject accepted | others rejected | weighted | ROC AUC |\n| --- | ---: | ---: | ---: | ---: |');
const rows = forms.map((form, f) => {
  const { positive, negative } = margins[f];
  const accepted = share(positive, (m) => m > 0);
  const rejected = share(negative, (m) => m <= 0);
  const auc = rocAuc([...positive, ...negative], [...positive.map(() => true), ...negative.map(() => false)])!;
  return { form, accepted, rejected, weighted: (accepted + rejected) / 2, auc };
});
for (const r of rows) console.log(`| ${r.form} | ${r.accepted.toFixed(3)} | ${r.rejected.toFixed(3)} | ${r.weighted.toFixed(3)} | ${r.auc.toFixed(3)} |`);
const mean = (key: 'accepted' | 'rejected' | 'weighted' | 'auc') => rows.slice(1).reduce((sum, r) => sum + r[key], 0) / (rows.length - 1);
console.log(`| mean of the ${rows.length - 1} training forms | ${mean('accepted').toFixed(3)} | ${mean('rejected').toFixed(3)} | ${mean('weighted').toFixed(3)} | ${mean('auc').toFixed(3)} |`);
