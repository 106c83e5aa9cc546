/**
 * Gives a trained world model's conv tower written tokens (models/writtenTokens.ts): the world's
 * kinds as the gate, then one token per attribute slot of the kind. Its heads are stage 1's
 * attribute heads (kind, then kind.attribute) fitted on the frozen tower's mean map token; its
 * table starts where the frozen projector maps each row onto the decoder's embedding of the
 * value's word, so the decoder reads the new tokens as words before any training
 * (docs/pretraining.md, session 25: the comparison with a description is learned far sooner
 * from words than from map tokens).
 */
import { AdamW, type Parameter } from '../engine/adamw.ts';
import { ConvVisionTower } from '../models/convVisionTower.ts';
import { LlavaModel } from '../models/llava.ts';
import type { Tokenizer } from '../models/Tokenizer.ts';
import { writtenHeadRows, type WrittenTokensConfig, type WrittenTokensWeights } from '../models/writtenTokens.ts';
import { createWorldSplit, KIND_SCHEMAS, KINDS, type AttributeSpec, type Individual, type Kind } from '../world/index.ts';
import { AttributeHeads, evaluateTower, pooledMapFeatures, trainingPicture, type AttributeAccuracy } from './stage1Tower.ts';

/** The world's layout: the kinds as the gate, then slot j = each kind's j-th attribute. */
export function worldWrittenTokensConfig(): WrittenTokensConfig {
  const slots = Math.max(...KINDS.map((kind) => KIND_SCHEMAS[kind].length));
  return {
    gateValues: KINDS.length,
    groupValues: Array.from({ length: slots }, (_, j) => KINDS.map((kind) => KIND_SCHEMAS[kind][j]?.values.length ?? 0)),
  };
}

/** The layout's groups after the gate, in row order: slot by slot, kind by kind. */
function worldWrittenGroups(): { kind: Kind; attribute: AttributeSpec }[] {
  const { groupValues } = worldWrittenTokensConfig();
  return groupValues.flatMap((_, j) => KINDS.flatMap((kind) => {
    const attribute = KIND_SCHEMAS[kind][j];
    return attribute ? [{ kind, attribute }] : [];
  }));
}

/** The word each head row stands for, in the layout's row order (the kinds, then the groups' values). */
export function worldWrittenWords(): string[] {
  return [...KINDS, ...worldWrittenGroups().flatMap(({ attribute }) => attribute.values)];
}

/** The mean input embedding of a phrase's tokens, as a prompt spells it after a space. */
export function phraseEmbedding(model: LlavaModel, tokenizer: Tokenizer, phrase: string): Float32Array {
  const { data: table, dtype } = model.decoder.weights.embedTokens;
  if (!(table instanceof Float32Array)) throw new Error(`word embeddings must be float32 here, not ${dtype}`);
  const width = model.hiddenSize;
  // Metaspace tokenizers may give the leading space a token of its own.
  const spaceId = tokenizer.encode(' ', { addSpecialTokens: false })[0] ?? -1;
  const ids = tokenizer.encode(` ${phrase}`, { addSpecialTokens: false }).filter((id) => id !== spaceId);
  const out = new Float32Array(width);
  for (const id of ids) for (let c = 0; c < width; c++) out[c] += table[id * width + c] / ids.length;
  return out;
}

/**
 * Attribute heads over the frozen tower's mean map token, fitted on `pictures` training pictures
 * (8 epochs, AdamW 3e-3), with their held-out accuracy.
 */
export function fitAttributeHeads(tower: ConvVisionTower, pictures: number, onProgress: (line: string) => void = () => {}): { heads: AttributeHeads; accuracy: AttributeAccuracy } {
  const width = tower.config.hiddenSize;
  const heads = new AttributeHeads(width, 5);
  const optimizer = new AdamW(heads.parameters(), { lr: 3e-3, weightDecay: 0 });
  const split = createWorldSplit(0);
  const pooled: Float32Array[] = [];
  const individuals: Individual[] = [];
  for (let start = 0; start < pictures; start += 64) {
    const batch = Array.from({ length: Math.min(64, pictures - start) }, (_, i) => trainingPicture(77, start + i, split));
    const means = pooledMapFeatures(tower, batch);
    batch.forEach((picture, i) => {
      individuals.push(picture.individual);
      pooled.push(means.slice(i * width, (i + 1) * width));
    });
    if ((start / 64) % 40 === 0) onProgress(`[written tokens] tower features of ${start + batch.length}/${pictures} pictures`);
  }
  const dx = new Float32Array(width);
  for (let epoch = 0; epoch < 8; epoch++) {
    for (let start = 0; start < pictures; start += 128) {
      for (const p of heads.parameters()) p.grad.fill(0);
      const end = Math.min(pictures, start + 128);
      for (let i = start; i < end; i++) heads.individualLoss(pooled[i], individuals[i], 1 / (end - start), dx);
      optimizer.step();
    }
  }
  return { heads, accuracy: evaluateTower(tower, heads, 3, 1000) };
}

