import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BACKGROUNDS,
  composeScene,
  describeIndividual,
  drawAlone,
  encodePng,
  EYE_RGB,
  HAIR_RGB,
  IMAGE_SIZE,
  KIND_SCHEMAS,
  KINDS,
  LIGHTINGS,
  lightingGain,
  measureAttributeWidths,
  MIN_SCALE,
  mirrorScene,
  PALETTE,
  POSES_BY_KIND,
  randomIndividual,
  renderScene,
  Rng,
  SKIN_RGB,
  spriteSize,
  withAttribute,
  type Individual,
  type PoseName,
  type Rgb,
  type SceneSpec,
} from '../../src/world/index.ts';
import { petMarkInk } from '../../src/world/sprites/drawPet.ts';

/** A lone individual on a plain background: no props, no noise, normal light. */
function alone(ind: Individual, options: Partial<SceneSpec> & { scale?: number; mirrored?: boolean; pose?: PoseName } = {}): SceneSpec {
  const { width, height } = spriteSize(ind);
  const scale = options.scale ?? 1.2;
  return {
    seed: 1,
    background: 'park',
    horizon: 36,
    lighting: 'normal',
    noise: 0,
    flipped: false,
    props: [],
    ...options,
    entities: [
      {
        individual: ind,
        x: (IMAGE_SIZE - width * scale) / 2,
        baseline: Math.min(IMAGE_SIZE, Math.ceil(height * scale) + 1),
        scale,
        mirrored: options.mirrored ?? false,
        pose: options.pose ?? POSES_BY_KIND[ind.kind][0],
      },
    ],
  };
}

function randomScene(seed: number): SceneSpec {
  const rng = new Rng(seed);
  const n = 1 + rng.int(3);
  return composeScene(rng, Array.from({ length: n }, () => randomIndividual(rng, rng.pick(KINDS))), { occlusionChance: 0.5 });
}

test('same seed, identical bytes; different seeds, different images', () => {
  for (let seed = 0; seed < 20; seed++) {
    const a = renderScene(randomScene(seed));
    const b = renderScene(randomScene(seed));
    assert.deepEqual(a.pixels, b.pixels);
    assert.deepEqual(encodePng(a.pixels, 64, 64), encodePng(b.pixels, 64, 64));
    assert.deepEqual(a.description, b.description);
    assert.notDeepEqual(a.pixels, renderScene(randomScene(seed + 1000)).pixels);
  }
});

test('every kind, pose, background and lighting renders inside the frame', () => {
  const rng = new Rng(3);
  for (const kind of KINDS) {
    for (const pose of POSES_BY_KIND[kind] as readonly PoseName[]) {
      for (const background of BACKGROUNDS) {
        if (kind === 'landmark' && (background === 'room' || background === 'kitchen')) continue;
        const spec = composeScene(rng, [randomIndividual(rng, kind)], { background, lighting: rng.pick(LIGHTINGS) });
        const scene = renderScene({ ...spec, entities: spec.entities.map((e) => ({ ...e, pose })) });
        const [e] = scene.description.entities;
        assert.equal(e.kind, kind);
        assert.equal(e.pose, pose);
        assert.equal(scene.pixels.length, IMAGE_SIZE * IMAGE_SIZE * 3);
        const [x, y, w, h] = e.bbox;
        assert.ok(x >= 0 && y >= 0 && x + w <= IMAGE_SIZE && y + h <= IMAGE_SIZE && w > 10 && h > 10, `${kind} bbox ${e.bbox}`);
      }
    }
  }
});

test('every value of every attribute changes the picture by at least a 3×3 block at the smallest scale', () => {
  const widths = measureAttributeWidths({ scale: MIN_SCALE, trials: 8, seed: 11 });
  assert.equal(widths.length, KINDS.reduce((n, k) => n + KIND_SCHEMAS[k].length, 0));
  for (const w of widths) {
    assert.ok(w.minWidth >= 3, `${w.kind}.${w.attribute}: ${w.worst.a} vs ${w.worst.b} differ by only ${w.minWidth} px`);
  }
});

