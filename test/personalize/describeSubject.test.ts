/**
 * The description the latent tokens start from: what the base model is asked, how its answer is
 * cut, and how the descriptions of several photos are reduced to one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { describeSubject, describeSubjectFromPhotos, descriptionFromCaption, descriptionPrompt, mostAgreed, wordOverlap } from '../../src/personalize/describeSubject.ts';
import { DEFAULT_DESCRIBED_PHOTOS, prepareConceptData } from '../../src/personalize/createConcept.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';

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

test('wordOverlap is the F1 of the two texts\' words; mostAgreed keeps the text nearest the others', () => {
  assert.equal(wordOverlap('a brown cat', 'A brown cat.'), 1);
  assert.equal(wordOverlap('a brown cat', 'a gray dog'), 2 / 6);
  assert.equal(wordOverlap('', 'a cat'), 0);
  assert.equal(wordOverlap('a a cat', 'a cat'), 0.8, 'words count as often as they occur');
  // One photo misread as another kind of thing: the description the others agree with wins.
  const described = ['a slim brown rabbit with blue eyes', 'a wide brown bottle with a blue cap', 'a wide brown bottle with a red cap', 'a wide gray bottle with a blue cap'];
  assert.equal(mostAgreed(described), 'a wide brown bottle with a blue cap');
  assert.equal(mostAgreed(['one', 'two']), 'one', 'a tie: the first');
  assert.throws(() => mostAgreed([]), /at least one/);
});

test('describeSubjectFromPhotos decodes one description jointly over the photos', async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 4 });
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const alone = await describeSubject(vlm, tiny.photos[0]!, { maxNewTokens: 6 });
  assert.equal(await describeSubjectFromPhotos(vlm, tiny.photos.slice(0, 1), { maxNewTokens: 6 }), alone, 'one photo: its own description');
  assert.equal(await describeSubjectFromPhotos(vlm, [tiny.photos[0]!, tiny.photos[0]!, tiny.photos[0]!], { maxNewTokens: 6 }), alone, 'the same photo thrice: the same words');
  const prompt = vlm.prompt([{ user: descriptionPrompt('subject') }], { image: true });
  const imageSets = [];
  for (const photo of tiny.photos) imageSets.push([await vlm.imageFeatures(photo)]);
  const joint = await vlm.generateJointly(prompt, imageSets, { maxNewTokens: 6, stopStrings: ['\n'] });
  assert.equal(await describeSubjectFromPhotos(vlm, tiny.photos, { maxNewTokens: 6 }), descriptionFromCaption(joint.text));
  await assert.rejects(describeSubjectFromPhotos(vlm, []), /at least one photo/);
});

test('prepareConceptData starts from the joint description of DEFAULT_DESCRIBED_PHOTOS photos, or the first photo\'s with describedPhotos 1', async (t) => {
  const tiny = await makeTinyCheckpoint(t, { photos: 3 });
  const vlm = await VisionLanguageModel.load(tiny.dir);
  // The photos in an order where the first one's description is not the joint one.
  const orders = tiny.photos.map((_, r) => [...tiny.photos.slice(r), ...tiny.photos.slice(0, r)]);
  let photos: string[] | undefined;
  let joint = '';
  for (const order of orders) {
    joint = await describeSubjectFromPhotos(vlm, order);
    if (joint !== await describeSubject(vlm, order[0]!)) { photos = order; break; }
  }
  assert.ok(photos, 'in some order the first photo\'s description is not the joint one');
  const stored = (text: string) => text.replace(/\s+/g, ' ').trim(); // as ConceptData keeps a description: one line
  assert.ok(DEFAULT_DESCRIBED_PHOTOS >= photos.length, 'the default describes all 3 photos');
  const byDefault = await prepareConceptData(vlm, { name: 'bo', photos, conversations: false });
  assert.equal(byDefault.description, stored(joint));
  const first = await prepareConceptData(vlm, { name: 'bo', photos, conversations: false, describedPhotos: 1 });
  assert.equal(first.description, stored(await describeSubject(vlm, photos[0]!)));
});
