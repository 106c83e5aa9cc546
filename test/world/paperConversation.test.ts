/**
 * The paper's conversation questions answered from ground truth: asked exactly as yollava's data
 * builder asks them, answered in sentences that name the stand-in (so that the builder puts the
 * concept's identifier in), true to the individual's attributes, and in the corpus only when asked for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withIdentifier, withStandIn } from '../../src/personalize/conversations.ts';
import { PERSON_CONVERSATION_QUESTIONS, SUBJECT_CONVERSATION_QUESTIONS } from '../../src/personalize/recognitionTemplates.ts';
import { buildInstructionCorpus, CORPUS_TASKS, describeIndividual, entityIndividual, KINDS, renderScene, typeNoun, unknownWords } from '../../src/world/index.ts';
import { randomIndividual } from '../../src/world/individuals.ts';
import { paperConversationTurns } from '../../src/world/paperConversation.ts';
import { Rng } from '../../src/world/Rng.ts';

test('every kind: the 10 questions as the data builder asks them, each answer naming the stand-in', () => {
  const rng = Rng.from('paper-conversation-test', 1);
  for (const kind of KINDS) {
    for (let n = 0; n < 30; n++) {
      const ind = randomIndividual(rng, kind);
      const person = kind === 'person';
      const subjectKind = person ? 'person' : 'subject';
      const turns = paperConversationTurns(ind);
      const questions = person ? PERSON_CONVERSATION_QUESTIONS : SUBJECT_CONVERSATION_QUESTIONS;
      assert.deepEqual(turns.map((t) => t.user), questions.map((q) => withStandIn(q, subjectKind)));
      for (const { user, assistant } of turns) {
        const stored = withIdentifier(assistant, subjectKind, '<bo>');
        assert.ok(stored.includes('<bo>'), `${kind}: "${user}" → "${assistant}" does not name the subject`);
        assert.doesNotMatch(stored, person ? /Riley/ : /this subject/i);
        assert.deepEqual(unknownWords(`${user} ${assistant}`), [], assistant);
      }
      const answer = (i: number) => turns[i]!.assistant;
      const a = ind.attributes;
      if (person) {
        assert.match(answer(3), new RegExp(`\\b${a.hairColor} hair\\b`));
        assert.match(answer(6), new RegExp(`\\b${a.skin} skin\\b`));
        assert.match(answer(1), new RegExp(`\\b${a.height}\\b`));
        assert.equal(answer(0).startsWith('Yes'), a.glasses !== 'none' || a.scarf !== 'none', answer(0));
        assert.match(answer(5), new RegExp(`\\b${a.shirtColor}\\b`));
      } else {
        assert.equal(answer(4), `This subject is ${/^[aeiou]/.test(typeNoun(ind)) ? 'an' : 'a'} ${typeNoun(ind)}.`);
        assert.equal(answer(7), `This subject is ${describeIndividual(ind)}.`);
        const mainColor = { pet: a.furColor, landmark: a.wallColor, object: a.color, character: a.color }[kind as 'pet'];
        assert.match(answer(1), new RegExp(`^This subject is ${mainColor}\\b`));
        const patterned = (a.pattern ?? a.wallPattern) !== 'plain' || (a.mark ?? 'none') !== 'none' || (a.symbol ?? 'none') !== 'none' || (a.flag ?? 'none') !== 'none';
        assert.equal(answer(5).startsWith('Yes'), patterned, `${describeIndividual(ind)}: ${answer(5)}`);
      }
    }
  }
});

test('the corpus task: off by default, and when asked for, 1–3 of the questions about the one individual in the picture', () => {
  const byDefault = [...buildInstructionCorpus({ seed: 4, count: 600 })];
  assert.ok(byDefault.every((s) => s.task !== 'paper_conversation'));
  const only = [...buildInstructionCorpus({ seed: 4, count: 60, mix: Object.fromEntries(CORPUS_TASKS.map((t) => [t, t === 'paper_conversation' ? 1 : 0])) })];
  for (const s of only) {
    assert.equal(s.task, 'paper_conversation');
    assert.ok(s.turns.length >= 1 && s.turns.length <= 3);
    const scene = renderScene(s.image!).description;
    assert.equal(scene.entities.length, 1);
    const entity = scene.entities[0]!;
    const expected = paperConversationTurns(entityIndividual(entity));
    for (const turn of s.turns) assert.ok(expected.some((t) => t.user === turn.user && t.assistant === turn.assistant), turn.user);
  }
});
