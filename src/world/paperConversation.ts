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
import { ACCENT_PARTS, capitalize, describeIndividual, featurePhrases, joinList, petMarkColorName, symbolColorName, typeNoun, withArticle } from './describeIndividual.ts';
import type { Individual } from './kindSchemas.ts';

export interface ConversationTurn {
  readonly user: string;
  readonly assistant: string;
}

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

const cap = capitalize;

/** "stripes", "dots", "spots"; null for plain. */
function patternWord(value: string): string | null {
  return value === 'striped' ? 'stripes' : value === 'dotted' ? 'dots' : value === 'spotted' ? 'spots' : null;
}

/** The individual's colours as a phrase: "brown", "white with a red roof", "blue with a white cap". */
function colorPhrase(ind: Individual): string {
  const a = ind.attributes;
  switch (ind.kind) {
    case 'person': return a.shirtColor;
    case 'pet': return a.furColor;
    case 'landmark': return `${a.wallColor} with ${withArticle(`${a.roofColor} roof`)}`;
    case 'object': return `${a.color} with ${withArticle(`${a.accentColor} ${ACCENT_PARTS[a.type]}`)}`;
    case 'character': return a.color;
  }
}

function shapeSentence(ind: Individual, s: string): string {
  const a = ind.attributes;
  switch (ind.kind) {
    case 'person': return `${s} is ${withArticle(`${a.height} ${a.gender}`)}.`;
    case 'pet': return `${s} is ${withArticle(`${a.build} ${a.species}`)}.`;
    case 'landmark': return `${s} is ${withArticle(a.type)} with ${a.roofShape === 'dome' ? 'a dome' : withArticle(`${a.roofShape} roof`)}.`;
    case 'object': return `${s} is ${withArticle(`${a.shape} ${a.type}`)}.`;
    case 'character': return `${s} is ${withArticle(a.type)} with ${a.eyes === 'one' ? 'one eye' : `${a.eyes} eyes`}.`;
  }
}

function sizeSentence(ind: Individual, s: string): string {
  const a = ind.attributes;
  switch (ind.kind) {
    case 'person': return `${s} is ${a.height}.`;
    case 'pet': return `${s} is ${withArticle(`small ${a.build} ${a.species}`)}.`;
    case 'landmark': return `${s} is ${withArticle(`large ${a.type}`)}.`;
    case 'object': return `${s} is ${withArticle(`small ${a.shape} ${a.type}`)}.`;
    case 'character': return `${s} is ${withArticle(`small ${a.type}`)}.`;
  }
}

function markingsSentence(ind: Individual, s: string): string {
  const a = ind.attributes;
  const marks: string[] = [];
  switch (ind.kind) {
    case 'pet': {
      const p = patternWord(a.pattern);
      if (p) marks.push(p);
      if (a.mark === 'chest patch') marks.push(withArticle(`${petMarkColorName(ind)} patch on its chest`));
      if (a.mark === 'tail tip') marks.push(withArticle(`${petMarkColorName(ind)} tail tip`));
      break;
    }
    case 'landmark': {
      if (a.wallPattern === 'striped') marks.push('striped walls');
      if (a.flag !== 'none') marks.push(withArticle(`${a.flag} flag`));
      break;
    }
    case 'object': {
      const p = patternWord(a.pattern);
      if (p) marks.push(p);
      if (a.symbol !== 'none') marks.push(withArticle(`${symbolColorName(ind)} ${a.symbol}`));
      break;
    }
    case 'character': {
      const p = patternWord(a.pattern);
      if (p) marks.push(p);
      break;
    }
    case 'person': {
      const p = patternWord(a.shirtPattern);
      if (p) marks.push(`${p} on the shirt`);
      break;
    }
  }
  // "this subject" inside the sentence; the builder's replacement matches either case.
  return marks.length ? `Yes, ${uncap(s)} has ${joinList(marks)}.` : `No, ${uncap(s)} is plain, with no patterns or markings.`;
}

function uncap(text: string): string {
  return text === PERSON_STAND_IN ? text : text.charAt(0).toLowerCase() + text.slice(1);
}

function subjectAnswers(ind: Individual): string[] {
  const s = cap(SUBJECT_STAND_IN);
  const type = typeNoun(ind);
  const features = Object.values(featurePhrases(ind)).filter((f) => f);
  const material = MATERIAL[type];
  return [
    `${s} has a ${TEXTURE[type]} texture.`,
    `${s} is ${colorPhrase(ind)}.`,
    sizeSentence(ind, s),
    shapeSentence(ind, s),
    `${s} is ${withArticle(type)}.`,
    markingsSentence(ind, s),
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
export function paperConversationTurns(ind: Individual): ConversationTurn[] {
  const person = ind.kind === 'person';
  const questions = person ? PERSON_CONVERSATION_QUESTIONS : SUBJECT_CONVERSATION_QUESTIONS;
  const answers = person ? personAnswers(ind) : subjectAnswers(ind);
  return questions.map((q, i) => ({ user: withStandIn(q, person ? 'person' : 'subject'), assistant: answers[i]! }));
}
