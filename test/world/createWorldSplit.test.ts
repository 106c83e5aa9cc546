import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attributeDistance,
  BENCHMARK_KIND_COUNTS,
  createWorldSplit,
  heldOutShare,
  isHeldOut,
  KINDS,
  lookAlikes,
  randomLookAlike,
  randomTrainingIndividual,
  Rng,
} from '../../src/world/index.ts';

test('a split has the paper’s 40 subjects with unique names, far apart within a kind', () => {
  const split = createWorldSplit(0);
  assert.equal(split.subjects.length, 40);
  for (const kind of KINDS) {
    const ofKind = split.subjects.filter((s) => s.individual.kind === kind);
    assert.equal(ofKind.length, BENCHMARK_KIND_COUNTS[kind]);
    for (let i = 0; i < ofKind.length; i++) {
      for (let j = i + 1; j < ofKind.length; j++) assert.ok(attributeDistance(ofKind[i].individual, ofKind[j].individual) >= 3);
    }
  }
  assert.equal(new Set(split.subjects.map((s) => s.name)).size, 40);
  for (const s of split.subjects) assert.match(s.name, /^[a-z]+$/);
});

test('same seed, same subjects; different seeds, different subjects', () => {
  const a = createWorldSplit(5);
  assert.deepEqual(a.subjects, createWorldSplit(5).subjects);
  const b = createWorldSplit(6);
  const keys = (s: typeof a) => new Set(s.subjects.map((x) => JSON.stringify(x.individual)));
  const shared = [...keys(a)].filter((k) => keys(b).has(k));
  assert.ok(shared.length < 3, `${shared.length} subjects shared`);
});

test('subjects and all their 1- and 2-attribute look-alikes are held out; farther ones are not', () => {
  const split = createWorldSplit(0);
  for (const s of split.subjects) {
    assert.ok(split.isHeldOut(s.individual));
    assert.ok(isHeldOut(s.individual, 0));
    for (const l of lookAlikes(s.individual, 1)) assert.ok(split.isHeldOut(l));
    for (const l of lookAlikes(s.individual, 2).slice(0, 50)) assert.ok(split.isHeldOut(l));
  }
  const rng = new Rng(1);
  let free = 0;
  for (let i = 0; i < 200; i++) {
    const s = rng.pick(split.subjects);
    const far = randomLookAlike(rng, s.individual, 4);
    const nearest = Math.min(...split.subjects.map((t) => attributeDistance(t.individual, far)));
    assert.equal(split.isHeldOut(far), nearest <= 2);
    if (!split.isHeldOut(far)) free++;
  }
  assert.ok(free > 100);
  const share = heldOutShare(split);
  for (const kind of KINDS) assert.ok(share[kind] > 0 && share[kind] < 0.35, `${kind} ${share[kind]}`);
});

test('training individuals never come from the held-out set', () => {
  const split = createWorldSplit(0);
  const rng = new Rng(2);
  for (let i = 0; i < 2000; i++) assert.ok(!split.isHeldOut(randomTrainingIndividual(rng, rng.pick(KINDS), [split])));
});
