/**
 * Held-out measurements of the base model, on benchmark subjects and their 1–2-attribute
 * look-alikes (never seen in pretraining), with the product's llava_v1 prompts:
 *
 * - mcq: a two-option question about an attribute of what is in the picture; the answer is
 *   the option letter whose first token scores higher ("A" vs "B").
 * - recognition: "<name> is <true short description>. Can you see if <name> is in this
 *   photo? …" on photos of the subject (yes) and of its one- and two-attribute look-alikes
 *   (no); "Yes" vs "No" first-token scoring; weighted = (positive + negative accuracy) / 2.
 * - textQa: a two-option question answered from a description in the prompt, no picture.
 * - captions: greedy "Describe the image." on single-subject pictures; share of subjects whose
 *   type noun is mentioned, and share of their key attribute values mentioned.
 * - unknownName: recognition of a name the prompt never describes; ≈ 0.5 weighted is right.
 * - recognitionInWords (diagnostic): the recognition items with each photo written as its values
 *   in words, no picture — the comparison without the reading.
 */
import { rocAuc } from '../eval/metrics.ts';
import type { LlavaModel } from '../models/llava.ts';
import { expandImageTokens, firstTokenInSpan, llavaV1GenerationPrompt, llavaV1TrainingPrompt } from '../models/prompts.ts';
import type { Tokenizer } from '../models/Tokenizer.ts';
import {
  attributeAnswer,
  attributeQuestion,
  attributeValueAnswer,
  composeScene,
  createWorldSplit,
  describeIndividual,
  distractorValues,
  entityReferences,
  KIND_SCHEMAS,
  KINDS,
  multipleChoicePrompt,
  randomAttributeCheck,
  randomLookAlike,
  recognitionEvalQuestion,
  renderScene,
  Rng,
  subjectRef,
  typeNoun,
  type Individual,
  type SceneSpec,
  writtenListing,
  type WorldSplit,
} from '../world/index.ts';
import { heldOutIndividual } from './stage1Tower.ts';
import { scenePixelValues } from './worldModelConfig.ts';

export interface EvaluationOptions {
  readonly seed: number;
  /** Items per measurement (recognition: per polarity). Default 200. */
  readonly items?: number;
  /** Pictures captioned (greedy decoding is the slow part). Default 40. */
  readonly captions?: number;
}

export interface RecognitionScore {
  readonly positive: number;
  readonly negative: number;
  readonly weighted: number;
  readonly negativeOneAttribute: number;
  readonly negativeTwoAttributes: number;
  /** Diagnostic, not in `weighted`: "No" on a picture of an individual of another kind — does
   * the answer depend on the picture at all? */
  readonly negativeOtherKind: number;
  /** Diagnostics, threshold-free: ROC AUC of the Yes margin, positives against look-alikes and
   * against other kinds (0.5: the answer ignores the picture). */
  readonly aucLookAlike: number;
  readonly aucOtherKind: number;
}

/** ROC AUC of Yes margins, positives against negatives (both non-empty here). */
function marginAuc(positives: readonly number[], negatives: readonly number[]): number {
  return rocAuc([...positives, ...negatives], [...positives.map(() => true), ...negatives.map(() => false)])!;
}

export interface BaseModelMetrics {
  readonly mcq: number;
  readonly recognition: RecognitionScore;
  readonly textQa: number;
  /** Yes/no checks asked as two options ("A. Yes B. No", either order), from a description, no picture: the benchmark's other text form. */
  readonly textQaYesNo: number;
  readonly captions: { readonly subjectMention: number; readonly attributeMention: number; readonly examples: string[] };
  readonly unknownName: RecognitionScore;
  /** Diagnostic: the recognition items with the photo given as its written words instead ("In the
   * photo: person, woman, red, …", no picture; the corpus's recognition_text form): the
   * comparison alone, without reading the picture. Absent in metrics written before session 27. */
  readonly recognitionInWords?: RecognitionScore;
  readonly items: number;
}

export class BaseModelScorer {
  private readonly tokenA: number;
  private readonly tokenB: number;
  private readonly tokenYes: number;
  private readonly tokenNo: number;

  constructor(readonly model: LlavaModel, readonly tokenizer: Tokenizer) {
    this.tokenA = this.answerToken('A');
    this.tokenB = this.answerToken('B');
    this.tokenYes = this.answerToken('Yes');
    this.tokenNo = this.answerToken('No');
  }

