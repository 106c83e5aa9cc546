/**
 * What pretraining keeps between sittings: the trainable parameters of each part of the model
 * (with their gradient buffers), and checkpoints written atomically — a whole folder is built
 * under a temporary name and renamed into place, so an interrupted write never leaves a
 * half-written checkpoint (the previous one stays readable as `<dir>.old` until the swap ends).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdamW, Parameter } from '../engine/adamw.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type TensorToWrite } from '../engine/safetensors.ts';
import type { ConvVisionGrads, ConvVisionTower } from '../models/convVisionTower.ts';
import { newDecoderLayerGrads, type Decoder } from '../models/decoder.ts';
import type { Linear, LinearGrads } from '../models/layers/linear.ts';
import type { LlavaWeightGrads } from '../models/llava.ts';
import type { Projector, ProjectorGrads } from '../models/projector.ts';

function f32(data: unknown, what: string): Float32Array {
  if (!(data instanceof Float32Array)) throw new TypeError(`${what}: pretraining needs float32 weights`);
  return data;
}

function linearParameters(name: string, layer: Linear, grads: LinearGrads): Parameter[] {
  const out: Parameter[] = [{ name: `${name}.weight`, value: f32(layer.weight.data, name), grad: grads.weight! }];
  if (layer.bias) out.push({ name: `${name}.bias`, value: layer.bias, grad: grads.bias!, decay: false });
  return out;
}

/** Every weight of the conv tower with its gradient in `grads` (norms and positions undecayed). */
export function towerParameters(tower: ConvVisionTower, grads: ConvVisionGrads): Parameter[] {
  const w = tower.weights;
  const params: Parameter[] = [
    ...linearParameters('tower.stem', w.stem, grads.stem),
    { name: 'tower.stem_norm.weight', value: w.stemNorm.weight, grad: grads.stemNorm.weight!, decay: false },
    { name: 'tower.stem_norm.bias', value: w.stemNorm.bias, grad: grads.stemNorm.bias!, decay: false },
  ];
  w.stages.forEach((stage, i) => {
    const g = grads.stages[i];
    params.push(
      ...linearParameters(`tower.stages.${i}.conv1`, stage.conv1, g.conv1),
      { name: `tower.stages.${i}.norm1.weight`, value: stage.norm1.weight, grad: g.norm1.weight!, decay: false },
      { name: `tower.stages.${i}.norm1.bias`, value: stage.norm1.bias, grad: g.norm1.bias!, decay: false },
      ...linearParameters(`tower.stages.${i}.conv2`, stage.conv2, g.conv2),
      { name: `tower.stages.${i}.norm2.weight`, value: stage.norm2.weight, grad: g.norm2.weight!, decay: false },
      { name: `tower.stages.${i}.norm2.bias`, value: stage.norm2.bias, grad: g.norm2.bias!, decay: false },
    );
  });
  params.push({ name: 'tower.position_embedding', value: w.positionEmbedding, grad: grads.positionEmbedding!, decay: false });
  return params;
}

export function newProjectorGrads(projector: Projector): ProjectorGrads {
  const linear = (layer: Linear): LinearGrads => ({
    weight: new Float32Array(layer.weight.rows * layer.weight.cols),
    bias: layer.bias ? new Float32Array(layer.bias.length) : null,
  });
  return { linear1: linear(projector.weights.linear1), linear2: linear(projector.weights.linear2) };
}

export function projectorParameters(projector: Projector, grads: ProjectorGrads): Parameter[] {
  return [
    ...linearParameters('projector.linear_1', projector.weights.linear1, grads.linear1),
    ...linearParameters('projector.linear_2', projector.weights.linear2, grads.linear2),
  ];
}

/** Gradient buffers for every decoder weight (embeddings and head untied). */
export function newDecoderGrads(decoder: Decoder): LlavaWeightGrads {
  const w = decoder.weights;
  const embed = new Float32Array(w.embedTokens.rows * w.embedTokens.cols);
  return {
    layers: newDecoderLayerGrads(w),
    embedTokens: embed,
    norm: new Float32Array(w.norm.length),
    lmHead: w.lmHead === w.embedTokens ? embed : new Float32Array(w.lmHead.rows * w.lmHead.cols),
  };
}

