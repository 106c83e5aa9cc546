/**
 * Stage 1: the vision tower alone, on direct attribute labels of a picture's one individual
 * (world-facts.md: a CNN on direct labels learns to see attributes in minutes; the language
 * loss alone did not in an hour). Linear heads over the mean of the tower's tokens — one for the
 * kind, one per attribute of each kind — are trained with it and then dropped.
 *
 * Pictures are composed and rendered on the fly from (seed, step, index), so a resumed run sees
 * exactly the pictures an uninterrupted one would. Held-out accuracy is measured on benchmark
 * subjects and their 1–2-attribute look-alikes, which pretraining never sees.
 */
import { join } from 'node:path';
import { AdamW, type Parameter } from '../engine/adamw.ts';
import { writeSafetensors } from '../engine/safetensors.ts';
import type { ConvVisionGrads, ConvVisionTower } from '../models/convVisionTower.ts';
import {
  composeScene,
  createWorldSplit,
  DEFAULT_KIND_WEIGHTS,
  IMAGE_SIZE,
  KIND_SCHEMAS,
  KINDS,
  randomLookAlike,
  randomTrainingIndividual,
  renderScene,
  Rng,
  type Individual,
  type Kind,
  type WorldSplit,
} from '../world/index.ts';
import { formatDuration, progressLine, secondsLeft, Smoothed, type TrainingLog } from './progress.ts';
import { clippedScheduledStep, findCheckpoint, loadTowerWeights, optimizerTensors, restoreOptimizer, savedRewarmFrom, towerParameters, writeCheckpoint, type StageSittingOptions } from './trainingState.ts';
import { scenePixelValues } from './worldModelConfig.ts';

export interface Stage1Options extends StageSittingOptions {
  readonly batchSize?: number; // default 64
  readonly lr?: number; // default 5e-3 (a PyTorch replica on the same pictures: 0.91 vs 0.86 held-out at 5,400 steps over 2e-3)
  readonly checkpointEvery?: number; // steps, default 100
  readonly evalEvery?: number; // steps, default 500
  readonly evalImages?: number; // default 500
  readonly log: TrainingLog;
  readonly quiet?: boolean;
}

export interface AttributeAccuracy {
  readonly images: number;
  readonly kind: number;
  /** Mean over every (image, attribute of its kind) prediction. */
  readonly meanAttribute: number;
  readonly perAttribute: Record<string, number>;
}

export interface Stage1Result {
  readonly step: number;
  readonly done: boolean;
  readonly accuracy: AttributeAccuracy | null;
}

/** Linear heads over pooled tower tokens: the kind, and each attribute of each kind. */
export class AttributeHeads {
  readonly heads: Map<string, { weight: Float32Array; bias: Float32Array; classes: number }> = new Map();
  readonly grads: Map<string, { weight: Float32Array; bias: Float32Array }> = new Map();

  constructor(readonly width: number, seed: number) {
    const rng = new Rng(seed);
    const add = (name: string, classes: number) => {
      const weight = Float32Array.from({ length: classes * width }, () => (rng.next() * 2 - 1) * Math.sqrt(3 / width));
      this.heads.set(name, { weight, bias: new Float32Array(classes), classes });
      this.grads.set(name, { weight: new Float32Array(classes * width), bias: new Float32Array(classes) });
    };
    add('kind', KINDS.length);
    for (const kind of KINDS) for (const a of KIND_SCHEMAS[kind]) add(`${kind}.${a.name}`, a.values.length);
  }

  parameters(): Parameter[] {
    return [...this.heads].flatMap(([name, h]) => [
      { name: `head.${name}.weight`, value: h.weight, grad: this.grads.get(name)!.weight },
      { name: `head.${name}.bias`, value: h.bias, grad: this.grads.get(name)!.bias, decay: false },
    ]);
  }

  /** Logits of one head for one pooled vector. */
  logits(name: string, x: Float32Array): Float32Array {
    const h = this.heads.get(name)!;
    const out = new Float32Array(h.classes);
    for (let j = 0; j < h.classes; j++) {
      let s = h.bias[j];
      const row = j * this.width;
      for (let c = 0; c < this.width; c++) s += h.weight[row + c] * x[c];
      out[j] = s;
    }
    return out;
  }

