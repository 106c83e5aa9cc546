import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Tokenizer } from '../../src/models/Tokenizer.ts';
import {
  expandImageTokens,
  LLAVA_V1_SYSTEM_PROMPT,
  llavaV1GenerationPrompt,
  llavaV1TrainingPrompt,
  maskTokensInSpans,
  personalizationPrefix,
  PromptError,
  renderChatTemplate,
  type ChatMessage,
} from '../../src/models/prompts.ts';
import { CHATML_FIXTURE_CHAT_TEMPLATE, FIXTURES_DIR, LLAVA_FIXTURE_CHAT_TEMPLATE } from './fixtures/makeTokenizers.ts';

const SYSTEM =
  "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";
const CONCEPT = ['<bo>', ...Array.from({ length: 16 }, (_, i) => `<bo_${i}>`)];
const PERSONALIZATION = personalizationPrefix(CONCEPT[0]!, CONCEPT.slice(1));

test('llava_v1 system prompt is conv_llava_v1 word for word', () => {
  assert.equal(LLAVA_V1_SYSTEM_PROMPT, SYSTEM);
});

test('llava_v1 generation prompt: image, question, open assistant turn', () => {
  assert.equal(
    llavaV1GenerationPrompt([{ user: 'What is in the photo?' }], { image: true }),
    `${SYSTEM} USER: <image>\nWhat is in the photo? ASSISTANT:`,
  );
  // Text-only: no "<image>\n".
  assert.equal(llavaV1GenerationPrompt([{ user: 'Hi' }], { image: false }), `${SYSTEM} USER: Hi ASSISTANT:`);
});

test("llava_v1 with Yo'LLaVA's personalization right after the image", () => {
  assert.equal(PERSONALIZATION, '<bo> is <bo_0><bo_1><bo_2><bo_3><bo_4><bo_5><bo_6><bo_7><bo_8><bo_9><bo_10><bo_11><bo_12><bo_13><bo_14><bo_15>.');
  const question = 'Can you see if <bo> is in this photo? Answer with a single word or phrase.';
  assert.equal(
    llavaV1GenerationPrompt([{ user: question }], { image: true, personalization: PERSONALIZATION }),
    `${SYSTEM} USER: <image>\n${PERSONALIZATION} ${question} ASSISTANT:`,
  );
  assert.equal(
    llavaV1GenerationPrompt([{ user: 'What color is <bo>?' }], { image: false, personalization: PERSONALIZATION }),
    `${SYSTEM} USER: ${PERSONALIZATION} What color is <bo>? ASSISTANT:`,
  );
});

test('llava_v1 multi-turn: sep " " after user turns, "</s>" after answers', () => {
  const turns = [{ user: 'Q1', assistant: 'A1' }, { user: 'Q2', assistant: 'A2' }, { user: 'Q3' }];
  assert.equal(
    llavaV1GenerationPrompt(turns, { image: true, system: 'S' }),
    'S USER: <image>\nQ1 ASSISTANT: A1</s>USER: Q2 ASSISTANT: A2</s>USER: Q3 ASSISTANT:',
  );
});

test('llava_v1 training prompt: text and answer spans including "</s>"', () => {
  const sample = llavaV1TrainingPrompt(
    [{ user: 'Is <bo> in this photo?', assistant: 'Yes, <bo> is in the photo.' }, { user: 'Sure?', assistant: 'Yes' }],
    { image: true, personalization: PERSONALIZATION },
  );
  assert.equal(
    sample.text,
    `${SYSTEM} USER: <image>\n${PERSONALIZATION} Is <bo> in this photo? ASSISTANT: Yes, <bo> is in the photo.</s>USER: Sure? ASSISTANT: Yes</s>`,
  );
  assert.deepEqual(
    sample.answerSpans.map(({ start, end }) => sample.text.slice(start, end)),
    ['Yes, <bo> is in the photo.</s>', 'Yes</s>'],
  );
  // The generation prompt is a prefix of the training text: what the model sees at inference.
  const generation = llavaV1GenerationPrompt([{ user: 'Is <bo> in this photo?' }], { image: true, personalization: PERSONALIZATION });
  assert.ok(sample.text.startsWith(generation));
  assert.equal(sample.text[generation.length], ' ');
});

test('llava_v1: malformed conversations are refused', () => {
  const fails = (fn: () => unknown, pattern: RegExp): void => {
    assert.throws(fn, (error: unknown) => error instanceof PromptError && pattern.test(error.message));
  };
  fails(() => llavaV1GenerationPrompt([], { image: true }), /no turns/);
  fails(() => llavaV1GenerationPrompt([{ user: 'a' }, { user: 'b' }], { image: true }), /turn 0 has no answer/);
  fails(() => llavaV1GenerationPrompt([{ user: 'a', assistant: 'b' }], { image: true }), /must not have an answer/);
  fails(() => llavaV1TrainingPrompt([{ user: 'a', assistant: 'b' }, { user: 'c' }], { image: true }), /turn 1 has no answer/);
  fails(() => llavaV1TrainingPrompt([{ user: 'a', assistant: '' }], { image: true }), /turn 0 has no answer/);
});

