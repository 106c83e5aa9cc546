import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSeconds } from '../../src/cli/progressLine.ts';

test('formatSeconds: seconds, minutes and hours, rounded once (never "60 s")', () => {
  assert.equal(formatSeconds(null), '–');
  assert.equal(formatSeconds(Number.NaN), '–');
  assert.equal(formatSeconds(4.4), '4 s');
  assert.equal(formatSeconds(59.6), '1 min 0 s');
  assert.equal(formatSeconds(24 * 60 + 59.7), '25 min 0 s');
  assert.equal(formatSeconds(61), '1 min 1 s');
  assert.equal(formatSeconds(2 * 3600 + 5 * 60 + 10), '2 h 5 min');
});
