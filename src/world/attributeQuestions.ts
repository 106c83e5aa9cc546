/**
 * Questions about one attribute of one individual, with short answers: an open question, the
 * answer text of any value (so that two-option questions can offer a wrong value), and a
 * yes/no check of a value. The subject is given as a reference ("the person", "<bo>",
 * "this person") so the same table serves images, named descriptions and the benchmark.
 */
import { ACCENT_PARTS, capitalize, petMarkColorName, symbolColorName, withArticle } from './describeIndividual.ts';
import { withAttribute } from './individuals.ts';
import { KIND_SCHEMAS, type Individual, type Kind } from './kindSchemas.ts';
import type { Rng } from './Rng.ts';

/** How to name the subject: "the cat" / "the cat's", "<bo>" / "<bo>'s". */
export interface SubjectRef {
  readonly name: string;
  readonly possessive: string;
}

export function subjectRef(name: string): SubjectRef {
  return { name, possessive: `${name}'s` };
}

interface Template {
  ask: (r: SubjectRef, ind: Individual) => string;
  /** Short answer naming the value the individual has (capitalised, no period). */
  answer: (ind: Individual) => string;
  /** A yes/no question whether the individual has `value` (null: no such question). */
  check?: (r: SubjectRef, ind: Individual, value: string) => string | null;
}

const cap = capitalize;
const pattern = (v: string): string => (v === 'striped' ? 'Stripes' : v === 'dotted' ? 'Dots' : v === 'spotted' ? 'Spots' : 'No pattern');
const isAre = (part: string): string => (part.includes(' and ') ? 'are' : 'is');