test('object shapes show in proportions, not size: every pair differs in the aspect ratio of the drawn object by ≥ 1.3×', () => {
  // A scene's scale varies 2×, so a tall object must not look like a short one seen closer.
  const backdrop = drawAlone({ kind: 'object', attributes: { type: 'mug', color: 'red', accentColor: 'red', pattern: 'plain', symbol: 'none', shape: 'short' } }, 'standing', false, 0.01, 0)[0];
  const aspect = (rgb: Uint8Array): number => {
    let x0 = IMAGE_SIZE, x1 = -1, y0 = IMAGE_SIZE, y1 = -1;
    for (let y = 0; y < IMAGE_SIZE; y++) {
      for (let x = 0; x < IMAGE_SIZE; x++) {
        const o = (y * IMAGE_SIZE + x) * 3;
        if (rgb[o] === 0 && rgb[o + 1] === 128 && rgb[o + 2] === 128) continue;
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
    assert.ok(x1 >= x0, 'object drawn');
    return (x1 - x0 + 1) / (y1 - y0 + 1);
  };
  assert.equal(backdrop, 0);
  const shapes = KIND_SCHEMAS.object.find((s) => s.name === 'shape')!.values;
  for (const type of KIND_SCHEMAS.object.find((s) => s.name === 'type')!.values) {
    const ratios = shapes.map((shape) => aspect(drawAlone({ kind: 'object', attributes: { type, color: 'red', accentColor: 'red', pattern: 'plain', symbol: 'none', shape } }, 'standing', false, 1.5, 0)));
    for (let i = 0; i < shapes.length; i++) {
      for (let j = i + 1; j < shapes.length; j++) {
        const r = Math.max(ratios[i], ratios[j]) / Math.min(ratios[i], ratios[j]);
        assert.ok(r >= 1.3, `${type}: ${shapes[i]} (${ratios[i].toFixed(2)}) vs ${shapes[j]} (${ratios[j].toFixed(2)}) differ in aspect by only ${r.toFixed(2)}×`);
      }
    }
  }
});

/** The colour an anchor's attribute is drawn in. */
function expectedColor(ind: Individual, anchor: string): Rgb {
  const value = ind.attributes[anchor];
  if (ind.kind === 'person' && anchor === 'skin') return SKIN_RGB[value as keyof typeof SKIN_RGB];
  if (ind.kind === 'person' && anchor === 'hairColor') return HAIR_RGB[value as keyof typeof HAIR_RGB];
  if (ind.kind === 'pet' && anchor === 'eyeColor') return EYE_RGB[value as keyof typeof EYE_RGB];
  if (ind.kind === 'pet' && anchor === 'mark') return petMarkInk(ind.attributes.furColor);
  return PALETTE[value as keyof typeof PALETTE];
}

test('description matches image: attribute colours at anchor points, under every scale, pose and mirroring', () => {
  const rng = new Rng(5);
  let checked = 0;
  for (let t = 0; t < 150; t++) {
    const kind = KINDS[t % KINDS.length];
    const ind = randomIndividual(rng, kind);
    const pose = rng.pick(POSES_BY_KIND[kind] as readonly PoseName[]);
    const scale = rng.pick([1, 1.17, 1.33, 1.5]);
    const lighting = rng.pick(LIGHTINGS);
    const noise = rng.pick([0, 4]);
    const scene = renderScene(alone(ind, { scale, pose, mirrored: rng.chance(0.5), lighting, noise }));
    const anchors = scene.anchors[0];
    const gain = lightingGain(lighting);
    const description = describeIndividual(ind);
    for (const [name, [x, y]] of Object.entries(anchors)) {
      const expected = expectedColor(ind, name);
      const o = (y * IMAGE_SIZE + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const want = Math.min(255, expected[ch] * gain[ch]);
        assert.ok(Math.abs(scene.pixels[o + ch] - want) <= noise + 1, `${kind} ${name} at (${x},${y}): got ${scene.pixels.slice(o, o + 3)} want ${expected}`);
      }
      // The same colour is in the words.
      if (name !== 'skin' && name !== 'mark') assert.ok(description.includes(ind.attributes[name]), `${description} lacks ${ind.attributes[name]}`);
      assert.equal(scene.owner[y * IMAGE_SIZE + x], 0, `${kind} anchor ${name} is not on the individual`);
      checked++;
    }
  }
  assert.ok(checked > 300);
});

test('changing one colour attribute changes exactly that anchor colour', () => {
  const rng = new Rng(6);
  const ind = randomIndividual(rng, 'person');
  for (const shirt of KIND_SCHEMAS.person.find((a) => a.name === 'shirtColor')!.values) {
    const scene = renderScene(alone(withAttribute(ind, 'shirtColor', shirt)));
    const [x, y] = scene.anchors[0].shirtColor;
    const o = (y * IMAGE_SIZE + x) * 3;
    assert.deepEqual([...scene.pixels.slice(o, o + 3)], [...PALETTE[shirt as keyof typeof PALETTE]]);
  }
});

test('mirrored scenes flip pixels, boxes and left/right words', () => {
  let swapped = 0;
  for (let seed = 0; seed < 30; seed++) {
    const spec = randomScene(seed + 50);
    const a = renderScene(spec);
    const b = renderScene(mirrorScene(spec));
    for (let y = 0; y < IMAGE_SIZE; y++) {
      for (let x = 0; x < IMAGE_SIZE; x++) {
        const i = (y * IMAGE_SIZE + x) * 3;
        const j = (y * IMAGE_SIZE + (IMAGE_SIZE - 1 - x)) * 3;
        assert.deepEqual([...a.pixels.slice(i, i + 3)], [...b.pixels.slice(j, j + 3)]);
      }
    }
    a.description.entities.forEach((e, k) => {
      const m = b.description.entities[k];
      assert.deepEqual(m.bbox, [IMAGE_SIZE - e.bbox[0] - e.bbox[2], e.bbox[1], e.bbox[2], e.bbox[3]]);
      assert.equal(m.mirrored, !e.mirrored);
      const flip = { left: 'right', right: 'left', center: 'center' } as const;
      assert.equal(m.position, flip[e.position]);
      if (e.position !== 'center') swapped++;
      assert.equal(m.occlusion, e.occlusion);
    });
  }
  assert.ok(swapped > 10);
});

test('occlusion fraction is the share of an individual’s pixels hidden by what stands in front', () => {
  const rng = new Rng(8);
  let occluded = 0;
  for (let t = 0; t < 40; t++) {
    const ind = randomIndividual(rng, rng.pick(KINDS));
    const spec = composeScene(rng, [ind], { occlude: 0, maxProps: 0 });
    const withFront = renderScene(spec);
    const without = renderScene({ ...spec, props: spec.props.filter((p) => !p.front) });
    assert.equal(without.description.entities[0].occlusion, 0);
    const count = (owner: Int16Array) => owner.reduce((n, o) => n + (o === 0 ? 1 : 0), 0);
    const expected = 1 - count(withFront.owner) / count(without.owner);
    const got = withFront.description.entities[0].occlusion;
    assert.ok(Math.abs(got - expected) < 1e-9, `${got} vs ${expected}`);
    assert.ok(got > 0 && got < 0.7, `occlusion ${got}`);
    if (got >= 0.1 && got <= 0.45) occluded++;
    // The box still covers the whole individual, hidden parts included.
    assert.deepEqual(withFront.description.entities[0].bbox, without.description.entities[0].bbox);
  }
  assert.ok(occluded >= 32, `${occluded}/40 in the requested range`);
});

test('bounding boxes hold every visible pixel of their individual; positions follow box centres', () => {
  for (let seed = 0; seed < 40; seed++) {
    const scene = renderScene(randomScene(seed + 200));
    scene.description.entities.forEach((e, k) => {
      const [x0, y0, w, h] = e.bbox;
      for (let i = 0; i < scene.owner.length; i++) {
        if (scene.owner[i] !== k) continue;
        const x = i % IMAGE_SIZE;
        const y = Math.floor(i / IMAGE_SIZE);
        assert.ok(x >= x0 && x < x0 + w && y >= y0 && y < y0 + h);
      }
      const cx = x0 + w / 2;
      assert.equal(e.position, cx < IMAGE_SIZE / 3 ? 'left' : cx >= (2 * IMAGE_SIZE) / 3 ? 'right' : 'center');
      assert.equal(e.description, describeIndividual({ kind: e.kind, attributes: e.attributes }));
    });
  }
});