test('answer spans give loss labels on the answer tokens and "</s>" only', async () => {
  const tokenizer = await Tokenizer.fromDirectory(join(FIXTURES_DIR, 'llama-tokenizer'));
  tokenizer.addTokens(CONCEPT);
  const sample = llavaV1TrainingPrompt([{ user: 'Is <bo> the cat?', assistant: 'Yes' }], { image: true, personalization: PERSONALIZATION });
  const { ids, offsets } = tokenizer.encodeWithOffsets(sample.text);
  const mask = maskTokensInSpans(offsets, sample.answerSpans);
  const labelled = ids.filter((_, i) => mask[i]).map((id) => tokenizer.idToToken(id));
  // "▁Yes" carries the space before the answer and is counted; BOS and the prompt are not.
  assert.deepEqual(labelled, ['▁Yes', '</s>']);
  assert.equal(mask[0], false);
  const answerWithConcept = llavaV1TrainingPrompt([{ user: 'Who?', assistant: '<bo> is cute' }], { image: false });
  const encoded = tokenizer.encodeWithOffsets(answerWithConcept.text);
  const conceptMask = maskTokensInSpans(encoded.offsets, answerWithConcept.answerSpans);
  // The lone "▁" before an added token is the separator's space: not part of the answer.
  assert.deepEqual(encoded.ids.filter((_, i) => conceptMask[i]).map((id) => tokenizer.idToToken(id)), ['<bo>', '▁is', '▁cute', '</s>']);
});

const llavaConversation: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Is the cat cute?' }] },
  { role: 'assistant', content: [{ type: 'text', text: 'Yes' }] },
  { role: 'user', content: [{ type: 'text', text: 'Sure?' }] },
];

test('chat template (llava-hf style content lists), with and without generation prompt', () => {
  const options = { bosToken: '<s>', eosToken: '</s>' };
  assert.equal(
    renderChatTemplate(LLAVA_FIXTURE_CHAT_TEMPLATE, llavaConversation, { ...options, addGenerationPrompt: true }),
    'You are a helpful assistant. USER: <image>\nIs the cat cute? ASSISTANT: Yes</s>USER: Sure? ASSISTANT:',
  );
  assert.equal(
    renderChatTemplate(LLAVA_FIXTURE_CHAT_TEMPLATE, llavaConversation, options),
    'You are a helpful assistant. USER: <image>\nIs the cat cute? ASSISTANT: Yes</s>USER: Sure? ',
  );
  // Same text as the llava_v1 builder for the same conversation.
  assert.equal(
    renderChatTemplate(LLAVA_FIXTURE_CHAT_TEMPLATE, llavaConversation, { ...options, addGenerationPrompt: true }),
    llavaV1GenerationPrompt([{ user: 'Is the cat cute?', assistant: 'Yes' }, { user: 'Sure?' }], {
      image: true,
      system: 'You are a helpful assistant.',
    }),
  );
});

test('chat template (ChatML), string and list contents; through the tokenizer', async () => {
  const messages: ChatMessage[] = [
    { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is this?' }] },
    { role: 'assistant', content: 'A cat.' },
  ];
  const expected =
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' +
    '<|im_start|>user\n<image>\nWhat is this?<|im_end|>\n' +
    '<|im_start|>assistant\nA cat.<|im_end|>\n';
  assert.equal(renderChatTemplate(CHATML_FIXTURE_CHAT_TEMPLATE, messages), expected);
  assert.equal(renderChatTemplate(CHATML_FIXTURE_CHAT_TEMPLATE, messages, { addGenerationPrompt: true }), `${expected}<|im_start|>assistant\n`);
  const qwen2 = await Tokenizer.fromDirectory(join(FIXTURES_DIR, 'qwen2-tokenizer'));
  assert.equal(qwen2.applyChatTemplate(messages, { addGenerationPrompt: true }), `${expected}<|im_start|>assistant\n`);
  const ids = qwen2.encode(qwen2.applyChatTemplate(messages.slice(0, 1), { addGenerationPrompt: true }));
  assert.equal(ids.filter((id) => id === qwen2.tokenToId('<image>')).length, 1);
});

test('chat template: extra variables, errors as PromptError', () => {
  assert.equal(renderChatTemplate('{{ greeting }} {{ messages | length }}', [], { variables: { greeting: 'hi' } }), 'hi 0');
  assert.throws(() => renderChatTemplate('{% if %}', []), PromptError);
  assert.throws(() => renderChatTemplate("{{ raise_exception('bad role') }}", []), (error: unknown) => error instanceof PromptError && /bad role/.test(error.message));
});

test('expandImageTokens repeats each image token by its image count', () => {
  const image = 9;
  assert.deepEqual(expandImageTokens([1, image, 5, 6], image, [3]), [1, image, image, image, 5, 6]);
  assert.deepEqual(expandImageTokens([image, 5, image], image, [2, 1]), [image, image, 5, image]);
  assert.deepEqual(expandImageTokens([1, 2], image, []), [1, 2]);
  assert.equal(expandImageTokens([1, image], image, [576]).length, 577);
});

test('expandImageTokens: an image-count mismatch is an error', () => {
  const image = 9;
  assert.throws(() => expandImageTokens([1, image], image, []), /1 image token\(s\) \(id 9\) but 0 image\(s\)/);
  assert.throws(() => expandImageTokens([1, image, image], image, [576]), /2 image token\(s\).*1 image\(s\)/);
  assert.throws(() => expandImageTokens([1], image, [576]), PromptError);
  assert.throws(() => expandImageTokens([image], image, [0]), /invalid token count/);
});
