/**
 * Would a vision tower whose tokens are bound to attributes let the decoder compare a description
 * with the picture? The shipped decoder matches the description against the picture as a bag of
 * features (bench/attributeReadProbe.ts, docs/pretraining.md session 24). Before building a tower
 * with one token per attribute, this trains the shipped projector and decoder on recognition with
 * the true description ("<n> is <description>. Can you see if <n> is in this photo?"; one
 * individual per picture, look-alikes as in the corpus) with the tower replaced by an oracle that
 * writes the picture's ground truth into its 16 tokens:
 *
 *   bound  token j = a fixed random code of (kind, the kind's j-th attribute, its value): every
 *          value bound to its attribute and to a place — the best a slot tower could give;
 *   bag    the same information without binding: one code per kind and per value word (the "red"
 *          of hair and of a shirt is one code), in a random order per picture;
 *   tower  the shipped tower on the rendered picture (the control: the same data and optimizer);
 *   tower-fresh  the same with the projector from random (the control for the oracles, whose
 *          new tokens the decoder must also learn to read);
 *   text-bound, text-bag  no picture: the same ground truth as words before the question ("In
 *          the photo: kind: person; gender: man; hair color: red; …" or "red, man, short, …"), to
 *          separate the comparison from learning to read new image tokens;
 *   embed-bound, embed-bag  image rows that are the decoder's own word embeddings (no tower, no
 *          projector): token j = the embedding of the j-th attribute's value plus that of the
 *          attribute's name (bound), or the value's alone in a random order (bag);
 *   predicted-bound  the same rows from what the shipped tower sees: linear heads over its mean
 *          token (stage 1's form, fitted here on --head-pictures training pictures) give each
 *          value a probability, and the row is the probability-weighted value embeddings plus the
 *          attribute's name — a tower that writes words, on real pictures; predicted-values
 *          the same without the attribute's name (each attribute keeps its place);
 *   hybrid-values  c10's own 16 image rows (tower and trained projector, frozen) followed by
 *          `predicted-values`' 11 rows: 27 image tokens, the product form of a tower that writes.
 *
 * Codes are Gaussian, scaled per channel to the real tower's output statistics, so the trained
 * projector starts on inputs of the usual size. Held-out recognition (evaluate.ts's items on the
 * benchmark subjects and their one- and two-attribute look-alikes) is measured before training and
 * every --eval-every steps.
 *
 *   node --import tsx bench/boundTokensOracle.ts --variant bound [--steps 300] [--lr 3e-4] [--items 200]
 */
import { parseArgs } from 'node:util';
import { AdamW } from '../src/engine/adamw.ts';
import { createRandomLlava } from '../src/models/randomLlava.ts';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { BaseModelScorer, scoreRecognition } from '../src/pretrain/evaluate.ts';
import { emptyTally, InstructMicroStep, MicroBatchPacker, renderedTowerFeatures, type EncodedCorpusSample } from '../src/pretrain/instructMicroStep.ts';
import { AttributeHeads, meanPool } from '../src/pretrain/stage1Tower.ts';
import { fitAttributeHeads, phraseEmbedding as wordEmbedding } from '../src/pretrain/writtenTokenHead.ts';
import { clipGradients } from '../src/pretrain/trainingState.ts';
import type { ConvVisionTower } from '../src/models/convVisionTower.ts';
import { composeScene, CORPUS_TASKS, createWorldSplit, instructionSample, KIND_SCHEMAS, KINDS, type CorpusOptions, type CorpusSample, type Individual, type SceneSpec } from '../src/world/index.ts';
import { Rng } from '../src/world/Rng.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/yollava-world' },
    variant: { type: 'string', default: 'bound' },
    steps: { type: 'string', default: '300' },
    lr: { type: 'string', default: '3e-4' },
    'eval-every': { type: 'string', default: '50' },
    items: { type: 'string', default: '200' },
    'tokens-per-step': { type: 'string', default: '4096' },
    seed: { type: 'string', default: '2001' },
    'head-pictures': { type: 'string', default: '12000' },
    'conv-dropout': { type: 'string', default: '0' },
  },
});
const variant = values.variant;
const VARIANTS = ['bound', 'bag', 'tower', 'text-bound', 'text-bag', 'embed-bound', 'embed-bag', 'predicted-bound', 'predicted-values', 'tower-fresh', 'hybrid-values'];
if (!VARIANTS.includes(variant)) throw new Error(`--variant must be one of ${VARIANTS.join(', ')}, not "${variant}"`);
const textVariant = variant.startsWith('text-');
const embedVariant = variant.startsWith('embed-') || variant.startsWith('predicted-');

