import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METHODS, recipeKey, resolveMethods } from '../../src/eval/methods.ts';

test('--methods: ids, groups and aliases, in report order, without repeats', () => {
  assert.deepEqual(resolveMethods('main').map((m) => m.id), ['vanilla', 'text-human', 'text-captions', 'text-summary', 'image-prompt', 'yollava-paper', 'yollava']);
  assert.deepEqual(resolveMethods('yollava,vanilla').map((m) => m.id), ['vanilla', 'yollava']);
  assert.deepEqual(resolveMethods('k16,n5,data-hard-negatives').map((m) => m.id), ['yollava']);
  assert.deepEqual(resolveMethods(['latent-tokens']).map((m) => m.id), ['yollava', 'k0', 'k2', 'k4', 'k8', 'k32']);
  assert.deepEqual(resolveMethods('recipe').map((m) => m.id), ['yollava-paper', 'yollava', 'start-random', 'yollava-text']);
  assert.equal(resolveMethods('all').length, METHODS.length);
  assert.throws(() => resolveMethods('vanila'), /unknown method "vanila" \(methods: vanilla, /);
  assert.throws(() => resolveMethods(' , '), /no methods given/);
});

test('each concept recipe has its own key (its concepts are trained once and shared)', () => {
  const keys = METHODS.filter((m) => m.kind === 'concept').map((m) => recipeKey(m.recipe!));
  assert.equal(new Set(keys).size, keys.length);
  assert.equal(recipeKey(METHODS.find((m) => m.id === 'forgetting')!.recipe!), recipeKey(METHODS.find((m) => m.id === 'yollava')!.recipe!));
  assert.equal(recipeKey(METHODS.find((m) => m.id === 'yollava-text')!.recipe!), 'k16-n5-full-text');
});
