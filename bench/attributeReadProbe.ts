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
 *   node --import tsx bench/attributeReadProbe.ts [--model models/yollava-world] [--items 600] [--attributes person.hairStyle,…]
 */
import { parseArgs } from 'node:util';
import { rocAuc } from '../src/eval/metrics.ts';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { BaseModelScorer } from '../src/pretrain/evaluate.ts';
import { heldOutIndividual } from '../src/pretrain/stage1Tower.ts';
import { composeScene, createWorldSplit, describeIndividual, KIND_SCHEMAS, recognitionEvalQuestion, Rng, type Individual, type Kind } from '../src/world/index.ts';
import { fitLogistic, lastPositionStreams } from './residualProbe.ts';

const BLIND = 'person.hairStyle,person.glasses,person.skin,landmark.windows,landmark.roofShape,character.accessory';
const CONTROLS = 'person.hairColor,person.shirtColor,landmark.roofColor,character.topper';
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/yollava-world' },
    items: { type: 'string', default: '600' },
    attributes: { type: 'string', default: `${BLIND},${CONTROLS}` },
  },
});

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
console.log(`${values.model} (${model.decoder.weights.layers.length} decoder layers), ${items} items per attribute; probes trained on half, tested on the other half`);
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
    const { layers, logits } = lastPositionStreams(model, scorer.promptIds(question, true), [scorer.features(composeScene(rng, [shown], { occlusionChance: 0 }))]);
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
  console.log(`${spec.padEnd(22)} ${chance.toFixed(2).padStart(6)}   ${shownAcc.padEnd(24)} ${describedAcc.padEnd(20)} AUC ${agreeAuc.padEnd(20)} ${modelAuc.toFixed(3)}`);
}