  /** The first token of `answer` as a training sample writes it after "ASSISTANT:". */
  answerToken(answer: string): number {
    const { text, answerSpans } = llavaV1TrainingPrompt([{ user: '?', assistant: answer }], { image: false });
    const { ids, offsets } = this.tokenizer.encodeWithOffsets(text);
    const first = firstTokenInSpan(ids, offsets, answerSpans[0]);
    if (first === null) throw new Error(`the answer "${answer}" has no token of its own`);
    return first;
  }

  features(scene: SceneSpec): Float32Array {
    return this.model.encodeImage(scenePixelValues(renderScene(scene).pixels));
  }

  /** Logits of the first answer token. */
  /** The llava_v1 generation prompt of one question, its image token expanded to the tower's rows. */
  promptIds(question: string, image: boolean): number[] {
    const raw = this.tokenizer.encode(llavaV1GenerationPrompt([{ user: question }], { image }));
    return image ? expandImageTokens(raw, this.model.config.imageTokenId, [this.model.imageTokenCount]) : raw;
  }

  private firstLogits(question: string, image: Float32Array | null): Float32Array {
    const ids = this.promptIds(question, image !== null);
    const cache = this.model.decoder.newCache(ids.length);
    const hidden = this.model.forward({ ids, images: image ? [image] : [] }, cache);
    return this.model.logitsAt(hidden, [ids.length - 1]);
  }

  /** logit(A) − logit(B) of the first answer token: > 0 means the model picks option A. */
  optionMargin(question: string, image: Float32Array | null): number {
    const z = this.firstLogits(question, image);
    return z[this.tokenA] - z[this.tokenB];
  }

  /** True when the model picks option A over B. */
  choosesA(question: string, image: Float32Array | null): boolean {
    return this.optionMargin(question, image) > 0;
  }

  /** logit(Yes) − logit(No) of the first answer token: > 0 means "Yes". */
  yesMargin(question: string, image: Float32Array | null): number {
    const z = this.firstLogits(question, image);
    return z[this.tokenYes] - z[this.tokenNo];
  }

  saysYes(question: string, image: Float32Array | null): boolean {
    return this.yesMargin(question, image) > 0;
  }

  async generate(question: string, image: Float32Array | null, maxNewTokens = 48): Promise<string> {
    const ids = this.promptIds(question, image !== null);
    const result = await this.model.generate({ ids, images: image ? [image] : [] }, { maxNewTokens, stopTokenIds: this.tokenizer.eosTokenIds });
    return this.tokenizer.decode(result.ids, { skipSpecialTokens: true }).trim();
  }
}

function twoOptions(rng: Rng, question: string, correct: string, wrong: string): { prompt: string; correctIsA: boolean } {
  const correctIsA = rng.chance(0.5);
  return { prompt: multipleChoicePrompt(question, correctIsA ? correct : wrong, correctIsA ? wrong : correct), correctIsA };
}

function randomAttributeChoice(rng: Rng, ind: Individual): { attribute: string; correct: string; wrong: string } {
  const attributes = KIND_SCHEMAS[ind.kind].map((a) => a.name).filter((a) => distractorValues(ind, a).length > 0);
  const attribute = rng.pick(attributes);
  return { attribute, correct: attributeAnswer(ind, attribute), wrong: attributeValueAnswer(ind, attribute, rng.pick(distractorValues(ind, attribute))) };
}

const NAMES = ['<sks>', '<tamo>', '<ridu>', '<vexa>'];

/** One item of the held-out recognition measurement: the question and its three scenes. */
export interface RecognitionItem {
  readonly question: string;
  readonly subject: Individual;
  /** Look-alike distance of the second scene: 1 or 2 attributes. */
  readonly distance: 1 | 2;
  /** The subject, a look-alike of it, an individual of another kind. */
  readonly scenes: readonly [SceneSpec, SceneSpec, SceneSpec];
}

/**
 * Item `i` of the recognition measurement (`described`: the prompt gives the subject's true
 * description; else an unknown name). Also what bench/dumpRecognition.ts writes for the GPU
 * reference, so both score exactly the same items.
 */
