/**
 * Does the base model see each attribute? Two-option questions about one attribute of one
 * held-out individual in the picture (mcq's form: the right value against a random other one),
 * tallied by kind.attribute, worst first. Beside bench/lookAlikeErrors.ts it tells reading an
 * attribute from comparing it with a description.
 *
 *   node --import tsx bench/mcqByAttribute.ts [model folder, default models/yollava-world] [items, default 2000]
 */
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { BaseModelScorer } from '../src/pretrain/evaluate.ts';
import { heldOutIndividual } from '../src/pretrain/stage1Tower.ts';
import { attributeAnswer, attributeQuestion, attributeValueAnswer, composeScene, createWorldSplit, distractorValues, entityReferences, KIND_SCHEMAS, multipleChoicePrompt, renderScene, Rng } from '../src/world/index.ts';
const model = process.argv[2] ?? 'models/yollava-world';
const n = Number(process.argv[3] ?? 2000);
const vlm = await VisionLanguageModel.load(model);
const scorer = new BaseModelScorer(vlm.model, vlm.tokenizer);
const split = createWorldSplit(0);
const tally = new Map<string, [number, number]>();
for (let i = 0; i < n; i++) {
  const rng = Rng.from('mcq-by-attr', 7, i);
  const ind = heldOutIndividual(rng, split);
  const scene = composeScene(rng, [ind], { occlusionChance: 0 });
  const ref = entityReferences(renderScene(scene).description)[0].byKind!;
  const attrs = KIND_SCHEMAS[ind.kind].map((a) => a.name).filter((a) => distractorValues(ind, a).length > 0);
  const attribute = rng.pick(attrs);
  const correct = attributeAnswer(ind, attribute), wrong = attributeValueAnswer(ind, attribute, rng.pick(distractorValues(ind, attribute)));
  const a = rng.chance(0.5);
  const prompt = multipleChoicePrompt(attributeQuestion(ref, ind, attribute), a ? correct : wrong, a ? wrong : correct);
  const ok = scorer.choosesA(prompt, scorer.features(scene)) === a;
  const key = `${ind.kind}.${attribute}`;
  const t = tally.get(key) ?? [0, 0]; t[0]++; if (ok) t[1]++; tally.set(key, t);
}
for (const [k, [c, r]] of [...tally].sort((x, y) => x[1][1] / x[1][0] - y[1][1] / y[1][0])) console.log(k.padEnd(28), String(c).padStart(4), (r / c).toFixed(2));