export function decoderParameters(decoder: Decoder, grads: LlavaWeightGrads): Parameter[] {
  const w = decoder.weights;
  const params: Parameter[] = [{ name: 'decoder.embed_tokens', value: f32(w.embedTokens.data, 'embed_tokens'), grad: grads.embedTokens! }];
  w.layers.forEach((layer, l) => {
    const g = grads.layers![l];
    const p = `decoder.layers.${l}`;
    params.push(
      { name: `${p}.input_norm`, value: layer.inputNorm, grad: g.inputNorm, decay: false },
      ...linearParameters(`${p}.q`, layer.q, g.q), ...linearParameters(`${p}.k`, layer.k, g.k),
      ...linearParameters(`${p}.v`, layer.v, g.v), ...linearParameters(`${p}.o`, layer.o, g.o),
      { name: `${p}.post_norm`, value: layer.postNorm, grad: g.postNorm, decay: false },
      ...linearParameters(`${p}.gate`, layer.gate, g.gate), ...linearParameters(`${p}.up`, layer.up, g.up),
      ...linearParameters(`${p}.down`, layer.down, g.down),
    );
  });
  params.push({ name: 'decoder.norm', value: w.norm, grad: grads.norm!, decay: false });
  if (w.lmHead !== w.embedTokens) params.push({ name: 'decoder.lm_head', value: f32(w.lmHead.data, 'lm_head'), grad: grads.lmHead! });
  return params;
}

/** Global L2 norm of the gradients; scales them down to `maxNorm` when above it. */
export function clipGradients(params: readonly Parameter[], maxNorm: number): number {
  let sum = 0;
  for (const p of params) for (let i = 0; i < p.grad.length; i++) sum += p.grad[i] * p.grad[i];
  const norm = Math.sqrt(sum);
  if (norm > maxNorm) {
    const scale = maxNorm / norm;
    for (const p of params) for (let i = 0; i < p.grad.length; i++) p.grad[i] *= scale;
  }
  return norm;
}