const TEMPLATES: Readonly<Record<Kind, Readonly<Record<string, Template>>>> = {
  person: {
    gender: {
      ask: (r) => `Is ${r.name} a man or a woman?`,
      answer: (i) => cap(withArticle(i.attributes.gender)),
      check: (r, _i, v) => `Is ${r.name} ${withArticle(v)}?`,
    },
    height: {
      ask: (r) => `Is ${r.name} tall or short?`,
      answer: (i) => cap(i.attributes.height),
      check: (r, _i, v) => `Is ${r.name} ${v}?`,
    },
    skin: {
      ask: (r) => `What is the skin tone of ${r.name}?`,
      answer: (i) => cap(i.attributes.skin),
      check: (r, _i, v) => `Does ${r.name} have ${v} skin?`,
    },
    hairColor: {
      ask: (r) => `What color is ${r.possessive} hair?`,
      answer: (i) => cap(i.attributes.hairColor),
      check: (r, _i, v) => `Does ${r.name} have ${v} hair?`,
    },
    hairStyle: {
      ask: (r) => `What is ${r.possessive} hairstyle?`,
      answer: (i) => (i.attributes.hairStyle === 'bun' ? 'A bun' : `${cap(i.attributes.hairStyle)} hair`),
      check: (r, _i, v) => (v === 'bun' ? `Does ${r.name} wear the hair in a bun?` : `Does ${r.name} have ${v} hair?`),
    },
    glasses: {
      ask: (r) => `What does ${r.name} wear over the eyes?`,
      answer: (i) => (i.attributes.glasses === 'none' ? 'Nothing' : cap(i.attributes.glasses)),
      check: (r, _i, v) => (v === 'none' ? null : `Does ${r.name} wear ${v}?`),
    },
    scarf: {
      ask: (r) => `What does ${r.name} wear around the neck?`,
      answer: (i) => (i.attributes.scarf === 'none' ? 'Nothing' : `A ${i.attributes.scarf} scarf`),
      check: (r, _i, v) => (v === 'none' ? null : `Does ${r.name} wear a ${v} scarf?`),
    },
    shirtColor: {
      ask: (r) => `What color is ${r.possessive} shirt?`,
      answer: (i) => cap(i.attributes.shirtColor),
      check: (r, _i, v) => `Is ${r.possessive} shirt ${v}?`,
    },
    shirtPattern: {
      ask: (r) => `What pattern is on ${r.possessive} shirt?`,
      answer: (i) => pattern(i.attributes.shirtPattern),
      check: (r, _i, v) => `Is ${r.possessive} shirt ${v}?`,
    },
    bottomColor: {
      ask: (r, i) => (i.attributes.gender === 'woman' ? `What color is ${r.possessive} skirt?` : `What color are ${r.possessive} trousers?`),
      answer: (i) => cap(i.attributes.bottomColor),
      check: (r, i, v) => (i.attributes.gender === 'woman' ? `Is ${r.possessive} skirt ${v}?` : `Are ${r.possessive} trousers ${v}?`),
    },
  },
  pet: {
    species: {
      ask: (r) => `What animal is ${r.name}?`,
      answer: (i) => cap(withArticle(i.attributes.species)),
      check: (r, _i, v) => `Is ${r.name} ${withArticle(v)}?`,
    },
    furColor: {
      ask: (r) => `What color is ${r.possessive} fur?`,
      answer: (i) => cap(i.attributes.furColor),
      check: (r, _i, v) => `Is ${r.possessive} fur ${v}?`,
    },
    pattern: {
      ask: (r) => `What pattern does ${r.possessive} fur have?`,
      answer: (i) => pattern(i.attributes.pattern),
      check: (r, _i, v) => `Is ${r.possessive} fur ${v}?`,
    },
    eyeColor: {
      ask: (r) => `What color are ${r.possessive} eyes?`,
      answer: (i) => cap(i.attributes.eyeColor),
      check: (r, _i, v) => `Are ${r.possessive} eyes ${v}?`,
    },
    collar: {
      ask: (r) => `What does ${r.name} wear around the neck?`,
      answer: (i) => (i.attributes.collar === 'none' ? 'Nothing' : `A ${i.attributes.collar} collar`),
      check: (r, _i, v) => (v === 'none' ? null : `Does ${r.name} wear a ${v} collar?`),
    },
    build: {
      ask: (r) => `Is ${r.name} slim or chubby?`,
      answer: (i) => cap(i.attributes.build),
      check: (r, _i, v) => `Is ${r.name} ${v}?`,
    },
    mark: {
      ask: (r) => `What mark does ${r.name} have?`,
      answer: (i) =>
        i.attributes.mark === 'chest patch'
          ? cap(withArticle(`${petMarkColorName(i)} patch on its chest`))
          : i.attributes.mark === 'tail tip'
            ? cap(withArticle(`${petMarkColorName(i)} tail tip`))
            : 'No mark',
      check: (r, i, v) =>
        v === 'chest patch'
          ? `Does ${r.name} have ${withArticle(petMarkColorName(i))} patch on its chest?`
          : v === 'tail tip'
            ? `Does ${r.name} have ${withArticle(petMarkColorName(i))} tail tip?`
            : null,
    },
  },
  landmark: {
    type: {
      ask: (r) => `What kind of building is ${r.name}?`,
      answer: (i) => cap(withArticle(i.attributes.type)),
      check: (r, _i, v) => `Is ${r.name} ${withArticle(v)}?`,
    },
    wallColor: {
      ask: (r) => `What color are ${r.possessive} walls?`,
      answer: (i) => cap(i.attributes.wallColor),
      check: (r, _i, v) => `Are ${r.possessive} walls ${v}?`,
    },
    roofShape: {
      ask: (r) => `What shape is ${r.possessive} roof?`,
      answer: (i) => (i.attributes.roofShape === 'dome' ? 'A dome' : cap(i.attributes.roofShape)),
      check: (r, _i, v) => (v === 'dome' ? `Does ${r.name} have a dome?` : `Does ${r.name} have a ${v} roof?`),
    },
    roofColor: {
      ask: (r) => `What color is ${r.possessive} roof?`,
      answer: (i) => cap(i.attributes.roofColor),
      check: (r, _i, v) => `Is ${r.possessive} roof ${v}?`,
    },
    wallPattern: {
      ask: (r) => `Are ${r.possessive} walls plain or striped?`,
      answer: (i) => cap(i.attributes.wallPattern),
      check: (r, _i, v) => `Are ${r.possessive} walls ${v}?`,
    },
    windows: {
      ask: (r) => `How many windows does ${r.name} have?`,
      answer: (i) => cap(i.attributes.windows),
      check: (r, _i, v) => `Does ${r.name} have ${v === 'one' ? 'one window' : `${v} windows`}?`,
    },
    flag: {
      ask: (r) => `What flag is on top of ${r.name}?`,
      answer: (i) => (i.attributes.flag === 'none' ? 'No flag' : `A ${i.attributes.flag} flag`),
      check: (r, _i, v) => (v === 'none' ? null : `Does ${r.name} have a ${v} flag?`),
    },
  },
  object: {
    type: {
      ask: (r) => `What is ${r.name}?`,
      answer: (i) => cap(withArticle(i.attributes.type)),
      check: (r, _i, v) => `Is ${r.name} ${withArticle(v)}?`,
    },
    color: {
      ask: (r) => `What color is ${r.name}?`,
      answer: (i) => cap(i.attributes.color),
      check: (r, _i, v) => `Is ${r.name} ${v}?`,
    },
    accentColor: {
      ask: (r, i) => {
        const part = ACCENT_PARTS[i.attributes.type];
        return `What color ${isAre(part)} ${r.possessive} ${part}?`;
      },
      answer: (i) => cap(i.attributes.accentColor),
      check: (r, i, v) => {
        const part = ACCENT_PARTS[i.attributes.type];
        return `${cap(isAre(part))} ${r.possessive} ${part} ${v}?`;
      },
    },
    pattern: {
      ask: (r) => `What pattern is on ${r.name}?`,
      answer: (i) => pattern(i.attributes.pattern),
      check: (r, _i, v) => `Is ${r.name} ${v}?`,
    },
    symbol: {
      ask: (r) => `What is printed on ${r.name}?`,
      answer: (i) => (i.attributes.symbol === 'none' ? 'Nothing' : cap(withArticle(`${symbolColorName(i)} ${i.attributes.symbol}`))),
      check: (r, _i, v) => (v === 'none' ? null : `Is there ${withArticle(v)} on ${r.name}?`),
    },
    shape: {
      ask: (r) => `Is ${r.name} short, tall or wide?`,
      answer: (i) => cap(i.attributes.shape),
      check: (r, _i, v) => `Is ${r.name} ${v}?`,
    },
  },
  character: {
    type: {
      ask: (r) => `What kind of character is ${r.name}?`,
      answer: (i) => cap(withArticle(i.attributes.type)),
      check: (r, _i, v) => `Is ${r.name} ${withArticle(v)}?`,
    },
    color: {
      ask: (r) => `What color is ${r.name}?`,
      answer: (i) => cap(i.attributes.color),
      check: (r, _i, v) => `Is ${r.name} ${v}?`,
    },
    eyes: {
      ask: (r) => `How many eyes does ${r.name} have?`,
      answer: (i) => cap(i.attributes.eyes),
      check: (r, _i, v) => `Does ${r.name} have ${v === 'one' ? 'one eye' : `${v} eyes`}?`,
    },
    topper: {
      ask: (r) => `What is on top of ${r.possessive} head?`,
      answer: (i) => (i.attributes.topper === 'none' ? 'Nothing' : i.attributes.topper === 'horns' ? 'Horns' : cap(withArticle(i.attributes.topper))),
      check: (r, _i, v) => (v === 'none' ? null : `Does ${r.name} have ${v === 'horns' ? 'horns' : withArticle(v)}?`),
    },
    pattern: {
      ask: (r) => `What pattern is on ${r.possessive} body?`,
      answer: (i) => pattern(i.attributes.pattern),
      check: (r, _i, v) => `Is ${r.name} ${v}?`,
    },
    accessory: {
      ask: (r) => `What does ${r.name} wear?`,
      answer: (i) => (i.attributes.accessory === 'none' ? 'Nothing' : cap(withArticle(i.attributes.accessory))),
      check: (r, _i, v) => (v === 'none' ? null : `Does ${r.name} wear ${withArticle(v)}?`),
    },
  },
};

