/**
 * The world's written-token layout: stage 1's attribute heads land in the rows the layer reads
 * for each (slot, kind), and each row's word is the value that row stands for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WrittenTokens, writtenHeadRows } from '../../src/models/writtenTokens.ts';
import { AttributeHeads } from '../../src/pretrain/stage1Tower.ts';
import { worldWrittenTokensConfig, worldWrittenWords, writtenHeadFromAttributeHeads } from '../../src/pretrain/writtenTokenHead.ts';
import { KIND_SCHEMAS, KINDS } from '../../src/world/index.ts';
import { randomArray } from '../helpers/gradcheck.ts';

function softmax(z: Float32Array): number[] {
  const max = Math.max(...z);
  const e = [...z].map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

test('the world layout: the kinds gate, slot j is each kind\'s j-th attribute, one word per head row', () => {
  const config = worldWrittenTokensConfig();
  assert.equal(config.gateValues, KINDS.length);
  assert.equal(config.groupValues.length, Math.max(...KINDS.map((k) => KIND_SCHEMAS[k].length)));
  const words = worldWrittenWords();
  assert.equal(words.length, writtenHeadRows(config));
  assert.deepEqual(words.slice(0, KINDS.length), [...KINDS]);
  // Slot 0 begins with the first kind's first attribute's values.
  const first = KIND_SCHEMAS[KINDS[0]][0].values;
  assert.deepEqual(words.slice(KINDS.length, KINDS.length + first.length), [...first]);
});

test('stage 1\'s heads in the written layout: the layer\'s probabilities are each head\'s softmax, gate and groups', () => {
  const width = 12;
  const heads = new AttributeHeads(width, 9);
  const { weight, bias } = writtenHeadFromAttributeHeads(heads);
  const config = worldWrittenTokensConfig();
  const rows = writtenHeadRows(config);
  const layer = new WrittenTokens(config, { head: { weight: { dtype: 'f32', rows, cols: width, data: weight }, bias }, table: new Float32Array(rows * width) }, width);
  const x = randomArray(width, 10);
  const { tape } = layer.forward(x, 1, 1);
  const close = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
    assert.equal(a.length, b.length, what);
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  };
  close(tape.probabilities.subarray(0, KINDS.length), softmax(heads.logits('kind', x)), 'kind');
  let offset = KINDS.length;
  config.groupValues.forEach((_, j) => KINDS.forEach((kind) => {
    const attribute = KIND_SCHEMAS[kind][j];
    if (!attribute) return;
    const n = attribute.values.length;
    close(tape.probabilities.subarray(offset, offset + n), softmax(heads.logits(`${kind}.${attribute.name}`, x)), `${kind}.${attribute.name}`);
    offset += n;
  }));
  assert.equal(offset, rows);
});
