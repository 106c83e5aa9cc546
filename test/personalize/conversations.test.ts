/** generateConversations on a real (tiny, random) checkpoint: the mechanics, not the words. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { buildConceptData } from '../../src/personalize/conceptData.ts';
import { generateConversations, withIdentifier, withStandIn, type ConversationModel, type ConversationProgress } from '../../src/personalize/conversations.ts';
import { PERSON_CONVERSATION_QUESTIONS, SUBJECT_CONVERSATION_QUESTIONS } from '../../src/personalize/recognitionTemplates.ts';
import { makeTinyCheckpoint } from '../helpers/tinyCheckpoint.ts';

test('the stand-in for the subject, and the identifier put back', () => {
  assert.equal(withStandIn('What color is <sks>?', 'subject'), 'What color is this subject?');
  assert.equal(withStandIn("<sks>'s fur. Is <sks> soft? And <sks>", 'subject'), "This subject's fur. Is this subject soft? And this subject");
  assert.equal(withStandIn("What color is <sks>'s hair?", 'person'), "What color is Riley's hair?");
  assert.equal(
    withIdentifier("This subject is a dog. The subject of the photo has fur; this subject's tail is long, unlike the subjects.", 'subject', '<bo>'),
    "<bo> is a dog. <bo> has fur; <bo>'s tail is long, unlike the subjects.",
  );
  assert.equal(withIdentifier("Riley has short hair. The person in the image wears glasses; Riley's eyes are brown.", 'person', '<anna>'), "<anna> has short hair. <anna> wears glasses; <anna>'s eyes are brown.");
  assert.equal(withIdentifier('Riley is here.', 'subject', '<bo>'), 'Riley is here.', 'each kind replaces its own stand-in only');
});

test('a real checkpoint answers every question about every photo; progress and <name> substitution', async (t) => {
  const { dir, photos } = await makeTinyCheckpoint(t, { photos: 2 });
  const vlm = await VisionLanguageModel.load(dir);
  const progress: ConversationProgress[] = [];
  const prompts: string[] = [];
  const spy: ConversationModel = {
    prompt: (turns, options) => { prompts.push(turns[0]!.user); return vlm.prompt(turns, options); },
    imageFeatures: (image, options) => vlm.imageFeatures(image, options),
    generate: (prompt, images, options) => {
      assert.deepEqual(options?.stopStrings, ['\n\n']);
      assert.ok(!options?.temperature, 'greedy');
      assert.equal(images.length, 1);
      return vlm.generate(prompt, images, options);
    },
  };
  const pairs = await generateConversations(spy, photos, { subjectKind: 'subject', maxNewTokens: 6, onProgress: (p) => progress.push(p) });

  assert.equal(progress.length, 20);
  assert.deepEqual(progress.map((p) => p.done), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.ok(progress.every((p) => p.total === 20));
  assert.equal(pairs.length, progress.filter((p) => !p.skipped).length);
  assert.ok(pairs.length > 0);
  assert.deepEqual(prompts.slice(0, 10), SUBJECT_CONVERSATION_QUESTIONS.map((q) => withStandIn(q, 'subject')));
  assert.ok(prompts.every((p) => !p.includes('<sks>') && /this subject/i.test(p)));
  assert.deepEqual(new Set(pairs.map((p) => p.question)), new Set(SUBJECT_CONVERSATION_QUESTIONS));
  assert.ok(pairs.every((p) => p.answer.trim() === p.answer && p.answer.length > 0 && photos.includes(p.sourceImage!)));
  assert.deepEqual(pairs.filter((p) => p.sourceImage === photos[1]).map((p) => p.question), progress.filter((p) => p.photo === photos[1] && !p.skipped).map((p) => p.question));

  // Greedy: the same photos give the same pairs; buildConceptData trains them without the photo.
  const again = await generateConversations(vlm, photos, { subjectKind: 'subject', maxNewTokens: 6, identifier: '<bo>' });
  assert.deepEqual(again.map((p) => p.answer), pairs.map((p) => p.answer));
  assert.ok(again.every((p) => p.question.includes('<bo>')));
  const data = buildConceptData({ name: 'bo', positives: photos, conversations: pairs });
  assert.equal(data.summary.conversations, pairs.length);
  assert.ok(data.samples.filter((s) => s.kind === 'conversation').every((s) => s.image === null && s.question.includes('<bo>')));
});

test('person questions use the stand-in name; an abort stops between generations', async (t) => {
  const { dir, photos } = await makeTinyCheckpoint(t, { photos: 1 });
  const vlm = await VisionLanguageModel.load(dir);
  const controller = new AbortController();
  const progress: number[] = [];
  const prompts: string[] = [];
  const spy: ConversationModel = {
    prompt: (turns, options) => { prompts.push(turns[0]!.user); return vlm.prompt(turns, options); },
    imageFeatures: (image) => vlm.imageFeatures(image),
    generate: (prompt, images, options) => vlm.generate(prompt, images, options),
  };
  await assert.rejects(
    generateConversations(spy, photos, {
      subjectKind: 'person', maxNewTokens: 3, signal: controller.signal,
      onProgress: ({ done }) => { progress.push(done); if (done === 3) controller.abort(new Error('stopped by the user')); },
    }),
    /stopped by the user/,
  );
  assert.deepEqual(progress, [1, 2, 3]);
  assert.deepEqual(prompts, PERSON_CONVERSATION_QUESTIONS.slice(0, 3).map((q) => q.replace('<sks>', 'Riley')));
  await assert.rejects(generateConversations(vlm, photos, { subjectKind: 'person', signal: AbortSignal.abort() }), { name: 'AbortError' });
});

test('answers cut by the token limit end at their last sentence; empty answers give no pair', async () => {
  const replies = [
    { text: 'This subject is brown. The subject has a long', stoppedBy: 'max-tokens' },
    { text: '', stoppedBy: 'stop-token' },
    { text: 'The subject of the image is small', stoppedBy: 'max-tokens' },
  ] as const;
  let call = 0;
  const fake: ConversationModel = {
    prompt: (turns) => turns[0]!.user,
    imageFeatures: async () => new Float32Array(1),
    generate: async () => ({ ...replies[call++]!, ids: [], logits: [], promptTokens: 0 }),
  };
  const progress: ConversationProgress[] = [];
  const pairs = await generateConversations(fake, ['p.png'], {
    subjectKind: 'subject', identifier: '<bo>', questions: ['What is <sks>?', 'Q2 <sks>?', 'Q3 <sks>?'], onProgress: (p) => progress.push(p),
  });
  assert.deepEqual(pairs, [
    { question: 'What is <bo>?', answer: '<bo> is brown.', sourceImage: 'p.png' },
    { question: 'Q3 <bo>?', answer: '<bo> is small', sourceImage: 'p.png' },
  ]);
  assert.deepEqual(progress.map((p) => p.skipped), [false, true, false]);
});
