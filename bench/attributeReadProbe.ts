/**
 * What the recognition decision position holds, layer by layer, for one attribute at a time:
 * "<name> is <description>. Can you see if <name> is in this photo?" over a held-out picture of
 * an individual whose description is the picture's own except (about half the time) in the probed
 * attribute. Logistic-regression probes on the residual stream at the last prompt position after
 * each decoder layer (trained on one half of the items, tested on the other) read three things:
 * the picture's value of the attribute, the description's value, and whether the two agree — with
 * the model's own Yes−No margin for the last (AUC). A value read on both sides but no agreement
 * says the comparison is missing; a picture value never read at the decision says the reading is.
 *
 *   node --import tsx bench/attributeReadProbe.ts [--model models/yollava-world] [--items 600] [--attributes person.hairStyle,…] [--at end|word]
 *
 * `--at word` probes instead at the last token of the attribute's phrase in the description
 * ("… short red hair"; items whose description has no such phrase, as absent glasses, are left out).
 */
import { parseArgs } from 'node:util';
import { rocAuc } from '../src/eval/metrics.ts';
import { llavaV1GenerationPrompt } from '../src/models/prompts.ts';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { BaseModelScorer } from '../src/pretrain/evaluate.ts';
import { heldOutIndividual } from '../src/pretrain/stage1Tower.ts';
import { composeScene, createWorldSplit, describeIndividual, featurePhrases, KIND_SCHEMAS, recognitionEvalQuestion, Rng, type Individual, type Kind } from '../src/world/index.ts';
import { fitLogistic, lastPositionStreams } from './residualProbe.ts';

const BLIND = 'person.hairStyle,person.glasses,person.skin,landmark.windows,landmark.roofShape,character.accessory';
const CONTROLS = 'person.hairColor,person.shirtColor,landmark.roofColor,character.topper';
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/yollava-world' },
    items: { type: 'string', default: '600' },
    attributes: { type: 'string', default: `${BLIND},${CONTROLS}` },
    // 'end': the decision position; 'word': the last token of the attribute's phrase in the description ("…red hair").
    at: { type: 'string', default: 'end' },
  },
});
if (values.at !== 'end' && values.at !== 'word') throw new Error('--at must be end or word');

/** The feature phrases (featurePhrases keys) that name `attribute`: those another value of it changes. */
function phraseKeys(ind: Individual, attribute: string, values: readonly string[]): string[] {
  const base = featurePhrases(ind);
  return Object.keys(base).filter((k) => values.some((v) => featurePhrases({ ...ind, attributes: { ...ind.attributes, [attribute]: v } })[k] !== base[k]));
}

/** Index (in `ids`, image expanded) of the last token of `phrase` in the prompt of `question`, or null. */
function phraseEnd(question: string, phrase: string): number | null {
  const text = llavaV1GenerationPrompt([{ user: question }], { image: true });
  const at = text.indexOf(phrase);
  if (phrase === '' || at < 0) return null;
  const raw = vlm.tokenizer.encode(text.slice(0, at + phrase.length));
  return raw.length - 1 + model.imageTokenCount - 1;
}

/** One-vs-rest probes; the held-out share whose highest score is the true value. */
function valueAccuracy(train: readonly Float32Array[], trainY: readonly string[], test: readonly Float32Array[], testY: readonly string[]): number {
  const classes = [...new Set(trainY)];
  const probes = classes.map((c) => fitLogistic(train, trainY.map((y) => y === c), 200));
  return test.filter((x, i) => {
    const scores = probes.map((p) => p(x));
    return classes[scores.indexOf(Math.max(...scores))] === testY[i];
  }).length / test.length;
}

interface Row { layers: Float32Array[]; shown: string; described: string; margin: number }

const vlm = await VisionLanguageModel.load(values.model);
const scorer = new BaseModelScorer(vlm.model, vlm.tokenizer);
const model = vlm.model;
const [yes, no] = [scorer.answerToken('Yes'), scorer.answerToken('No')];
const split = createWorldSplit(0);
const items = Number(values.items);
console.log(`${values.model} (${model.decoder.weights.layers.length} decoder layers), ${items} items per attribute, at ${values.at === 'end' ? 'the decision position' : 'the end of the attribute\'s phrase'}; probes trained on half, tested on the other half`);
console.log('attribute'.padEnd(22), 'chance', '  picture value by layer', '    description value', '       agree', '            model AUC');
for (const spec of values.attributes.split(',')) {
  const [kind, attribute] = spec.split('.') as [Kind, string];
  const schema = KIND_SCHEMAS[kind]?.find((a) => a.name === attribute);
  if (!schema) throw new Error(`unknown attribute ${spec}`);
  const rows: Row[] = [];
  for (let i = 0; i < items; i++) {
    const rng = Rng.from('attribute-read-probe', spec, i);
    const shown = heldOutIndividual(rng, split, kind);
    // Half the descriptions name another value of the attribute; the rest is the picture's own.
    const other = schema.values.filter((v) => v !== shown.attributes[attribute]);
    const describedValue = rng.chance(0.5) ? shown.attributes[attribute] : rng.pick(other);
    const described: Individual = { ...shown, attributes: { ...shown.attributes, [attribute]: describedValue } };
    const question = `<tamo> is ${describeIndividual(described)}. ${recognitionEvalQuestion('<tamo>')}`;
    let position: number | undefined;
    if (values.at === 'word') {
      // Head-phrase attributes (type, colours of the body) have no phrase of their own: not probed here.
      const keys = phraseKeys(described, attribute, schema.values);
      const found = keys.length === 1 ? phraseEnd(question, featurePhrases(described)[keys[0]]) : null;
      if (found === null) continue;
      position = found;
    }
    const { layers, logits } = lastPositionStreams(model, scorer.promptIds(question, true), [scorer.features(composeScene(rng, [shown], { occlusionChance: 0 }))], position);
    rows.push({ layers, shown: shown.attributes[attribute], described: describedValue, margin: logits[yes] - logits[no] });
  }
  const half = Math.floor(rows.length / 2);
  const [train, test] = [rows.slice(0, half), rows.slice(half)];
  const layerCount = rows[0].layers.length - 1;
  const byLayer = (read: (l: number) => number) => Array.from({ length: layerCount }, (_, k) => read(k + 1).toFixed(2)).join(' ');
  const shownAcc = byLayer((l) => valueAccuracy(train.map((r) => r.layers[l]), train.map((r) => r.shown), test.map((r) => r.layers[l]), test.map((r) => r.shown)));
  const describedAcc = byLayer((l) => valueAccuracy(train.map((r) => r.layers[l]), train.map((r) => r.described), test.map((r) => r.layers[l]), test.map((r) => r.described)));
  const agree = (r: Row) => r.shown === r.described;
  const agreeAuc = byLayer((l) => {
    const probe = fitLogistic(train.map((r) => r.layers[l]), train.map(agree), 200);
    return rocAuc(test.map((r) => probe(r.layers[l])), test.map(agree))!;
  });
  const modelAuc = rocAuc(test.map((r) => r.margin), test.map(agree))!;
  const chance = 1 / schema.values.length;
  console.log(`${spec.padEnd(22)} n=${rows.length} ${chance.toFixed(2).padStart(6)}   ${shownAcc.padEnd(24)} ${describedAcc.padEnd(20)} AUC ${agreeAuc.padEnd(20)} ${modelAuc.toFixed(3)}`);
}
