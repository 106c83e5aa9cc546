/**
 * VocabularyRows: rows are softmax-weighted mixes of the embedding table, a start token holds
 * nearly all of its row, and the logits' gradient matches finite differences of a loss on the rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsKernels } from '../../src/engine/jsKernels.ts';
import { START_TOKEN_LOGIT, VocabularyRows } from '../../src/personalize/vocabularyRows.ts';

const V = 7, C = 5, count = 3;
const table = { dtype: 'f32' as const, rows: V, cols: C, data: Float32Array.from({ length: V * C }, (_, i) => Math.sin(i * 1.7) + 0.1 * i) };

test('rows are the softmax mixes of the table, and a start token holds nearly all of its row', () => {
  const vocabulary = new VocabularyRows(jsKernels, table, count);
  vocabulary.startFrom([4, 1]);
  const rows = new Float32Array(count * C);
  vocabulary.write(rows);
  for (let c = 0; c < C; c++) {
    const share = Math.exp(START_TOKEN_LOGIT) / (Math.exp(START_TOKEN_LOGIT) + V - 1);
    const others = (total: number, id: number) => (total - table.data[id * C + c]) / (V - 1);
    const column = Array.from({ length: V }, (_, v) => table.data[v * C + c]).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(rows[c] - (share * table.data[4 * C + c] + (1 - share) * others(column, 4))) < 1e-5);
    assert.ok(Math.abs(rows[C + c] - (share * table.data[1 * C + c] + (1 - share) * others(column, 1))) < 1e-5);
    assert.ok(Math.abs(rows[2 * C + c] - column / V) < 1e-5, 'a row past the start tokens is the mean embedding');
  }
  assert.deepEqual(vocabulary.topTokens(1).map((row) => row[0].id).slice(0, 2), [4, 1]);
});

test('the logits gradient matches finite differences', () => {
  const vocabulary = new VocabularyRows(jsKernels, table, count);
  vocabulary.logits.set(Float32Array.from({ length: count * V }, (_, i) => Math.cos(i * 0.9)));
  const weights = Float32Array.from({ length: count * C }, (_, i) => Math.sin(i * 2.3 + 1));
  // loss = Σ weights ⊙ rows²/2, so dRows = weights ⊙ rows
  const loss = () => {
    const rows = new Float32Array(count * C);
    vocabulary.write(rows);
    return { value: rows.reduce((sum, r, i) => sum + 0.5 * weights[i] * r * r, 0), grad: rows.map((r, i) => weights[i] * r) };
  };
  const { grad } = loss();
  const logitGrads = new Float32Array(count * V);
  vocabulary.backward(grad, logitGrads);
  const h = 1e-2;
  for (let i = 0; i < count * V; i++) {
    const saved = vocabulary.logits[i];
    vocabulary.logits[i] = saved + h; const up = loss().value;
    vocabulary.logits[i] = saved - h; const down = loss().value;
    vocabulary.logits[i] = saved;
    const numeric = (up - down) / (2 * h);
    assert.ok(Math.abs(numeric - logitGrads[i]) < 2e-3 * Math.max(1, Math.abs(numeric)), `logit ${i}: ${numeric} vs ${logitGrads[i]}`);
  }
});