  /** Cross-entropy of one head; adds `scale`·gradients into the head's grads and into dx. Returns the loss and whether argmax was right. */
  crossEntropy(name: string, x: Float32Array, target: number, scale: number, dx: Float32Array): { loss: number; correct: boolean } {
    const h = this.heads.get(name)!;
    const g = this.grads.get(name)!;
    const z = this.logits(name, x);
    let max = -Infinity;
    let best = 0;
    for (let j = 0; j < z.length; j++) if (z[j] > max) { max = z[j]; best = j; }
    let sum = 0;
    for (let j = 0; j < z.length; j++) sum += (z[j] = Math.exp(z[j] - max));
    const loss = -Math.log(z[target] / sum);
    for (let j = 0; j < z.length; j++) {
      const d = scale * (z[j] / sum - (j === target ? 1 : 0));
      g.bias[j] += d;
      const row = j * this.width;
      for (let c = 0; c < this.width; c++) {
        g.weight[row + c] += d * x[c];
        dx[c] += d * h.weight[row + c];
      }
    }
    return { loss, correct: best === target };
  }

  /**
   * The kind head and every head of the individual's kind on one pooled vector (each counts as
   * much as the kind head): adds `scale`·gradients. Returns the summed loss and the attribute heads right.
   */
  individualLoss(x: Float32Array, individual: Individual, scale: number, dx: Float32Array): { loss: number; right: number; total: number } {
    let loss = this.crossEntropy('kind', x, KINDS.indexOf(individual.kind), scale, dx).loss;
    let right = 0;
    const schema = KIND_SCHEMAS[individual.kind];
    for (const a of schema) {
      const r = this.crossEntropy(`${individual.kind}.${a.name}`, x, a.values.indexOf(individual.attributes[a.name]), scale, dx);
      loss += r.loss;
      right += r.correct ? 1 : 0;
    }
    return { loss, right, total: schema.length };
  }
}

/** The individual pictured at (seed, index) for training: any kind, never held out. */
export function trainingPicture(seed: number, index: number, split: WorldSplit): { individual: Individual; pixels: Uint8Array } {
  const rng = Rng.from('pretrain-stage1', seed, index);
  const kind = KINDS[rng.weightedIndex(KINDS.map((k) => DEFAULT_KIND_WEIGHTS[k]))];
  const individual = randomTrainingIndividual(rng, kind, [split]);
  const spec = composeScene(rng, [individual], { occlusionChance: 0.1, occlusionRange: [0.05, 0.25] });
  return { individual, pixels: renderScene(spec).pixels };
}

/** A held-out picture: a benchmark subject or one of its 1–2-attribute look-alikes. */
export function heldOutIndividual(rng: Rng, split: WorldSplit, kind?: Kind): Individual {
  const subjects = split.subjects.filter((s) => kind === undefined || s.individual.kind === kind);
  const subject = rng.pick(subjects).individual;
  const distance = rng.int(3);
  return distance === 0 ? subject : randomLookAlike(rng, subject, distance);
}

/** The held-out picture at (seed, index) of the stage-1 evaluation (no occlusion). */
export function heldOutPicture(seed: number, index: number, split: WorldSplit): { individual: Individual; pixels: Uint8Array } {
  const rng = Rng.from('pretrain-stage1-eval', seed, index);
  const individual = heldOutIndividual(rng, split);
  return { individual, pixels: renderScene(composeScene(rng, [individual], { occlusionChance: 0 })).pixels };
}

/** The mean of each picture's tokens: [batch × perImage × C] → [batch × C]. */
export function meanPool(tokens: Float32Array, batch: number, perImage: number, C: number): Float32Array {
  const pooled = new Float32Array(batch * C);
  for (let n = 0; n < batch; n++) {
    for (let t = 0; t < perImage; t++) {
      const base = (n * perImage + t) * C;
      for (let c = 0; c < C; c++) pooled[n * C + c] += tokens[base + c];
    }
    for (let c = 0; c < C; c++) pooled[n * C + c] /= perImage;
  }
  return pooled;
}

