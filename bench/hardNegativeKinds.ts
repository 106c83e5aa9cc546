/**
 * Are hard negatives real? For each benchmark subject, the 10 pool images nearest to each of its
 * training photos by the base model's own image embedding (the vision tower, mean-pooled — what
 * `yollava train` retrieves hard negatives with), and the share of those whose scene holds an
 * individual of the subject's kind, and one of its one- or two-attribute look-alikes
 * (scenes.json marks them: `subject` and `distance`). Chance is the pool's share of images with that kind.
 *
 *   node --import tsx bench/hardNegativeKinds.ts [--dataset ~/.yollava/eval/world-0] [--model models/yollava-world] [--world 0] [--photos 5]
 *
 * Writes the benchmark first (--world) when the dataset folder has none; the index goes to
 * <dataset>/hard-negative-kinds.sqlite and is reused while the model is unchanged.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeImage } from '../src/models/image/decodeImage.ts';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { visionTowerEmbedder } from '../src/personalize/imageEmbedder.ts';
import { ImageIndex } from '../src/personalize/ImageIndex.ts';
import { benchmarkIsCurrent, writeBenchmark } from '../src/world/index.ts';

const { values } = parseArgs({
  options: {
    dataset: { type: 'string', default: join(homedir(), '.yollava', 'eval', 'world-0') },
    model: { type: 'string', default: 'models/yollava-world' },
    world: { type: 'string', default: '0' },
    photos: { type: 'string', default: '5' },
    neighbours: { type: 'string', default: '10' },
  },
});
const dataset = resolve(values.dataset!);
const data = join(dataset, 'yollava-data');
if (!existsSync(join(data, 'scenes.json')) || !benchmarkIsCurrent(dataset)) {
  process.stderr.write(`writing the world-${values.world} benchmark into ${dataset}\n`);
  await writeBenchmark(dataset, { seed: Number(values.world) });
}
// `subject`/`distance`: a subject itself (0) or its look-alike differing in 1–2 attributes
interface Entity { kind: string; subject?: string; distance?: number }
const scenes = JSON.parse(readFileSync(join(data, 'scenes.json'), 'utf8')) as Record<string, { entities: Entity[] }>;
const world = JSON.parse(readFileSync(join(data, 'world.json'), 'utf8')) as { subjects: Record<string, { kind: string }> };
const sceneOf = (path: string) => scenes[`./yollava-data/${path.slice(data.length + 1)}`];

const vlm = await VisionLanguageModel.load(values.model!);
const embedder = visionTowerEmbedder(vlm);
const index = ImageIndex.open(join(dataset, 'hard-negative-kinds.sqlite'), embedder, { rebuild: true });
await index.update(join(data, 'pool'), {
  onProgress: (p) => { if (p.done % 500 === 0 || p.done === p.total) process.stderr.write(`\rindexing the pool ${p.done}/${p.total}`); },
});
process.stderr.write('\n');
const poolScenes = Object.entries(scenes).filter(([k]) => k.includes('/pool/')).map(([, s]) => s);

const k = Number(values.neighbours);
const rows: string[] = [];
let sameKind = 0, lookAlike = 0, total = 0, chanceSum = 0;
for (const [subject, { kind }] of Object.entries(world.subjects)) {
  let subjectSame = 0, subjectLookAlike = 0, subjectTotal = 0;
  for (let i = 0; i < Number(values.photos); i++) {
    const photo = join(data, 'train', subject, `${i}.png`);
    const neighbours = index.nearest(await embedder.embed(await decodeImage(photo)), k);
    for (const n of neighbours) {
      const scene = sceneOf(n.path);
      if (!scene) throw new Error(`${n.path}: not in scenes.json`);
      subjectSame += scene.entities.some((e) => e.kind === kind) ? 1 : 0;
      subjectLookAlike += scene.entities.some((e) => e.subject === subject && (e.distance ?? 0) >= 1) ? 1 : 0;
      subjectTotal++;
    }
  }
  const chance = poolScenes.filter((s) => s.entities.some((e) => e.kind === kind)).length / poolScenes.length;
  rows.push(`| ${subject} | ${kind} | ${(subjectSame / subjectTotal).toFixed(2)} | ${(subjectLookAlike / subjectTotal).toFixed(2)} | ${chance.toFixed(2)} |`);
  sameKind += subjectSame; lookAlike += subjectLookAlike; total += subjectTotal; chanceSum += chance;
}
index.close();
const subjects = Object.keys(world.subjects).length;
console.log(`model ${values.model}, dataset ${dataset}, ${values.photos} training photos × ${k} nearest pool images per subject\n`);
console.log('| subject | kind | same kind | look-alike of it | chance (pool share of the kind) |\n|---|---|---:|---:|---:|');
console.log(rows.join('\n'));
console.log(`| **all ${subjects}** | | **${(sameKind / total).toFixed(3)}** | **${(lookAlike / total).toFixed(3)}** | ${(chanceSum / subjects).toFixed(3)} |`);
