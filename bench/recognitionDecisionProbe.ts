/**
 * Where recognition with the true description is decided: the held-out measurement's items
 * ("<name> is <description>. Can you see if <name> is in this photo?", evaluate.ts) over a
 * picture of the subject or of its look-alike, several models side by side.
 *
 *   node --import tsx bench/recognitionDecisionProbe.ts [--items 800] [--probe] MODEL_DIR…
 *
 * For each model: weighted accuracy (subject accepted, look-alike rejected), the look-alikes
 * rejected by distance (one or two attributes) and the ROC AUC of the Yes−No margin, on items of
 * seed 2001 (metrics.json's). With `--probe`, also a logistic-regression probe on the residual
 * stream at the last prompt position after each decoder layer (trained on items of seed 9001,
 * tested on the measured ones): how much of the decision each layer already holds.
 */
import { parseArgs } from 'node:util';
import { rocAuc } from '../src/eval/metrics.ts';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { BaseModelScorer, recognitionItem } from '../src/pretrain/evaluate.ts';
import { createWorldSplit } from '../src/world/index.ts';
import { fitLogistic, lastPositionStreams } from './residualProbe.ts';

const { values, positionals } = parseArgs({
  options: { items: { type: 'string', default: '800' }, probe: { type: 'boolean', default: false }, 'probe-train-items': { type: 'string', default: '1500' } },
  allowPositionals: true,
});
if (positionals.length === 0) throw new Error('usage: recognitionDecisionProbe.ts [--items N] [--probe] MODEL_DIR…');
const items = Number(values.items);
const split = createWorldSplit(0);

/** ROC AUC of `scores` for telling the subject's pictures from the look-alikes'. */
const aucOf = (scored: readonly Scored[], scores: readonly number[]): number => rocAuc(scores, scored.map((s) => s.isSubject))!;

interface Scored { margin: number; isSubject: boolean; distance: 1 | 2; layers: Float32Array[] }

function score(vlm: VisionLanguageModel, scorer: BaseModelScorer, seed: number, count: number, keepLayers: boolean): Scored[] {
  const model = vlm.model;
  const [yes, no] = [scorer.answerToken('Yes'), scorer.answerToken('No')];
  const out: Scored[] = [];
  for (let i = 0; i < count; i++) {
    const item = recognitionItem(seed, i, split, true);
    for (const isSubject of [true, false]) {
      const image = scorer.features(item.scenes[isSubject ? 0 : 1]);
      if (!keepLayers) {
        out.push({ margin: scorer.yesMargin(item.question, image), isSubject, distance: item.distance, layers: [] });
        continue;
      }
      // One forward gives both the stream after each layer and the answer's margin (yesMargin's).
      const { layers, logits } = lastPositionStreams(model, scorer.promptIds(item.question, true), [image]);
      out.push({ margin: logits[yes] - logits[no], isSubject, distance: item.distance, layers });
    }
  }
  return out;
}

for (const dir of positionals) {
  const vlm = await VisionLanguageModel.load(dir);
  const scorer = new BaseModelScorer(vlm.model, vlm.tokenizer);
  const measured = score(vlm, scorer, 2001, items, values.probe!);
  const subjects = measured.filter((s) => s.isSubject);
  const lookAlikes = measured.filter((s) => !s.isSubject);
  const share = (xs: readonly Scored[], f: (s: Scored) => boolean) => xs.filter(f).length / xs.length;
  const accepted = share(subjects, (s) => s.margin > 0);
  const rejected = share(lookAlikes, (s) => s.margin <= 0);
  const layerCount = vlm.model.decoder.weights.layers.length;
  console.log(`${dir} (${layerCount} decoder layers, ${items} items): weighted ${((accepted + rejected) / 2).toFixed(3)}  subject accepted ${accepted.toFixed(3)}  look-alikes rejected ${share(lookAlikes.filter((s) => s.distance === 1), (s) => s.margin <= 0).toFixed(3)} (one attribute) / ${share(lookAlikes.filter((s) => s.distance === 2), (s) => s.margin <= 0).toFixed(3)} (two)  AUC ${aucOf(measured, measured.map((s) => s.margin)).toFixed(3)}`);
  if (!values.probe) continue;
  const train = score(vlm, scorer, 9001, Number(values['probe-train-items']), true);
  for (let l = 1; l <= layerCount; l++) {
    const probe = fitLogistic(train.map((s) => s.layers[l]), train.map((s) => s.isSubject));
    const z = measured.map((s) => probe(s.layers[l]));
    console.log(`  probe after layer ${l}: AUC ${aucOf(measured, z).toFixed(3)}`);
  }
}