/** The frozen tower's mean map token of each picture, [pictures × C] (no tape, no written tokens). */
export function pooledMapFeatures(tower: ConvVisionTower, pictures: readonly { pixels: Uint8Array }[]): Float32Array {
  const n = pictures.length;
  const pixels = new Float32Array(n * 3 * IMAGE_SIZE * IMAGE_SIZE);
  pictures.forEach((picture, i) => scenePixelValues(picture.pixels, pixels, i * 3 * IMAGE_SIZE * IMAGE_SIZE));
  const { hiddenStates } = tower.forwardBatch(pixels, n, { written: false });
  return meanPool(hiddenStates[hiddenStates.length - 1], n, tower.mapTokens, tower.config.hiddenSize);
}

/** Held-out attribute accuracy of tower + heads on `count` pictures (fixed by `seed`). */
export function evaluateTower(tower: ConvVisionTower, heads: AttributeHeads, seed: number, count: number, split: WorldSplit = createWorldSplit(0)): AttributeAccuracy {
  const C = tower.config.hiddenSize;
  let kindRight = 0;
  let attrRight = 0;
  let attrTotal = 0;
  const per: Record<string, [number, number]> = {};
  const batch = 50;
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const pictures = Array.from({ length: n }, (_, i) => heldOutPicture(seed, start + i, split));
    const individuals = pictures.map((picture) => picture.individual);
    const pooled = pooledMapFeatures(tower, pictures);
    for (let i = 0; i < n; i++) {
      const x = pooled.subarray(i * C, (i + 1) * C);
      const ind = individuals[i];
      const argmax = (z: Float32Array) => z.indexOf(Math.max(...z));
      if (argmax(heads.logits('kind', x)) === KINDS.indexOf(ind.kind)) kindRight++;
      for (const a of KIND_SCHEMAS[ind.kind]) {
        const right = argmax(heads.logits(`${ind.kind}.${a.name}`, x)) === a.values.indexOf(ind.attributes[a.name]);
        const key = `${ind.kind}.${a.name}`;
        per[key] ??= [0, 0];
        per[key][0] += right ? 1 : 0;
        per[key][1]++;
        attrRight += right ? 1 : 0;
        attrTotal++;
      }
    }
  }
  const perAttribute = Object.fromEntries(Object.entries(per).map(([k, [r, t]]) => [k, +(r / t).toFixed(3)]));
  return { images: count, kind: kindRight / count, meanAttribute: attrRight / Math.max(1, attrTotal), perAttribute };
}

