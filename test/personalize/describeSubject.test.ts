/** The description the latent tokens start from: what the base model is asked, and how its answer is cut. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { descriptionFromCaption, descriptionPrompt } from '../../src/personalize/describeSubject.ts';

test('the question asks about the subject (a caption would describe the scene too)', () => {
  assert.equal(descriptionPrompt('person'), 'What does this person look like?');
  assert.equal(descriptionPrompt('subject'), 'What does this subject look like?');
});

test('an answer is cut to what can follow "<bo> is"', () => {
  assert.equal(descriptionFromCaption('A chubby brown cat with blue eyes and a red collar.'), 'a chubby brown cat with blue eyes and a red collar');
  assert.equal(descriptionFromCaption('This is a tall man with short gray hair.'), 'a tall man with short gray hair');
  assert.equal(descriptionFromCaption('The image shows a small dog on a sofa.\nIt looks happy.'), 'a small dog on a sofa');
  assert.equal(descriptionFromCaption('The subject is an old red bicycle!'), 'an old red bicycle');
  assert.equal(descriptionFromCaption('Blue.'), 'Blue', 'no article: left as it is');
  assert.equal(descriptionFromCaption('   '), '');
});