export function recognitionItem(seed: number, i: number, split: WorldSplit, described: boolean): RecognitionItem {
  const rng = Rng.from(described ? 'pretrain-eval-recognition' : 'pretrain-eval-unknown', seed, i);
  const subject = rng.pick(split.subjects).individual;
  const name = rng.pick(NAMES);
  const prefix = described ? `${name} is ${describeIndividual(subject)}. ` : '';
  const scene = (shown: Individual) => composeScene(rng, [shown], { occlusionChance: 0 });
  const distance = i % 2 === 0 ? 1 : 2;
  const positive = scene(subject);
  const lookAlike = scene(randomLookAlike(rng, subject, distance));
  const otherKind = scene(heldOutIndividual(rng, split, rng.pick(KINDS.filter((k) => k !== subject.kind))));
  return { question: `${prefix}${recognitionEvalQuestion(name)}`, subject, distance, scenes: [positive, lookAlike, otherKind] };
}

/** A recognition item's question with its one-individual photo given as written words instead (the corpus's recognition_text form). */
export function inWordsPrompt(question: string, scene: SceneSpec): string {
  if (scene.entities.length !== 1) throw new Error(`internal: a recognition item shows one individual, not ${scene.entities.length}`);
  return `In the photo: ${writtenListing(scene.entities[0].individual)}. ${question}`;
}

/** A two-option question of the held-out measurement; `correctIsA`: the right answer is "A". */
export interface TwoOptionItem {
  readonly prompt: string;
  readonly correctIsA: boolean;
}

/** Item `i` of the mcq measurement: a question about an attribute of the one individual in `scene`. */
export function mcqItem(seed: number, i: number, split: WorldSplit): TwoOptionItem & { readonly scene: SceneSpec } {
  const rng = Rng.from('pretrain-eval-mcq', seed, i);
  const ind = heldOutIndividual(rng, split);
  const scene = composeScene(rng, [ind], { occlusionChance: 0 });
  const ref = entityReferences(renderScene(scene).description)[0].byKind!;
  const choice = randomAttributeChoice(rng, ind);
  return { ...twoOptions(rng, attributeQuestion(ref, ind, choice.attribute), choice.correct, choice.wrong), scene };
}

/** Item `i` of the text-QA measurement: a two-option question answered from the description in the prompt, no picture. */
export function textQaItem(seed: number, i: number, split: WorldSplit): TwoOptionItem {
  const rng = Rng.from('pretrain-eval-text', seed, i);
  const ind = heldOutIndividual(rng, split);
  const name = rng.pick(NAMES);
  const choice = randomAttributeChoice(rng, ind);
  const { prompt, correctIsA } = twoOptions(rng, attributeQuestion(subjectRef(name), ind, choice.attribute), choice.correct, choice.wrong);
  return { prompt: `${name} is ${describeIndividual(ind)}. ${prompt}`, correctIsA };
}

/** Item `i` of the yes/no text measurement: "Is <name> tall?" with options Yes / No, half of them true, from the description in the prompt. */
export function textQaYesNoItem(seed: number, i: number, split: WorldSplit): TwoOptionItem {
  const rng = Rng.from('pretrain-eval-text-yes-no', seed, i);
  const ind = heldOutIndividual(rng, split);
  const name = rng.pick(NAMES);
  const ref = subjectRef(name);
  // Checks without a natural question are drawn again; every kind has several with one.
  for (let attempt = 0; attempt < 100; attempt++) {
    const check = randomAttributeCheck(rng, ref, ind);
    if (!check) continue;
    const { prompt, correctIsA } = twoOptions(rng, check.question, check.yes ? 'Yes' : 'No', check.yes ? 'No' : 'Yes');
    return { prompt: `${name} is ${describeIndividual(ind)}. ${prompt}`, correctIsA };
  }
  throw new Error(`no yes/no check question for a ${ind.kind}`);
}

export type ScoredMetrics = Omit<BaseModelMetrics, 'captions' | 'recognitionInWords'> & { readonly recognitionInWords: RecognitionScore };

/** The first-token measurements (no generation): synchronous, usable inside a training loop. */
/**
 * Recognition over `items` held-out items (recognitionItem's), each answered by `yesMargin`
 * (logit(Yes) − logit(No) for a question about a picture): the measurement of metrics.json, and
 * of benches that change how a picture reaches the decoder.
 */