/** Runs (or resumes) stage 1 on `tower`, whose weights it updates in place. */
export async function trainTowerStage(tower: ConvVisionTower, options: Stage1Options): Promise<Stage1Result> {
  const B = options.batchSize ?? 64;
  const peak = options.lr ?? 5e-3;
  const C = tower.config.hiddenSize;
  const T = tower.mapTokens;
  const split = createWorldSplit(0);
  const heads = new AttributeHeads(C, options.seed + 1);
  const towerGrads: ConvVisionGrads = tower.newGrads();
  const params = [...towerParameters(tower, towerGrads), ...heads.parameters()];
  const optimizer = new AdamW(params, { lr: peak, weightDecay: 0.01 });
  let step = 0;
  // New heads on a trained tower: warm the lr up again so their first random gradients do not shake it.
  let rewarmFrom: number | null = null;
  const found = options.resume ? findCheckpoint(options.checkpointDir) : null;
  if (found?.state.towerOnly) {
    // A tower given back by a model folder: its weights, new heads, new moments.
    step = found.state.step as number;
    loadTowerWeights(tower, found.dir);
    rewarmFrom = step;
    progressLine(options.quiet ?? false, `[stage 1] continuing at step ${step} from the tower in ${found.dir} (new attribute heads and optimizer moments)`);
  } else if (found) {
    step = found.state.step as number;
    restoreOptimizer(optimizer, join(found.dir, 'optimizer.safetensors'), step);
    rewarmFrom = savedRewarmFrom(found.state);
    progressLine(options.quiet ?? false, `[stage 1] resumed at step ${step} from ${found.dir}`);
  }
  const save = () => writeCheckpoint(options.checkpointDir, { stage: 1, step, seed: options.seed, totalSteps: options.totalSteps, batchSize: B, rewarmFrom }, (dir) => {
    writeSafetensors(join(dir, 'optimizer.safetensors'), optimizerTensors(optimizer));
  });
  const deadline = Date.now() + options.minutes * 60_000;
  const smoothed = new Smoothed(0.95);
  const started = Date.now();
  const stepsAtStart = step;
  let accuracy: AttributeAccuracy | null = null;
  const pixels = new Float32Array(B * 3 * IMAGE_SIZE * IMAGE_SIZE);
  const warmup = Math.min(200, options.totalSteps / 10);
  while (step < options.totalSteps && Date.now() < deadline && !options.stopRequested?.()) {
    // Let signal handlers (Ctrl-C) run between steps.
    await new Promise((resolve) => setImmediate(resolve));
    optimizer.zeroGrad();
    const individuals: Individual[] = [];
    for (let b = 0; b < B; b++) {
      const picture = trainingPicture(options.seed, step * B + b, split);
      individuals.push(picture.individual);
      scenePixelValues(picture.pixels, pixels, b * 3 * IMAGE_SIZE * IMAGE_SIZE);
    }
    const { hiddenStates, tape } = tower.forwardBatch(pixels, B, { tape: true, written: false });
    const pooled = meanPool(hiddenStates[hiddenStates.length - 1], B, T, C);
    const dPooled = new Float32Array(B * C);
    let loss = 0;
    let right = 0;
    let total = 0;
    for (let b = 0; b < B; b++) {
      const r = heads.individualLoss(pooled.subarray(b * C, (b + 1) * C), individuals[b], 1 / B, dPooled.subarray(b * C, (b + 1) * C));
      loss += r.loss / B;
      right += r.right;
      total += r.total;
    }
    const dLast = new Float32Array(B * T * C);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const base = (b * T + t) * C;
        for (let c = 0; c < C; c++) dLast[base + c] = dPooled[b * C + c] / T;
      }
    }
    tower.backward(tape!, dLast, towerGrads);
    const gradNorm = clippedScheduledStep(params, optimizer, step, { totalSteps: options.totalSteps, peak, warmup, rewarmFrom });
    step++;
    const smooth = smoothed.add(loss);
    const seconds = (Date.now() - started) / 1000;
    const rate = ((step - stepsAtStart) * B) / seconds;
    if (step % 10 === 0 || step === options.totalSteps) {
      const left = secondsLeft(options.totalSteps - step, rate / B, deadline);
      progressLine(options.quiet ?? false, `[stage 1] step ${step}/${options.totalSteps}  loss ${smooth.toFixed(3)}  train attr acc ${(right / total).toFixed(2)}  ${rate.toFixed(1)} img/s  left ${formatDuration(left)}`);
      options.log.record({ stage: 1, step, loss, smoothedLoss: smooth, trainAttributeAccuracy: right / total, gradNorm, lr: optimizer.lr, imagesPerSecond: rate });
    }
    if (step % (options.checkpointEvery ?? 100) === 0) save();
    if (step % (options.evalEvery ?? 500) === 0 || step === options.totalSteps) {
      accuracy = evaluateTower(tower, heads, options.seed + 7, options.evalImages ?? 500, split);
      progressLine(options.quiet ?? false, `[stage 1] held-out: kind ${accuracy.kind.toFixed(3)}  mean attribute ${accuracy.meanAttribute.toFixed(3)}`);
      options.log.record({ stage: 1, step, heldOut: accuracy });
    }
  }
  // A finished stage resumed has nothing new to keep; rewriting its checkpoint would drop what a
  // tower-only one holds beyond the tower (its written tokens).
  if (step > stepsAtStart || !found) save();
  return { step, done: step >= options.totalSteps, accuracy };
}
