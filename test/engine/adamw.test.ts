import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW } from '../../src/engine/adamw.ts';

test('AdamW follows PyTorch: two steps computed by hand', () => {
  const value = Float32Array.from([1, -2]);
  const grad = Float32Array.from([0.5, -1]);
  const optimizer = new AdamW([{ name: 'p', value, grad }], { lr: 0.1, weightDecay: 0.01 });
  // torch.optim.AdamW: p ← p(1 − lr·wd); m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²;
  // p ← p − lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + eps)
  const expected = [1, -2];
  const m = [0, 0], v = [0, 0];
  for (let t = 1; t <= 2; t++) {
    optimizer.step();
    for (let i = 0; i < 2; i++) {
      const g = grad[i];
      expected[i] *= 1 - 0.1 * 0.01;
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      expected[i] -= (0.1 / (1 - 0.9 ** t)) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
    }
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(value[i] - expected[i]) < 1e-6, `step ${t}: ${value[i]} vs ${expected[i]}`);
  }
  // The first step moves each coordinate by ≈ lr against its gradient's sign.
  assert.ok(value[0] < 1 && value[1] > -2);
});

test('AdamW minimises a quadratic; no decay where decay is false; state round-trips', () => {
  const target = Float32Array.from([3, -1, 0.5]);
  const value = new Float32Array(3);
  const grad = new Float32Array(3);
  const optimizer = new AdamW([{ name: 'x', value, grad, decay: false }], { lr: 0.05 });
  for (let step = 0; step < 2000; step++) {
    optimizer.zeroGrad();
    for (let i = 0; i < 3; i++) grad[i] = 2 * (value[i] - target[i]);
    optimizer.step();
  }
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(value[i] - target[i]) < 1e-2, `${value[i]} vs ${target[i]}`);
  const copy = new AdamW([{ name: 'x', value: value.slice(), grad, decay: false }], { lr: 0.05 });
  copy.loadState(optimizer.state());
  assert.equal(copy.stepCount, 2000);
  assert.throws(() => new AdamW([{ name: 'y', value: new Float32Array(2), grad: new Float32Array(2) }]).loadState(optimizer.state()), /does not match/);
});

test('AdamW lrScale: a parameter at scale s takes the step (and decay) of the rate times s', () => {
  const grad = Float32Array.from([0.5, -1]);
  const plain = Float32Array.from([1, -2]);
  const scaled = Float32Array.from([1, -2]);
  const reference = Float32Array.from([1, -2]);
  new AdamW([{ name: 'a', value: plain, grad }, { name: 'b', value: scaled, grad, lrScale: 4 }], { lr: 0.01 }).step();
  new AdamW([{ name: 'c', value: reference, grad }], { lr: 0.04 }).step();
  for (let i = 0; i < 2; i++) {
    assert.ok(Math.abs(scaled[i] - reference[i]) < 1e-7, `${scaled[i]} vs ${reference[i]}`);
    assert.ok(Math.abs(Math.abs(scaled[i] - [1, -2][i]) - 4 * Math.abs(plain[i] - [1, -2][i])) < 1e-6);
  }
});
