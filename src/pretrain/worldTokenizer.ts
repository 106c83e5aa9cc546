/**
 * The base model's tokenizer: BPE trained on the texts it will read and say — llava_v1 prompts
 * of the world's instruction corpus, every word of WORLD_VOCABULARY, the personalization
 * product's recognition templates and conversation questions (so that a concept's training
 * prompts tokenize into whole words too), and the llava_v1 system prompt.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LLAVA_V1_SYSTEM_PROMPT, llavaV1TrainingPrompt } from '../models/prompts.ts';
import {
  NEGATIVE_RECOGNITION_TEMPLATES,
  PERSON_CONVERSATION_QUESTIONS,
  POSITIVE_RECOGNITION_TEMPLATES,
  RECOGNITION_EVAL_PROMPT,
  SUBJECT_CONVERSATION_QUESTIONS,
  TRAINING_CHECK_PROMPT,
} from '../personalize/recognitionTemplates.ts';
import { buildInstructionCorpus, WORLD_VOCABULARY } from '../world/index.ts';
import { bpeVocabSize, llamaTokenizerFiles, trainBpe, type TrainedBpe } from './trainBpeTokenizer.ts';

export interface WorldTokenizerOptions {
  readonly vocabSize: number;
  readonly seed: number;
  /** Corpus samples whose prompts are part of the training text. Default 6000. */
  readonly corpusSamples?: number;
}

/** Texts and their weights for BPE training. */
export function worldTokenizerTexts(options: WorldTokenizerOptions): { texts: string[]; weights: number[] } {
  const texts: string[] = [];
  const weights: number[] = [];
  const push = (text: string, weight: number): void => { texts.push(text); weights.push(weight); };
  for (const sample of buildInstructionCorpus({ seed: options.seed, count: options.corpusSamples ?? 6000 })) {
    push(llavaV1TrainingPrompt(sample.turns, { image: sample.image !== undefined }).text, 1);
  }
  // Every word at least a few times, as a sentence start and inside a sentence.
  for (const word of WORLD_VOCABULARY) push(`${word} a ${word}`, 3);
  for (const t of [...POSITIVE_RECOGNITION_TEMPLATES, ...NEGATIVE_RECOGNITION_TEMPLATES]) push(`${t.question} ${t.answer}`, 5);
  for (const q of [...PERSON_CONVERSATION_QUESTIONS, ...SUBJECT_CONVERSATION_QUESTIONS, RECOGNITION_EVAL_PROMPT, TRAINING_CHECK_PROMPT]) push(q, 5);
  push(LLAVA_V1_SYSTEM_PROMPT, 50);
  return { texts, weights };
}

export function trainWorldTokenizer(options: WorldTokenizerOptions): TrainedBpe {
  const { texts, weights } = worldTokenizerTexts(options);
  return trainBpe(texts, { vocabSize: options.vocabSize }, weights);
}

/** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir`. */
export function writeTokenizerFiles(bpe: TrainedBpe, dir: string): void {
  const { tokenizerJson, tokenizerConfig } = llamaTokenizerFiles(bpe);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson, null, 1) + '\n');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
  writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' }, null, 2) + '\n');
}

export { bpeVocabSize };
