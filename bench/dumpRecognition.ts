/**
 * Dumps the world's recognition task as fixed-width token rows with their pictures, for the
 * PyTorch reference of how many samples the shipped base model needs to learn it
 * (bench/peer/recognition_reference.py, run on the GPU machine by recognition_reference_gpu.sh).
 *
 *   node --import tsx bench/dumpRecognition.ts --set train --seed 11 --start 0 --count 1000 --out /tmp/d/train-00 \
 *        [--mix recognition=1] [--negatives one=0.5,two=0.3,same=0.1,other=0.1] [--width 128]
 *   node --import tsx bench/dumpRecognition.ts --set heldout --seed 2001 --items 200 --out /tmp/d/heldout \
 *        [--model models/yollava-world] [--check 3]
 *
 * train: rows of instructionSample({ seed, mix, recognition: { negatives } }, i) for i in
 *   [start, start + count), encoded as stage 2 encodes them (encodeTurns: llava_v1 layout, the
 *   <image> token expanded to 16 positions, per-token loss weights with the decision at 60 %).
 *   --mix lists task=weight pairs; tasks not listed get 0 ("default": the corpus's own mix).
 *   Rows longer than --width are skipped (counted in the header).
 *   <out>.ids     uint16  [N, W]  token ids, 0-padded after `length`
 *   <out>.weights float32 [N, W]  loss weight of the label ids[t] (predicted at t − 1); 0 = no loss
 *   <out>.meta    int16   [N, 4]  length, first image position (−1: no picture), task index, decision position
 *   <out>.u8      uint8   [N, 64, 64, 3] the picture (zeros for text-only rows)
 * heldout: the items of the held-out recognition measurement (src/pretrain/evaluate.ts,
 *   `recognition(true)`; the final evaluation uses seed = pretrain seed + 2000 = 2001), the prompt
 *   exactly as BaseModelScorer builds it (llava_v1 generation prompt, image expanded):
 *   <out>.ids uint16 [items, W]; <out>.meta int16 [items, 4]: length, image position, look-alike
 *   distance (1 | 2), subject kind index; <out>.u8 uint8 [items, 3, 64, 64, 3]: the subject, its
 *   look-alike, an individual of another kind. With --check k, the first k items are also scored
 *   by our engine (BaseModelScorer.yesMargin on --model) so that the reference can check its forward.
 *   Also the two-option measurements as evaluate.ts builds them (mcqItem, textQaItem):
 *   <out>-mcq.ids / <out>-text.ids uint16 [items, W]; .meta int16 [items, 4]: length, image
 *   position (−1 for text), 1 when the right answer is A, 0; <out>-mcq.u8 uint8 [items, 64, 64, 3];
 *   the header's mcq/text hold our engine's logit(A) − logit(B) on the first k items.
 * Both write <out>.json, the header (shapes, token ids, options, engine margins).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadLlava } from '../src/models/loadLlava.ts';
import { Tokenizer } from '../src/models/Tokenizer.ts';
import { encodeTurns } from '../src/pretrain/encodeSample.ts';
import { BaseModelScorer, mcqItem, recognitionItem, textQaItem, type TwoOptionItem } from '../src/pretrain/evaluate.ts';
import { parseMix, parseRecognitionNegatives } from '../src/pretrain/weightSpecs.ts';
import {
  CORPUS_TASKS,
  createWorldSplit,
  DEFAULT_CORPUS_MIX,
  IMAGE_SIZE,
  instructionSample,
  KINDS,
  renderScene,
  type SceneSpec,
} from '../src/world/index.ts';

const IMAGE_TOKENS = 16; // the conv tower's 4×4 map
const PICTURE = IMAGE_SIZE * IMAGE_SIZE * 3;

const { values } = parseArgs({
  options: {
    set: { type: 'string', default: 'train' },
    seed: { type: 'string' },
    start: { type: 'string', default: '0' },
    count: { type: 'string', default: '1000' },
    items: { type: 'string', default: '200' },
    width: { type: 'string', default: '128' },
    mix: { type: 'string', default: 'recognition=1' },
    negatives: { type: 'string', default: 'one=0.5,two=0.3,same=0.1,other=0.1' },
    model: { type: 'string', default: 'models/yollava-world' },
    tokenizer: { type: 'string' },
    check: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
if (!values.out || (values.set !== 'train' && values.set !== 'heldout')) {
  console.error('usage: dumpRecognition.ts --set train|heldout --out PREFIX [--seed N --start N --count N --mix task=w,… --negatives one=…,two=…,same=…,other=… | --items N --check K --model DIR]');
  process.exit(2);
}
const W = Number(values.width);
const out = values.out;

async function dumpTrain(tokenizer: Tokenizer, imageTokenId: number): Promise<void> {
  const seed = Number(values.seed ?? 11);
  const start = Number(values.start);
  const count = Number(values.count);
  const mix = values.mix === 'default' ? { ...DEFAULT_CORPUS_MIX } : parseMix(values.mix!);
  const negatives = parseRecognitionNegatives(values.negatives!);
  const ids = new Uint16Array(count * W);
  const weights = new Float32Array(count * W);
  const meta = new Int16Array(count * 4);
  const pixels = new Uint8Array(count * PICTURE);
  let rows = 0;
  let skipped = 0;
  let longest = 0;
  for (let i = start; i < start + count; i++) {
    const sample = instructionSample({ seed, mix, recognition: { negatives } }, i);
    const image = sample.image !== undefined;
    const encoded = encodeTurns(tokenizer, sample.turns, image, imageTokenId, IMAGE_TOKENS);
    const T = encoded.ids.length;
    longest = Math.max(longest, T);
    if (T > W) { skipped++; continue; }
    ids.set(encoded.ids, rows * W);
    encoded.weights.forEach((w, t) => { weights[rows * W + t] = encoded.labels[t] === -100 ? 0 : w; });
    meta.set([T, image ? encoded.ids.indexOf(imageTokenId) : -1, CORPUS_TASKS.indexOf(sample.task), encoded.decisions.findIndex((d) => d !== 0)], rows * 4);
    if (image) pixels.set(renderScene(sample.image!).pixels, rows * PICTURE);
    rows++;
  }
  writeFileSync(`${out}.ids`, ids.subarray(0, rows * W));
  writeFileSync(`${out}.weights`, weights.subarray(0, rows * W));
  writeFileSync(`${out}.meta`, meta.subarray(0, rows * 4));
  writeFileSync(`${out}.u8`, pixels.subarray(0, rows * PICTURE));
  writeFileSync(`${out}.json`, JSON.stringify({ set: 'train', seed, start, count, rows, skipped, longest, width: W, imageTokens: IMAGE_TOKENS, imageTokenId, imageSize: IMAGE_SIZE, mix, negatives, tasks: CORPUS_TASKS }) + '\n');
}

async function dumpHeldOut(tokenizer: Tokenizer, imageTokenId: number): Promise<void> {
  const seed = Number(values.seed ?? 2001);
  const items = Number(values.items);
  const check = Math.min(items, Number(values.check));
  const split = createWorldSplit(0);
  // Prompts are built by the scorer that evaluate.ts measures with; its margins on the first items
  // are the reference's forward check.
  const { model } = loadLlava(values.model!, { dtype: 'float32' });
  const scorer = new BaseModelScorer(model, tokenizer);
  const ids = new Uint16Array(items * W);
  const meta = new Int16Array(items * 4);
  const pixels = new Uint8Array(items * 3 * PICTURE);
  const questions: string[] = [];
  const scenes: (readonly SceneSpec[])[] = [];
  for (let i = 0; i < items; i++) {
    const { question, subject, distance, scenes: shown } = recognitionItem(seed, i, split, true);
    shown.forEach((s, j) => pixels.set(renderScene(s).pixels, (i * 3 + j) * PICTURE));
    const expanded = scorer.promptIds(question, true);
    if (expanded.length > W) throw new Error(`held-out prompt ${i} has ${expanded.length} tokens > width ${W}`);
    ids.set(expanded, i * W);
    meta.set([expanded.length, expanded.indexOf(imageTokenId), distance, KINDS.indexOf(subject.kind)], i * 4);
    questions.push(question);
    scenes.push(shown);
  }
  // Our engine's Yes − No margins on the first items (the reference must reproduce them).
  const tokenYes = scorer.answerToken('Yes');
  const tokenNo = scorer.answerToken('No');
  const engine = Array.from({ length: check }, (_, i) => ({ item: i, margins: scenes[i].map((s) => scorer.yesMargin(questions[i], scorer.features(s))) }));
  writeFileSync(`${out}.ids`, ids);
  writeFileSync(`${out}.meta`, meta);
  writeFileSync(`${out}.u8`, pixels);
  // The two-option measurements (mcq with a picture, text QA without), as evaluate.ts builds them.
  const tokenA = scorer.answerToken('A');
  const tokenB = scorer.answerToken('B');
  const twoOption = (name: 'mcq' | 'text'): Record<string, unknown> => {
    const optionIds = new Uint16Array(items * W);
    const optionMeta = new Int16Array(items * 4);
    const optionPixels = new Uint8Array(items * PICTURE);
    const margins: Array<{ item: number; margin: number }> = [];
    for (let i = 0; i < items; i++) {
      const item: TwoOptionItem & { scene?: SceneSpec } = name === 'mcq' ? mcqItem(seed, i, split) : textQaItem(seed, i, split);
      const scene = item.scene ?? null;
      const expanded = scorer.promptIds(item.prompt, scene !== null);
      if (expanded.length > W) throw new Error(`held-out ${name} prompt ${i} has ${expanded.length} tokens > width ${W}`);
      optionIds.set(expanded, i * W);
      optionMeta.set([expanded.length, scene ? expanded.indexOf(imageTokenId) : -1, item.correctIsA ? 1 : 0, 0], i * 4);
      if (scene) optionPixels.set(renderScene(scene).pixels, i * PICTURE);
      if (i < check) margins.push({ item: i, margin: scorer.optionMargin(item.prompt, scene ? scorer.features(scene) : null) });
    }
    writeFileSync(`${out}-${name}.ids`, optionIds);
    writeFileSync(`${out}-${name}.meta`, optionMeta);
    if (name === 'mcq') writeFileSync(`${out}-${name}.u8`, optionPixels);
    return { engine: margins };
  };
  const mcq = twoOption('mcq');
  const text = twoOption('text');
  writeFileSync(`${out}.json`, JSON.stringify({ set: 'heldout', seed, items, width: W, imageTokens: IMAGE_TOKENS, imageTokenId, imageSize: IMAGE_SIZE, tokenYes, tokenNo, tokenA, tokenB, kinds: KINDS, model: values.model, engine, mcq, text, examples: questions.slice(0, 3) }) + '\n');
}

const tokenizer = await Tokenizer.fromDirectory(values.tokenizer ?? values.model!);
const imageTokenId = tokenizer.tokenToId('<image>')!;
if (values.set === 'train') await dumpTrain(tokenizer, imageTokenId);
else await dumpHeldOut(tokenizer, imageTokenId);
