/**
 * Writes stage-1 pictures and their attribute labels as flat files, for a PyTorch reference of
 * the vision tower on the GPU machine (bench/peer/tower_reference.py): exactly the pictures
 * stage 1 trains on (`trainingPicture(seed, index)`) or evaluates on (`heldOutPicture`).
 *
 *   node --import tsx bench/dumpTowerData.ts --set train|heldout --seed 1 --start 0 --count 1000 --out /tmp/shard
 *
 * Writes <out>.u8 (count × 64 × 64 × 3 RGB bytes), <out>.labels (int16, count × heads: the kind,
 * then every attribute of every kind; −1 where the attribute is not of the picture's kind) and
 * <out>.json (the heads and their classes).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { heldOutPicture, trainingPicture } from '../src/pretrain/stage1Tower.ts';
import { createWorldSplit, IMAGE_SIZE, KIND_SCHEMAS, KINDS } from '../src/world/index.ts';

const { values } = parseArgs({
  options: {
    set: { type: 'string', default: 'train' },
    seed: { type: 'string', default: '1' },
    start: { type: 'string', default: '0' },
    count: { type: 'string', default: '1000' },
    out: { type: 'string' },
  },
});
if (!values.out || (values.set !== 'train' && values.set !== 'heldout')) {
  console.error('usage: dumpTowerData.ts --set train|heldout --seed N --start N --count N --out PREFIX');
  process.exit(2);
}
const seed = Number(values.seed);
const start = Number(values.start);
const count = Number(values.count);
const split = createWorldSplit(0);
const heads = [{ name: 'kind', classes: KINDS.length }, ...KINDS.flatMap((k) => KIND_SCHEMAS[k].map((a) => ({ name: `${k}.${a.name}`, classes: a.values.length })))];
const headIndex = new Map(heads.map((h, i) => [h.name, i]));
const pictureBytes = IMAGE_SIZE * IMAGE_SIZE * 3;
const pixels = new Uint8Array(count * pictureBytes);
const labels = new Int16Array(count * heads.length).fill(-1);
for (let i = 0; i < count; i++) {
  // Training pictures at (seed, index) are those of step ⌊index / 64⌋ with batch 64; the held-out
  // set uses the seed stage 1 evaluates with (seed + 7).
  const picture = values.set === 'train' ? trainingPicture(seed, start + i, split) : heldOutPicture(seed + 7, start + i, split);
  pixels.set(picture.pixels, i * pictureBytes);
  const ind = picture.individual;
  const row = i * heads.length;
  labels[row] = KINDS.indexOf(ind.kind);
  for (const a of KIND_SCHEMAS[ind.kind]) labels[row + headIndex.get(`${ind.kind}.${a.name}`)!] = a.values.indexOf(ind.attributes[a.name]);
}
writeFileSync(`${values.out}.u8`, pixels);
writeFileSync(`${values.out}.labels`, new Uint8Array(labels.buffer));
writeFileSync(`${values.out}.json`, JSON.stringify({ set: values.set, seed, start, count, imageSize: IMAGE_SIZE, heads }) + '\n');
