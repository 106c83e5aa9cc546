/**
 * The paper's conversation questions (the 10 about a person, the 10 about any other subject)
 * answered from an individual's ground truth, in the form yollava's data builder asks them: the
 * subject named by its stand-in ("Riley", "this subject"), the answer a sentence that names the
 * stand-in again, so that the builder's replacement puts the concept's identifier into it.
 * A base model taught these answers writes true conversation data for a concept; the world's
 * other questions are phrased differently, and the shipped model answered these mostly wrong.
 *
 * Answers about what the world does not draw (texture, material, vibe, a person's eyes and
 * expression) are fixed per type, so they stay consistent and name the type.
 */
import { PERSON_STAND_IN, SUBJECT_STAND_IN, withStandIn } from '../personalize/conversations.ts';
import { PERSON_CONVERSATION_QUESTIONS, SUBJECT_CONVERSATION_QUESTIONS } from '../personalize/recognitionTemplates.ts';
import type { CorpusTurn } from './buildInstructionCorpus.ts';
import { capitalize, describeIndividual, featurePhrases, joinList, symbolColorName, typeNoun, withArticle } from './describeIndividual.ts';
import type { Individual, Kind } from './kindSchemas.ts';

const TEXTURE: Readonly<Record<string, string>> = {
  cat: 'soft', dog: 'soft', rabbit: 'soft',
  tower: 'rough stone', lighthouse: 'smooth', castle: 'rough stone', windmill: 'rough wood', temple: 'smooth stone',
  mug: 'smooth', backpack: 'soft fabric', bottle: 'smooth', 'teddy bear': 'soft', sneaker: 'soft fabric', umbrella: 'smooth fabric',
  robot: 'smooth metal', monster: 'soft', alien: 'smooth',
};

const MATERIAL: Readonly<Record<string, string>> = {
  tower: 'stone', lighthouse: 'stone', castle: 'stone', windmill: 'wood', temple: 'stone',
  mug: 'ceramic', backpack: 'fabric', bottle: 'plastic', 'teddy bear': 'fabric', sneaker: 'fabric', umbrella: 'fabric',
  robot: 'metal',
};

const VIBE: Readonly<Record<string, string>> = {
  cat: 'calm', dog: 'friendly', rabbit: 'gentle',
  tower: 'grand', lighthouse: 'calm', castle: 'grand', windmill: 'calm', temple: 'grand',
  mug: 'friendly', backpack: 'friendly', bottle: 'calm', 'teddy bear': 'gentle', sneaker: 'friendly', umbrella: 'calm',
  robot: 'friendly', monster: 'playful', alien: 'curious',
};

/** An individual of the kinds the subject questions are about (everything but a person). */
type Thing = Individual & { readonly kind: Exclude<Kind, 'person'> };

const SUBJECT = capitalize(SUBJECT_STAND_IN);

/** "stripes", "dots", "spots"; null for plain. */
function patternWord(value: string): string | null {
  return value === 'striped' ? 'stripes' : value === 'dotted' ? 'dots' : value === 'spotted' ? 'spots' : null;
}

/** The individual's colours as a phrase: "brown", "white with a red roof", "blue with a white cap". */
function colorPhrase(ind: Thing): string {
  const a = ind.attributes;
  switch (ind.kind) {
    case 'pet': return a.furColor;
    case 'landmark': return `${a.wallColor} with ${withArticle(`${a.roofColor} roof`)}`;
    case 'object': return `${a.color} with ${featurePhrases(ind).accent}`;
    case 'character': return a.color;
  }
}

function shapeSentence(ind: Thing): string {
  const a = ind.attributes;
  switch (ind.kind) {
    case 'pet': return `${SUBJECT} is ${withArticle(`${a.build} ${a.species}`)}.`;
    case 'landmark': return `${SUBJECT} is ${withArticle(a.type)} with ${a.roofShape === 'dome' ? 'a dome' : withArticle(`${a.roofShape} roof`)}.`;
    case 'object': return `${SUBJECT} is ${withArticle(`${a.shape} ${a.type}`)}.`;
    case 'character': return `${SUBJECT} is ${withArticle(a.type)} with ${featurePhrases(ind).eyes}.`;
  }
}