export function scoreRecognition(seed: number, items: number, split: WorldSplit, described: boolean, yesMargin: (question: string, scene: SceneSpec) => number): RecognitionScore {
  let pos = 0;
  let neg1 = 0;
  let neg2 = 0;
  let n1 = 0;
  let n2 = 0;
  let negOther = 0;
  const positiveMargins: number[] = [];
  const lookAlikeMargins: number[] = [];
  const otherKindMargins: number[] = [];
  for (let i = 0; i < items; i++) {
    const item = recognitionItem(seed, i, split, described);
    const [positive, lookAlike, otherKind] = item.scenes.map((scene) => yesMargin(item.question, scene));
    positiveMargins.push(positive);
    if (positive > 0) pos++;
    lookAlikeMargins.push(lookAlike);
    const no = lookAlike <= 0;
    if (item.distance === 1) { n1++; neg1 += no ? 1 : 0; } else { n2++; neg2 += no ? 1 : 0; }
    otherKindMargins.push(otherKind);
    if (otherKind <= 0) negOther++;
  }
  const positive = pos / items;
  const negative = (neg1 + neg2) / items;
  return { positive, negative, weighted: (positive + negative) / 2, negativeOneAttribute: neg1 / Math.max(1, n1), negativeTwoAttributes: neg2 / Math.max(1, n2), negativeOtherKind: negOther / items,
    aucLookAlike: marginAuc(positiveMargins, lookAlikeMargins), aucOtherKind: marginAuc(positiveMargins, otherKindMargins) };
}

export function scoreBaseModel(scorer: BaseModelScorer, options: EvaluationOptions): ScoredMetrics {
  const items = options.items ?? 200;
  const split = createWorldSplit(0);
  // Two-option questions about the picture.
  let mcqRight = 0;
  for (let i = 0; i < items; i++) {
    const { prompt, correctIsA, scene } = mcqItem(options.seed, i, split);
    if (scorer.choosesA(prompt, scorer.features(scene)) === correctIsA) mcqRight++;
  }
  const recognition = (described: boolean): RecognitionScore =>
    scoreRecognition(options.seed, items, split, described, (question, scene) => scorer.yesMargin(question, scorer.features(scene)));
  // Text-only questions answered from a description.
  let textRight = 0;
  for (let i = 0; i < items; i++) {
    const { prompt, correctIsA } = textQaItem(options.seed, i, split);
    if (scorer.choosesA(prompt, null) === correctIsA) textRight++;
  }
  let yesNoRight = 0;
  for (let i = 0; i < items; i++) {
    const { prompt, correctIsA } = textQaYesNoItem(options.seed, i, split);
    if (scorer.choosesA(prompt, null) === correctIsA) yesNoRight++;
  }
  const recognitionInWords = scoreRecognition(options.seed, items, split, true, (question, scene) => scorer.yesMargin(inWordsPrompt(question, scene), null));
  return { mcq: mcqRight / items, recognition: recognition(true), textQa: textRight / items, textQaYesNo: yesNoRight / items, unknownName: recognition(false), recognitionInWords, items };
}

/** Greedy captions of single-subject held-out pictures: subject and key attribute mentions. */
export async function measureCaptions(scorer: BaseModelScorer, options: EvaluationOptions): Promise<BaseModelMetrics['captions']> {
  const split = createWorldSplit(0);
  const captionCount = options.captions ?? 40;
  let subjectHits = 0;
  let attributeHits = 0;
  let attributeTotal = 0;
  const examples: string[] = [];
  for (let i = 0; i < captionCount; i++) {
    const rng = Rng.from('pretrain-eval-caption', options.seed, i);
    const ind = heldOutIndividual(rng, split);
    const caption = (await scorer.generate('Describe the image.', scorer.features(composeScene(rng, [ind], { occlusionChance: 0 })))).toLowerCase();
    if (examples.length < 5) examples.push(`${describeIndividual(ind)} → ${caption}`);
    if (caption.includes(typeNoun(ind))) subjectHits++;
    const description = describeIndividual(ind);
    for (const a of KIND_SCHEMAS[ind.kind]) {
      const value = ind.attributes[a.name];
      if (value === 'none' || value === 'plain' || value === typeNoun(ind) || !description.includes(value)) continue;
      attributeTotal++;
      if (caption.includes(value)) attributeHits++;
    }
  }
  return { subjectMention: subjectHits / Math.max(1, captionCount), attributeMention: attributeHits / Math.max(1, attributeTotal), examples };
}

/** Every measurement; `items` per measurement keeps it to ~1–2 minutes for the base model. */
export async function evaluateBaseModel(scorer: BaseModelScorer, options: EvaluationOptions): Promise<ScoredMetrics & Pick<BaseModelMetrics, 'captions'>> {
  const scored = scoreBaseModel(scorer, options);
  return { ...scored, captions: await measureCaptions(scorer, options) };
}