const vlm = await VisionLanguageModel.load(values.model);
const model = vlm.model;
if (variant === 'tower-fresh') {
  // The shipped tower and decoder with a projector from random (pretraining's init): how fast the
  // decoder learns to compare through the conv tokens when it must learn to read them again.
  const fresh = createRandomLlava(model.config, { seed: 1, std: 0.02 }).projector.weights;
  for (const layer of ['linear1', 'linear2'] as const) {
    (model.projector.weights[layer].weight.data as Float32Array).set(fresh[layer].weight.data as Float32Array);
    model.projector.weights[layer].bias?.set(fresh[layer].bias!);
  }
}
const imageTokens = model.imageTokenCount;
const towerWidth = model.projector.weights.linear1.weight.cols;

// Per-channel statistics of the real tower's output on ordinary pictures.
const statsRng = Rng.from('oracle-stats');
const split = createWorldSplit(0);
const sampleScenes = Array.from({ length: 32 }, () => composeScene(statsRng, [statsRng.pick(split.subjects).individual]));
const real = renderedTowerFeatures(model, sampleScenes);
const channelMean = new Float32Array(towerWidth);
const channelStd = new Float32Array(towerWidth);
const rows = real.length / towerWidth;
for (let r = 0; r < rows; r++) for (let c = 0; c < towerWidth; c++) channelMean[c] += real[r * towerWidth + c] / rows;
for (let r = 0; r < rows; r++) for (let c = 0; c < towerWidth; c++) channelStd[c] += (real[r * towerWidth + c] - channelMean[c]) ** 2 / rows;
for (let c = 0; c < towerWidth; c++) channelStd[c] = Math.sqrt(channelStd[c]);

const codes = new Map<string, Float32Array>();
function code(key: string): Float32Array {
  let v = codes.get(key);
  if (!v) {
    const rng = Rng.from('oracle-code', key);
    v = new Float32Array(towerWidth);
    for (let c = 0; c < towerWidth; c++) {
      const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
      v[c] = channelMean[c] + channelStd[c] * z;
    }
    codes.set(key, v);
  }
  return v;
}

/** The picture's one individual (the oracles describe one per picture). */
function soleIndividual(scene: SceneSpec): Individual {
  if (scene.entities.length !== 1) throw new Error(`the oracle describes one individual per picture, not ${scene.entities.length}`);
  return scene.entities[0].individual;
}

/** An attribute's name as words: "hairColor" → "hair color". */
const attributeWords = (name: string) => name.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);

function oracleRows(scene: SceneSpec): Float32Array[] {
  const { kind, attributes } = soleIndividual(scene);
  const schema = KIND_SCHEMAS[kind];
  if (variant === 'bound') {
    return Array.from({ length: imageTokens }, (_, j) => (j < schema.length ? code(`${kind}.${schema[j].name}=${attributes[schema[j].name]}`) : code(`${kind}.pad${j}`)));
  }
  const bag = [code(`kind=${kind}`), ...schema.map((a) => code(`value=${attributes[a.name]}`))];
  while (bag.length < imageTokens) bag.push(code('pad'));
  return Rng.from('oracle-bag', scene.seed).shuffled(bag);
}

/** The picture's ground truth as words (the text variants put it in the prompt instead of a picture). */
function pictureText(scene: SceneSpec): string {
  const { kind, attributes } = soleIndividual(scene);
  const schema = KIND_SCHEMAS[kind];
  if (variant === 'text-bound') {
    return [`kind: ${kind}`, ...schema.map((a) => `${attributeWords(a.name)}: ${attributes[a.name]}`)].join('; ');
  }
  return Rng.from('oracle-bag', scene.seed).shuffled([kind, ...schema.map((a) => attributes[a.name])]).join(', ');
}

function withPictureText(sample: CorpusSample): CorpusSample {
  const [turn, ...rest] = sample.turns;
  return { ...sample, image: undefined, turns: [{ ...turn, user: `In the photo: ${pictureText(sample.image!)}. ${turn.user}` }, ...rest] };
}