/** The heads' rows in the written layout's order: [rows, width] and bias [rows]. */
export function writtenHeadFromAttributeHeads(heads: AttributeHeads): { weight: Float32Array; bias: Float32Array } {
  const config = worldWrittenTokensConfig();
  const rows = writtenHeadRows(config);
  const width = heads.width;
  const weight = new Float32Array(rows * width);
  const bias = new Float32Array(rows);
  let row = 0;
  const copy = (name: string) => {
    const head = heads.heads.get(name)!;
    weight.set(head.weight, row * width);
    bias.set(head.bias, row);
    row += head.classes;
  };
  copy('kind');
  for (const { kind, attribute } of worldWrittenGroups()) copy(`${kind}.${attribute.name}`);
  if (row !== rows) throw new Error(`internal: ${row} head rows copied for a layout of ${rows}`);
  return { weight, bias };
}

/**
 * Table rows T (tower width) such that the frozen projector maps T[r] near the decoder's
 * embedding of row r's word: Adam on the mean squared error, from zero. Returns the table and
 * the fit: the mean cosine between projector(T[r]) and the word's embedding. The projector's
 * 128-wide input cannot reach every 256-wide embedding: on c10 the fit stalls near cosine 0.77
 * (3,000 steps), yet every row is nearest its own word among the 69 (whose embeddings are
 * 0.07 apart on average), and stage 2 trains the projector on from there.
 */
export function fitWrittenTable(model: LlavaModel, tokenizer: Tokenizer, steps = 3000, peakLr = 0.1): { table: Float32Array; cosine: number; relativeError: number } {
  const words = worldWrittenWords();
  const rows = words.length;
  const width = model.projector.weights.linear1.weight.cols;
  const hidden = model.hiddenSize;
  const targets = new Float32Array(rows * hidden);
  words.forEach((word, r) => targets.set(phraseEmbedding(model, tokenizer, word), r * hidden));
  const table = new Float32Array(rows * width);
  const grad = new Float32Array(table.length);
  const parameter: Parameter = { name: 'written_table', value: table, grad, decay: false };
  const optimizer = new AdamW([parameter], { lr: peakLr, weightDecay: 0 });
  const measure = (output: Float32Array) => {
    let cosine = 0;
    let error = 0;
    let norm = 0;
    for (let r = 0; r < rows; r++) {
      let dot = 0, a = 0, b = 0;
      for (let c = 0; c < hidden; c++) {
        const y = output[r * hidden + c];
        const t = targets[r * hidden + c];
        dot += y * t; a += y * y; b += t * t;
        error += (y - t) ** 2;
      }
      norm += b;
      cosine += dot / Math.sqrt(a * b) / rows;
    }
    return { cosine, relativeError: Math.sqrt(error / norm) };
  };
  for (let step = 0; step < steps; step++) {
    const { output, tape } = model.projector.forward(table, rows, true);
    const dOutput = new Float32Array(output.length);
    for (let i = 0; i < output.length; i++) dOutput[i] = (2 * (output[i] - targets[i])) / rows;
    grad.set(model.projector.backward(tape!, dOutput, null));
    optimizer.lr = peakLr * (1 - step / steps) + 1e-3;
    optimizer.step();
  }
  return { table, ...measure(model.projector.forward(table, rows).output) };
}

/** The same model with a tower that also writes tokens (a new tower and config; the other weights are shared). */
export function withWrittenTokens(model: LlavaModel, written: WrittenTokensWeights): LlavaModel {
  const tower = model.visionTower;
  if (!(tower instanceof ConvVisionTower)) throw new Error('written tokens need the conv vision tower');
  if (tower.written) throw new Error('the tower already writes tokens');
  const vision = { ...tower.config, writtenTokens: worldWrittenTokensConfig() };
  const newTower = new ConvVisionTower(vision, { ...tower.weights, written }, () => model.kernels());
  return new LlavaModel({ ...model.config, vision }, newTower, model.projector, model.decoder, model.kernels);
}
