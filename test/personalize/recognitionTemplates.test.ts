/** The paper's recognition templates (verbatim, then with ASCII apostrophes), the conversation questions, the prompts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CONCEPT_PLACEHOLDER, conversationQuestions, fillConcept, NEGATIVE_RECOGNITION_TEMPLATES, PAPER_NEGATIVE_RECOGNITION_TEMPLATES,
  PAPER_POSITIVE_RECOGNITION_TEMPLATES, PERSON_CONVERSATION_QUESTIONS, POSITIVE_RECOGNITION_TEMPLATES, recognitionEvalPrompt,
  straightenQuotes, SUBJECT_CONVERSATION_QUESTIONS, trainingCheckPrompt,
} from '../../src/personalize/recognitionTemplates.ts';
import { repoRoot } from '../helpers/fixtures.ts';

const paper = resolve(repoRoot, '..', 'shared', 'seeds', '000_0a63be13643884d4.txt');

test('30 positive and 30 negative templates, each naming the concept in question and answer', () => {
  for (const templates of [PAPER_POSITIVE_RECOGNITION_TEMPLATES, PAPER_NEGATIVE_RECOGNITION_TEMPLATES, POSITIVE_RECOGNITION_TEMPLATES, NEGATIVE_RECOGNITION_TEMPLATES]) {
    assert.equal(templates.length, 30);
    for (const { question, answer } of templates) {
      assert.ok(question.includes(CONCEPT_PLACEHOLDER), question);
      assert.ok(answer.includes(CONCEPT_PLACEHOLDER), answer);
    }
  }
  assert.equal(POSITIVE_RECOGNITION_TEMPLATES[0]!.question, 'Is <sks> in this photo?');
  assert.equal(NEGATIVE_RECOGNITION_TEMPLATES[29]!.answer, 'No, <sks> is not in this image.');
  for (const { answer } of NEGATIVE_RECOGNITION_TEMPLATES) assert.match(answer, /\bnot?\b|n't/, answer);
  for (const { answer } of POSITIVE_RECOGNITION_TEMPLATES) assert.doesNotMatch(answer, /\bnot?\b|n't/, answer);
});

test('the training templates are the paper\'s with only the apostrophes made ASCII', () => {
  const pairs = [[PAPER_POSITIVE_RECOGNITION_TEMPLATES, POSITIVE_RECOGNITION_TEMPLATES], [PAPER_NEGATIVE_RECOGNITION_TEMPLATES, NEGATIVE_RECOGNITION_TEMPLATES]] as const;
  let curly = 0;
  for (const [verbatim, used] of pairs) {
    verbatim.forEach((template, i) => {
      assert.equal(used[i]!.question, template.question.replaceAll('\u2019', "'"));
      assert.equal(used[i]!.answer, template.answer.replaceAll('\u2019', "'"));
      assert.doesNotMatch(used[i]!.question + used[i]!.answer, /[\u2018\u2019\u201C\u201D]/);
      curly += Number(template.question.includes('\u2019') || template.answer.includes('\u2019'));
    });
  }
  assert.ok(curly > 5, 'the paper tables keep their typographic apostrophes');
  assert.equal(POSITIVE_RECOGNITION_TEMPLATES[26]!.question, "<sks>'s in this photo, right?");
  assert.equal(straightenQuotes('\u201Cit\u2019s\u201D'), '"it\'s"');
});

test('the paper tables are copied verbatim from Appendix F', { skip: !existsSync(paper) && 'the paper text is not beside the checkout' }, () => {
  const lines = new Set(readFileSync(paper, 'utf8').split('\n'));
  for (const templates of [PAPER_POSITIVE_RECOGNITION_TEMPLATES, PAPER_NEGATIVE_RECOGNITION_TEMPLATES]) {
    templates.forEach(({ question, answer }, i) => assert.ok(lines.has(`${i + 1}${question}${answer}`), `row ${i + 1}: ${question} ${answer}`));
  }
});

test('conversation questions: 10 natural questions per list, each naming the concept once', () => {
  assert.equal(conversationQuestions('person'), PERSON_CONVERSATION_QUESTIONS);
  assert.equal(conversationQuestions('subject'), SUBJECT_CONVERSATION_QUESTIONS);
  for (const list of [PERSON_CONVERSATION_QUESTIONS, SUBJECT_CONVERSATION_QUESTIONS]) {
    assert.equal(list.length, 10);
    assert.equal(new Set(list).size, 10);
    for (const question of list) {
      assert.equal(question.split(CONCEPT_PLACEHOLDER).length, 2, question);
      assert.match(question, /^[A-Z].*\?$/);
    }
  }
  assert.equal(fillConcept(SUBJECT_CONVERSATION_QUESTIONS[1]!, '<bo>'), 'What color is <bo>?');
  assert.ok(PERSON_CONVERSATION_QUESTIONS.some((q) => /hair/.test(q)) && PERSON_CONVERSATION_QUESTIONS.some((q) => /glasses/.test(q)));
  assert.ok(SUBJECT_CONVERSATION_QUESTIONS.some((q) => /material/.test(q)) && SUBJECT_CONVERSATION_QUESTIONS.some((q) => /texture/.test(q)));
});

test('recognition prompts with the identifier put in', () => {
  assert.equal(recognitionEvalPrompt('<bo>'), 'Can you see if <bo> is in this photo? Answer with a single word or phrase.');
  assert.equal(trainingCheckPrompt('<bo>'), 'Can you see <bo> in this photo? Answer the question using a single word or phrase.');
  assert.equal(fillConcept('<sks> and <sks>', '<mam>'), '<mam> and <mam>');
});