const phraseEmbedding = (phrase: string) => wordEmbedding(model, vlm.tokenizer, phrase);

/**
 * predicted-bound: the embed-bound rows built from what the shipped tower sees instead of the
 * ground truth — linear heads over its mean token (stage 1's form) fitted here on frozen features
 * of training pictures, each value's embedding weighted by the head's probability.
 */
const predictingHeads = variant.startsWith('predicted-') || variant === 'hybrid-values' ? fitHeads() : null;

/**
 * hybrid-values: c10's own 16 image rows (its tower and trained projector, frozen here) followed
 * by `predicted-values`' kind row and 10 attribute rows — the product form of a tower that writes
 * words beside its map. The prompts get 27 image tokens.
 */
const WRITTEN_ROWS = 11;
if (variant === 'hybrid-values') Object.defineProperty(model, 'imageTokenCount', { value: imageTokens + WRITTEN_ROWS });

const convDropout = Number(values['conv-dropout']);
const dropoutRng = Rng.from('oracle-conv-dropout');

function hybridRows(scenes: readonly SceneSpec[], training = false): Float32Array {
  const width = model.hiddenSize;
  const n = scenes.length;
  const conv = model.projector.forward(renderedTowerFeatures(model, scenes), n * imageTokens).output;
  const written = embeddedRows(scenes);
  const perImage = imageTokens + WRITTEN_ROWS;
  const out = new Float32Array(n * perImage * width);
  for (let i = 0; i < n; i++) {
    // --conv-dropout: in training only, some pictures keep their written rows alone, so that the
    // decoder cannot answer from its conv circuit and must learn to read the words.
    if (!(training && dropoutRng.next() < convDropout)) out.set(conv.subarray(i * imageTokens * width, (i + 1) * imageTokens * width), i * perImage * width);
    out.set(written.subarray(i * imageTokens * width, (i * imageTokens + WRITTEN_ROWS) * width), (i * perImage + imageTokens) * width);
  }
  return out;
}

function fitHeads(): AttributeHeads {
  const { heads, accuracy } = fitAttributeHeads(model.visionTower as ConvVisionTower, Number(values['head-pictures']));
  console.log(`heads fitted on ${values['head-pictures']} pictures: held-out kind ${accuracy.kind.toFixed(3)}, attributes ${accuracy.meanAttribute.toFixed(3)}`);
  const weakest = Object.entries(accuracy.perAttribute).sort((a, b) => a[1] - b[1]).slice(0, 12);
  console.log(`  weakest: ${weakest.map(([name, value]) => `${name} ${value.toFixed(3)}`).join(', ')}`);
  return heads;
}

