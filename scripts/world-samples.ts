/**
 * Writes docs/world-samples.png: a labelled contact sheet of the generated world — for each
 * kind, pairs of look-alikes (one attribute apart, same scene) side by side, then a row of
 * varied scenes (groups, occlusion, lighting, indoor/outdoor). Run: node --import tsx scripts/world-samples.ts
 */
import { writeFileSync } from 'node:fs';
import sharp, { type OverlayOptions } from 'sharp';
import { composeScene } from '../src/world/composeScene.ts';
import { describeIndividual } from '../src/world/describeIndividual.ts';
import { differingAttributes, randomLookAlike } from '../src/world/individuals.ts';
import { KINDS, type Individual } from '../src/world/kindSchemas.ts';
import { randomIndividual } from '../src/world/individuals.ts';
import { IMAGE_SIZE, renderScene, type SceneSpec } from '../src/world/renderScene.ts';
import { Rng } from '../src/world/Rng.ts';

const ZOOM = 3;
const CELL = IMAGE_SIZE * ZOOM;
const PAIRS_PER_ROW = 3;
const GAP = 8;
const PAIR_GAP = 28;
const LABEL_WIDTH = 132;
const CAPTION = 34;
const TITLE = 44;
const OUT = new URL('../docs/world-samples.png', import.meta.url);

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

async function tile(spec: SceneSpec): Promise<Buffer> {
  const { pixels } = renderScene(spec);
  return sharp(Buffer.from(pixels), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 3 } })
    .resize(CELL, CELL, { kernel: 'nearest' })
    .png()
    .toBuffer();
}

function withIndividual(spec: SceneSpec, index: number, individual: Individual): SceneSpec {
  return { ...spec, entities: spec.entities.map((e, i) => (i === index ? { ...e, individual } : e)) };
}

const rng = new Rng(2024);
const pairWidth = 2 * CELL + GAP;
const width = LABEL_WIDTH + PAIRS_PER_ROW * pairWidth + (PAIRS_PER_ROW - 1) * PAIR_GAP + 16;
const rowHeight = CELL + CAPTION + 16;
const sceneRowHeight = CELL + CAPTION + 16;
const height = TITLE + KINDS.length * rowHeight + TITLE + sceneRowHeight + 8;
const composites: OverlayOptions[] = [];
const texts: string[] = [];

texts.push(`<text x="16" y="30" font-size="22" font-weight="bold">Look-alikes: each pair differs in exactly one attribute (same scene, 64×64 px shown ×${ZOOM})</text>`);
for (const [row, kind] of KINDS.entries()) {
  const top = TITLE + row * rowHeight;
  texts.push(`<text x="10" y="${top + CELL / 2}" font-size="18" font-weight="bold">${kind}</text>`);
  for (let p = 0; p < PAIRS_PER_ROW; p++) {
    const a = randomIndividual(rng, kind);
    const b = randomLookAlike(rng, a, 1);
    const spec = composeScene(rng, [a], { occlusionChance: 0, maxNoise: 3, lighting: 'normal', scaleRange: [1.15, 1.5] });
    const left = LABEL_WIDTH + p * (pairWidth + PAIR_GAP);
    composites.push({ input: await tile(spec), left, top });
    composites.push({ input: await tile(withIndividual(spec, 0, b)), left: left + CELL + GAP, top });
    const attribute = differingAttributes(a, b)[0];
    texts.push(
      `<text x="${left}" y="${top + CELL + 16}" font-size="13">${escape(`${attribute}: ${a.attributes[attribute]} | ${b.attributes[attribute]}`)}</text>`,
      `<text x="${left}" y="${top + CELL + 31}" font-size="10" fill="#444">${escape(describeIndividual(a).slice(0, 62))}</text>`,
    );
  }
}

const sceneTop = TITLE + KINDS.length * rowHeight;
texts.push(`<text x="16" y="${sceneTop + 30}" font-size="22" font-weight="bold">Scenes: groups, partial occlusion, poses, mirroring, lighting, noise</text>`);
const sceneCount = Math.floor((width - 16) / (CELL + GAP));
const sceneLabels = ['two of a kind', 'occluded', 'three together', 'dim light', 'indoor', 'outdoor'];
for (let i = 0; i < sceneCount; i++) {
  const n = i === 2 ? 3 : i === 0 || i === 5 ? 2 : 1;
  const firstKind = rng.pick(KINDS);
  const individuals = Array.from({ length: n }, (_, k) => randomIndividual(rng, i === 0 || k === 0 ? firstKind : rng.pick(KINDS)));
  const spec = composeScene(rng, individuals, {
    occlude: i === 1 ? 0 : undefined,
    occlusionChance: 0,
    lighting: i === 3 ? 'dim' : undefined,
    setting: i === 4 ? 'indoor' : i === 5 ? 'outdoor' : undefined,
  });
  const left = 16 + i * (CELL + GAP);
  const top = sceneTop + TITLE;
  composites.push({ input: await tile(spec), left, top });
  const d = renderScene(spec).description;
  texts.push(
    `<text x="${left}" y="${top + CELL + 16}" font-size="13">${escape(sceneLabels[i % sceneLabels.length])}</text>`,
    `<text x="${left}" y="${top + CELL + 31}" font-size="10" fill="#444">${escape(d.entities.map((e) => e.kind).join(', '))}</text>`,
  );
}

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif">${texts.join('')}</svg>`;
const png = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
  .composite([{ input: Buffer.from(svg), left: 0, top: 0 }, ...composites])
  .png({ compressionLevel: 9 })
  .toBuffer();
writeFileSync(OUT, png);
console.log(`wrote ${OUT.pathname} (${width}×${height}, ${(png.length / 1024).toFixed(0)} KiB)`);