function template(kind: Kind, attribute: string): Template {
  const t = TEMPLATES[kind][attribute];
  if (!t) throw new Error(`no question template for ${kind} ${attribute}`);
  return t;
}

/** The open question about `attribute` of `ind`, e.g. "What color is the person's shirt?". */
export function attributeQuestion(ref: SubjectRef, ind: Individual, attribute: string): string {
  return template(ind.kind, attribute).ask(ref, ind);
}

/** Short answer for the individual's own value, e.g. "Green", "A bun", "Nothing". */
export function attributeAnswer(ind: Individual, attribute: string): string {
  return template(ind.kind, attribute).answer(ind);
}

/** Answer text the individual would have with another value (a two-option distractor). */
export function attributeValueAnswer(ind: Individual, attribute: string, value: string): string {
  return attributeAnswer(withAttribute(ind, attribute, value), attribute);
}

/**
 * A yes/no question whether `ind` has `value` for `attribute` (null where no natural question
 * exists, e.g. "does it wear no scarf"). The answer is Yes exactly when the value is its own.
 */
export function attributeCheckQuestion(ref: SubjectRef, ind: Individual, attribute: string, value: string): string | null {
  return template(ind.kind, attribute).check?.(ref, ind, value) ?? null;
}

/**
 * A random yes/no check about `ind`: an attribute that has another value to ask about, with its
 * own value half the time (`yes`) and another one otherwise; null where the drawn check has no
 * natural question.
 */
export function randomAttributeCheck(rng: Rng, ref: SubjectRef, ind: Individual): { question: string; yes: boolean } | null {
  const attribute = rng.pick(KIND_SCHEMAS[ind.kind].map((a) => a.name).filter((a) => distractorValues(ind, a).length > 0));
  const yes = rng.chance(0.5);
  const question = attributeCheckQuestion(ref, ind, attribute, yes ? ind.attributes[attribute] : rng.pick(distractorValues(ind, attribute)));
  return question ? { question, yes } : null;
}

/** Values of `attribute` whose answer text differs from the individual's own answer. */
export function distractorValues(ind: Individual, attribute: string): string[] {
  const own = attributeAnswer(ind, attribute);
  const spec = KIND_SCHEMAS[ind.kind].find((a) => a.name === attribute);
  if (!spec) throw new Error(`kind "${ind.kind}" has no attribute "${attribute}"`);
  return spec.values.filter((v) => v !== ind.attributes[attribute] && attributeValueAnswer(ind, attribute, v) !== own);
}

/** The exact two-option prompt used by the benchmark and its peers. */
export function multipleChoicePrompt(question: string, optionA: string, optionB: string): string {
  return `Question: ${question}\nOptions:\nA. ${optionA}\nB. ${optionB}\nPlease give a single character from the options above.`;
}