function softmax(z: Float32Array): Float32Array {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** The embed variants' rows: each value's word embedding, plus its attribute's words (bound) or alone in a random order (bag). */
function embeddedRows(scenes: readonly SceneSpec[]): Float32Array {
  const width = model.hiddenSize;
  const out = new Float32Array(scenes.length * imageTokens * width);
  if (predictingHeads) {
    const means = meanPool(renderedTowerFeatures(model, scenes), scenes.length, imageTokens, towerWidth);
    scenes.forEach((_, i) => {
      const x = means.subarray(i * towerWidth, (i + 1) * towerWidth);
      const kind = KINDS[predictingHeads.logits('kind', x).reduce((best, v, j, z) => (v > z[best] ? j : best), 0)];
      const rows = [phraseEmbedding(kind), ...KIND_SCHEMAS[kind].map((a) => {
        const p = softmax(predictingHeads.logits(`${kind}.${a.name}`, x));
        const row = variant === 'predicted-bound' ? phraseEmbedding(attributeWords(a.name)) : new Float32Array(width);
        a.values.forEach((value, v) => {
          const e = phraseEmbedding(value);
          for (let c = 0; c < width; c++) row[c] += p[v] * e[c];
        });
        return row;
      })];
      rows.slice(0, imageTokens).forEach((row, j) => out.set(row, (i * imageTokens + j) * width));
    });
    return out;
  }
  scenes.forEach((scene, i) => {
    const { kind, attributes } = soleIndividual(scene);
    let rows = [phraseEmbedding(kind), ...KIND_SCHEMAS[kind].map((a) => {
      const row = phraseEmbedding(attributes[a.name]);
      if (variant === 'embed-bound') {
        const name = phraseEmbedding(attributeWords(a.name));
        for (let c = 0; c < width; c++) row[c] += name[c];
      }
      return row;
    })];
    if (variant === 'embed-bag') rows = Rng.from('oracle-bag', scene.seed).shuffled(rows);
    rows.slice(0, imageTokens).forEach((row, j) => out.set(row, (i * imageTokens + j) * width));
  });
  return out;
}

function towerFeatures(scenes: readonly SceneSpec[]): Float32Array {
  if (variant === 'tower' || variant === 'tower-fresh') return renderedTowerFeatures(model, scenes);
  const out = new Float32Array(scenes.length * imageTokens * towerWidth);
  scenes.forEach((scene, i) => oracleRows(scene).forEach((row, j) => out.set(row, (i * imageTokens + j) * towerWidth)));
  return out;
}

const scorer = new BaseModelScorer(model, vlm.tokenizer);
function imageOf(scene: SceneSpec): Float32Array {
  if (variant === 'hybrid-values') return hybridRows([scene]);
  if (embedVariant) return embeddedRows([scene]);
  return model.projector.forward(towerFeatures([scene]), imageTokens).output;
}

function measure(): string {
  const margin = (question: string, scene: SceneSpec) => (textVariant ? scorer.yesMargin(`In the photo: ${pictureText(scene)}. ${question}`, null) : scorer.yesMargin(question, imageOf(scene)));
  const r = scoreRecognition(Number(values.seed), Number(values.items), split, true, margin);
  return `weighted ${r.weighted.toFixed(3)}  (subject ${r.positive.toFixed(3)}, look-alikes rejected: one ${r.negativeOneAttribute.toFixed(3)} / two ${r.negativeTwoAttributes.toFixed(3)})  AUC look-alikes ${r.aucLookAlike.toFixed(3)}`;
}

// Recognition alone (a task left out of a mix keeps its default weight).
const mix = Object.fromEntries(CORPUS_TASKS.map((task) => [task, task === 'recognition' ? 1 : 0]));
const corpus: Omit<CorpusOptions, 'count'> = { seed: 901, mix, recognition: { companionChance: 0, evalPromptRate: 1 } };
const micro = new InstructMicroStep(model, vlm.tokenizer, 0, variant === 'hybrid-values' ? { imageRows: (scenes) => hybridRows(scenes, true) } : embedVariant ? { imageRows: embeddedRows } : { towerFeatures });
const optimizer = new AdamW(micro.params, { lr: Number(values.lr), weightDecay: 0.01, beta2: 0.98 });
const packer = new MicroBatchPacker<EncodedCorpusSample>();
let nextSample = 0;
const steps = Number(values.steps);
const evalEvery = Number(values['eval-every']);
const tokensPerStep = Number(values['tokens-per-step']);
const warmupSteps = 20;
console.log(`variant ${variant}, ${values.model}, lr ${values.lr}, ${tokensPerStep} tokens per step`);
console.log(`step 0 (0 samples): ${measure()}`);
const started = Date.now();
let lossSum = 0;
for (let step = 1; step <= steps; step++) {
  micro.zeroGrads();
  let tokens = 0;
  let batches = 0;
  let loss = 0;
  while (tokens < tokensPerStep) {
    const { batch, tokens: t } = packer.take(Math.min(512, tokensPerStep - tokens), () => {
      const sample = instructionSample(corpus, nextSample++);
      return micro.encode(textVariant ? withPictureText(sample) : sample);
    });
    loss += micro.run(batch);
    tokens += t;
    batches++;
  }
  for (const p of micro.params) for (let i = 0; i < p.grad.length; i++) p.grad[i] /= batches;
  clipGradients(micro.params, 1);
  optimizer.lr = Number(values.lr) * Math.min(1, step / warmupSteps);
  optimizer.step();
  lossSum += loss / batches;
  if (step % 10 === 0) {
    const tally = micro.tally;
    process.stderr.write(`step ${step}: loss ${(lossSum / 10).toFixed(3)}  decisions ${(tally.right / Math.max(1, tally.count)).toFixed(2)}  ${(nextSample / ((Date.now() - started) / 1000)).toFixed(1)} samples/s\n`);
    lossSum = 0;
    micro.tally = emptyTally();
  }
  if (step % evalEvery === 0 || step === steps) console.log(`step ${step} (${nextSample} samples): ${measure()}`);
}
