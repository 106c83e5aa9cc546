import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attributeDistance,
  describeIndividual,
  differingAttributes,
  hashSeed,
  individualIndex,
  individualKey,
  KIND_SCHEMAS,
  KINDS,
  lookAlikes,
  randomIndividual,
  randomLookAlike,
  Rng,
  validateIndividual,
} from '../../src/world/index.ts';

test('Rng: same seed, same stream; different seeds or labels, different streams', () => {
  const a = Rng.from('x', 1);
  const b = Rng.from('x', 1);
  const sa = Array.from({ length: 20 }, () => a.nextUint32());
  assert.deepEqual(sa, Array.from({ length: 20 }, () => b.nextUint32()));
  const c = Rng.from('x', 2);
  assert.notDeepEqual(sa, Array.from({ length: 20 }, () => c.nextUint32()));
  assert.notEqual(hashSeed('a', 1), hashSeed('a', 2));
  assert.notEqual(hashSeed('ab'), hashSeed('a', 'b'));
  const r = new Rng(9);
  for (let i = 0; i < 1000; i++) {
    const v = r.int(7);
    assert.ok(Number.isInteger(v) && v >= 0 && v < 7);
  }
});

test('attribute distance counts differing attributes; kinds never match', () => {
  const rng = new Rng(1);
  for (const kind of KINDS) {
    const a = randomIndividual(rng, kind);
    validateIndividual(a);
    assert.equal(attributeDistance(a, a), 0);
    for (let d = 1; d <= 3; d++) {
      const b = randomLookAlike(rng, a, d);
      assert.equal(attributeDistance(a, b), d);
      assert.equal(differingAttributes(a, b).length, d);
      assert.notEqual(individualKey(a), individualKey(b));
    }
  }
  assert.equal(attributeDistance(randomIndividual(rng, 'pet'), randomIndividual(rng, 'object')), Infinity);
});

test('lookAlikes enumerates exactly the individuals at a distance', () => {
  const rng = new Rng(2);
  for (const kind of KINDS) {
    const a = randomIndividual(rng, kind);
    const k = KIND_SCHEMAS[kind].map((s) => s.values.length - 1);
    const one = lookAlikes(a, 1);
    const two = lookAlikes(a, 2);
    assert.equal(one.length, k.reduce((s, x) => s + x, 0));
    let pairs = 0;
    for (let i = 0; i < k.length; i++) for (let j = i + 1; j < k.length; j++) pairs += k[i] * k[j];
    assert.equal(two.length, pairs);
    for (const b of one) assert.equal(attributeDistance(a, b), 1);
    for (const b of two) assert.equal(attributeDistance(a, b), 2);
    assert.equal(new Set(two.map(individualIndex)).size, two.length);
  }
});

test('look-alikes always get different descriptions (descriptions name every attribute)', () => {
  const rng = new Rng(3);
  for (const kind of KINDS) {
    for (let t = 0; t < 20; t++) {
      const a = randomIndividual(rng, kind);
      for (const b of lookAlikes(a, 1)) assert.notEqual(describeIndividual(a), describeIndividual(b), `${individualKey(a)} vs ${individualKey(b)}`);
    }
  }
});

test('validateIndividual rejects unknown values and attributes', () => {
  assert.throws(() => validateIndividual({ kind: 'pet', attributes: { ...randomIndividual(new Rng(4), 'pet').attributes, species: 'horse' } }));
  assert.throws(() => validateIndividual({ kind: 'pet', attributes: { ...randomIndividual(new Rng(4), 'pet').attributes, wings: 'two' } }));
});