function sizeSentence(ind: Thing): string {
  const a = ind.attributes;
  switch (ind.kind) {
    case 'pet': return `${SUBJECT} is ${withArticle(`small ${a.build} ${a.species}`)}.`;
    case 'landmark': return `${SUBJECT} is ${withArticle(`large ${a.type}`)}.`;
    case 'object': return `${SUBJECT} is ${withArticle(`small ${a.shape} ${a.type}`)}.`;
    case 'character': return `${SUBJECT} is ${withArticle(`small ${a.type}`)}.`;
  }
}

function markingsSentence(ind: Thing): string {
  const a = ind.attributes;
  const f = featurePhrases(ind);
  const marks = [
    ind.kind === 'landmark' ? '' : patternWord(a.pattern) ?? '',
    ind.kind === 'pet' ? f.mark : '',
    ind.kind === 'landmark' && a.wallPattern === 'striped' ? 'striped walls' : '',
    ind.kind === 'landmark' ? f.flag : '',
    ind.kind === 'object' && a.symbol !== 'none' ? withArticle(`${symbolColorName(ind)} ${a.symbol}`) : '',
  ].filter((m) => m);
  return marks.length ? `Yes, ${SUBJECT_STAND_IN} has ${joinList(marks)}.` : `No, ${SUBJECT_STAND_IN} is plain, with no patterns or markings.`;
}

function subjectAnswers(ind: Thing): string[] {
  const s = SUBJECT;
  const type = typeNoun(ind);
  const features = Object.values(featurePhrases(ind)).filter((f) => f);
  const material = MATERIAL[type];
  return [
    `${s} has a ${TEXTURE[type]} texture.`,
    `${s} is ${colorPhrase(ind)}.`,
    sizeSentence(ind),
    shapeSentence(ind),
    `${s} is ${withArticle(type)}.`,
    markingsSentence(ind),
    `${s} looks ${VIBE[type]}.`,
    `${s} is ${describeIndividual(ind)}.`,
    features.length ? `${s} has ${joinList(features)}.` : `${s} is ${withArticle(type)} with no distinctive features.`,
    material ? `${s} is made of ${material}.` : `${s} is ${withArticle(type)}, not an object.`,
  ];
}

function personAnswers(ind: Individual): string[] {
  const r = PERSON_STAND_IN;
  const a = ind.attributes;
  const f = featurePhrases(ind);
  const accessories = [f.glasses, f.scarf].filter((x) => x);
  const hairStyle = a.hairStyle === 'bun' ? `${r} wears the hair in a bun.` : `${r} has ${a.hairStyle} hair.`;
  return [
    accessories.length ? `Yes, ${r} wears ${joinList(accessories)}.` : `No, ${r} wears no glasses or accessories.`,
    `${r} is ${a.height}.`,
    `${r} is ${a.height} and slim.`,
    `${r} has ${a.hairColor} hair.`,
    hairStyle,
    `${r} is wearing ${joinList([f.glasses, f.scarf, f.shirt, f.bottom].filter((x) => x))}.`,
    `${r} has ${a.skin} skin.`,
    `${r} looks calm and friendly.`,
    `${r} has dark eyes.`,
    a.glasses === 'none' ? `${r} has ${f.hair} and ${f.skin}.` : `${r} wears ${a.glasses} and has ${f.hair}.`,
  ];
}

/** The 10 questions of the individual's list (person or subject) with their answers, in the list's order. */
export function paperConversationTurns(ind: Individual): CorpusTurn[] {
  const person = ind.kind === 'person';
  const questions = person ? PERSON_CONVERSATION_QUESTIONS : SUBJECT_CONVERSATION_QUESTIONS;
  const answers = person ? personAnswers(ind) : subjectAnswers(ind as Thing);
  return questions.map((q, i) => ({ user: withStandIn(q, person ? 'person' : 'subject'), assistant: answers[i]! }));
}
