/** The pretraining lr schedule, and its ramp after a warm start (fresh optimizer moments). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { learningRate, rewarmedLearningRate } from '../../src/pretrain/trainingState.ts';

test('learning rate: linear warmup, cosine down to a tenth of the peak', () => {
  assert.equal(learningRate(0, 1000, 1e-3, 100), 1e-5);
  assert.equal(learningRate(99, 1000, 1e-3, 100), 1e-3);
  assert.ok(Math.abs(learningRate(1000, 1000, 1e-3, 100) - 1e-4) < 1e-12);
  assert.ok(learningRate(500, 1000, 1e-3, 100) < learningRate(200, 1000, 1e-3, 100));
});

test('a warm start ramps the schedule\'s rate up again over the warmup, from the step it started at', () => {
  const total = 20_000;
  const warmup = 100;
  // A finished 4,700-step run continued to 20,000 steps: the schedule alone jumps to ~0.88 × peak.
  assert.ok(learningRate(4700, total, 5e-4, warmup) > 4e-4);
  const first = rewarmedLearningRate(4700, total, 5e-4, warmup, 4700);
  assert.ok(Math.abs(first - learningRate(4700, total, 5e-4, warmup) / warmup) < 1e-12, `first step ${first}`);
  const half = rewarmedLearningRate(4749, total, 5e-4, warmup, 4700);
  assert.ok(Math.abs(half - learningRate(4749, total, 5e-4, warmup) / 2) < 1e-12);
  assert.equal(rewarmedLearningRate(4799, total, 5e-4, warmup, 4700), learningRate(4799, total, 5e-4, warmup));
  assert.equal(rewarmedLearningRate(9000, total, 5e-4, warmup, 4700), learningRate(9000, total, 5e-4, warmup));
  assert.equal(rewarmedLearningRate(4700, total, 5e-4, warmup, null), learningRate(4700, total, 5e-4, warmup));
});