/** Linear warmup to `peak`, then cosine down to `floor`·peak at `total` steps. */
export function learningRate(step: number, total: number, peak: number, warmup: number, floor = 0.1): number {
  if (step < warmup) return (peak * (step + 1)) / warmup;
  const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  return peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/**
 * The learning rate at `step` when training restarted at `rewarmFrom` with fresh optimizer moments
 * (a warm start from saved weights): the schedule's rate, ramped up again over `warmup` steps so
 * that the first updates of new moments (each ≈ lr per weight) do not undo what was learned.
 * `rewarmFrom` is kept in the checkpoint state, so a later sitting goes on with the same ramp.
 */
export function rewarmedLearningRate(step: number, total: number, peak: number, warmup: number, rewarmFrom: number | null): number {
  const rate = learningRate(step, total, peak, warmup);
  return rewarmFrom === null ? rate : rate * Math.min(1, (step - rewarmFrom + 1) / warmup);
}

/** What either stage's sitting is told: where its checkpoint is, its schedule and its time budget. */
export interface StageSittingOptions {
  readonly seed: number;
  /** Folder of this stage's checkpoint (resumed from when present and `resume`). */
  readonly checkpointDir: string;
  readonly resume: boolean;
  /** Total optimizer steps of the schedule. */
  readonly totalSteps: number;
  /** Stop (checkpointed) after this many minutes of this sitting. */
  readonly minutes: number;
  /** Checked between steps: true ends the sitting early (Ctrl-C), with a checkpoint as at the deadline. */
  readonly stopRequested?: () => boolean;
}

/** A stage's learning-rate schedule (rewarmedLearningRate's arguments but the step). */
export interface LearningRateSchedule {
  readonly totalSteps: number;
  readonly peak: number;
  readonly warmup: number;
  readonly rewarmFrom: number | null;
}

/**
 * One optimizer update of either stage: clips the gradients to norm 1, sets the rate the schedule
 * gives `step` and takes the AdamW step. Returns the gradient norm before clipping (for the log).
 */
export function clippedScheduledStep(params: readonly Parameter[], optimizer: AdamW, step: number, schedule: LearningRateSchedule): number {
  const gradNorm = clipGradients(params, 1);
  optimizer.lr = rewarmedLearningRate(step, schedule.totalSteps, schedule.peak, schedule.warmup, schedule.rewarmFrom);
  optimizer.step();
  return gradNorm;
}

/** A checkpoint state's `rewarmFrom` (absent in checkpoints written before it was kept). */
export function savedRewarmFrom(state: Record<string, unknown>): number | null {
  return typeof state.rewarmFrom === 'number' ? state.rewarmFrom : null;
}

/** Parameter values and optimizer moments as safetensors tensors. */
export function optimizerTensors(optimizer: AdamW): Record<string, TensorToWrite> {
  const state = optimizer.state();
  const tensors: Record<string, TensorToWrite> = {};
  optimizer.parameters.forEach((p, i) => {
    tensors[`value.${p.name}`] = { shape: [p.value.length], data: p.value };
    tensors[`m.${p.name}`] = { shape: [p.value.length], data: state.m[i] };
    tensors[`v.${p.name}`] = { shape: [p.value.length], data: state.v[i] };
  });
  return tensors;
}

/** Restores parameter values and moments written by optimizerTensors; `step` from the state file. */
export function restoreOptimizer(optimizer: AdamW, file: string, step: number): void {
  const tensors = readSafetensors(file);
  const get = (name: string, length: number): Float32Array => {
    const t = tensors.get(name);
    if (!t || !(t.data instanceof Float32Array) || t.data.length !== length) throw new Error(`${file}: tensor ${name} is missing or has the wrong size (different model shape?)`);
    return t.data;
  };
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (const p of optimizer.parameters) {
    p.value.set(get(`value.${p.name}`, p.value.length));
    m.push(get(`m.${p.name}`, p.value.length));
    v.push(get(`v.${p.name}`, p.value.length));
  }
  optimizer.loadState({ step, m, v });
}

export const STATE_FILE = 'state.json';

/** Sets the tower's weights to the `value.tower.*` tensors of a stage-1 checkpoint folder. */
export function loadTowerWeights(tower: ConvVisionTower, checkpointFolder: string): void {
  const file = join(checkpointFolder, 'optimizer.safetensors');
  const grads = tower.newGrads();
  const written = writtenParameters(tower, grads);
  if (written.length > 0 && !readSafetensorsHeader(file).tensors.has(`value.${written[0].name}`)) {
    // Stage 1 trained the tower after its written tokens were fitted: their heads read the old tower.
    throw new Error(`${checkpointFolder}: this stage-1 checkpoint has no weights for the tower's written tokens (the tower was trained after they were fitted); give the model folder written tokens again (npm run pretrain -- --stage written)`);
  }
  const params = [...towerParameters(tower, grads), ...written];
  const tensors = readSafetensors(file, params.map((p) => `value.${p.name}`));
  for (const p of params) p.value.set(tensors.get(`value.${p.name}`)!.data as Float32Array);
}

/**
 * The written tokens' head and table (none when the tower writes nothing): kept in tower-only
 * checkpoints, never trained by stage 1 (which reads the map alone and has its own heads).
 */
export function writtenParameters(tower: ConvVisionTower, grads: ConvVisionGrads): Parameter[] {
  const written = tower.weights.written;
  if (!written || !grads.written) return [];
  return [
    ...linearParameters('tower.written_head', written.head, grads.written.head),
    { name: 'tower.written_table', value: written.table, grad: grads.written.table!, decay: false },
  ];
}

/**
 * A stage-1 checkpoint holding only the tower's weights (`towerOnly` in its state): what a model
 * folder gives back. Stage 1 resumes from it with new attribute heads and optimizer moments.
 */
export function writeTowerOnlyCheckpoint(tower: ConvVisionTower, dir: string, stage1State: Record<string, unknown>): void {
  const grads = tower.newGrads();
  const params = [...towerParameters(tower, grads), ...writtenParameters(tower, grads)];
  const written = tower.config.writtenTokens ? { writtenTokens: tower.config.writtenTokens } : {};
  writeCheckpoint(dir, { ...stage1State, stage: 1, towerOnly: true, ...written }, (temp) => {
    writeSafetensors(join(temp, 'optimizer.safetensors'), Object.fromEntries(params.map((p) => [`value.${p.name}`, { shape: [p.value.length], data: p.value }])));
  });
}

/**
 * Writes a checkpoint folder atomically: `write(tempDir)` fills a temporary folder, then
 * `state` goes to state.json in it, then the folder replaces `dir`.
 */
export function writeCheckpoint(dir: string, state: unknown, write: (tempDir: string) => void): void {
  const temp = `${dir}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  write(temp);
  writeFileSync(join(temp, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
  const old = `${dir}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(temp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** The readable checkpoint folder for `dir` (itself, or the previous one if a swap was cut short), or null. */
export function findCheckpoint(dir: string): { dir: string; state: Record<string, unknown> } | null {
  for (const candidate of [dir, `${dir}.old`]) {
    const file = join(candidate, STATE_FILE);
    if (existsSync(file)) return { dir: candidate, state: JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> };
  }
  return null;
}

export { writeSafetensors };
