/** Short human-style descriptions of individuals, and the nouns used to refer to them. */
import type { Individual, Kind } from './kindSchemas.ts';
import { PALETTE, colorDistance, type Rgb } from './palette.ts';
import { symbolColors } from './sprites/drawObject.ts';
import { petMarkInk } from './sprites/drawPet.ts';

export const KIND_NOUNS: Readonly<Record<Kind, { singular: string; plural: string }>> = {
  person: { singular: 'person', plural: 'people' },
  pet: { singular: 'pet', plural: 'pets' },
  landmark: { singular: 'landmark', plural: 'landmarks' },
  object: { singular: 'object', plural: 'objects' },
  character: { singular: 'character', plural: 'characters' },
};

/** The attribute that says what an individual is (man/woman, cat, lighthouse, mug, robot). */
export const TYPE_ATTRIBUTE: Readonly<Record<Kind, string>> = {
  person: 'gender',
  pet: 'species',
  landmark: 'type',
  object: 'type',
  character: 'type',
};

const PLURALS: Readonly<Record<string, string>> = {
  man: 'men',
  woman: 'women',
  cat: 'cats',
  dog: 'dogs',
  rabbit: 'rabbits',
  tower: 'towers',
  lighthouse: 'lighthouses',
  castle: 'castles',
  windmill: 'windmills',
  temple: 'temples',
  mug: 'mugs',
  backpack: 'backpacks',
  bottle: 'bottles',
  'teddy bear': 'teddy bears',
  sneaker: 'sneakers',
  umbrella: 'umbrellas',
  robot: 'robots',
  monster: 'monsters',
  alien: 'aliens',
};

/** What the individual is, as a noun: "man", "cat", "lighthouse", "teddy bear", "robot". */
export function typeNoun(ind: Individual): string {
  return ind.attributes[TYPE_ATTRIBUTE[ind.kind]];
}

export function pluralNoun(noun: string): string {
  const plural = PLURALS[noun] ?? Object.values(KIND_NOUNS).find((k) => k.singular === noun)?.plural;
  if (!plural) throw new Error(`no plural for "${noun}"`);
  return plural;
}

export function withArticle(phrase: string): string {
  return /^[aeiou]/.test(phrase) ? `an ${phrase}` : `a ${phrase}`;
}

export function capitalize(text: string): string {
  return text.length ? text[0].toUpperCase() + text.slice(1) : text;
}

/** "a, b and c". */
export function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** The part of an object drawn in its accent colour. */
export const ACCENT_PARTS: Readonly<Record<string, string>> = {
  mug: 'rim and handle',
  backpack: 'pocket',
  bottle: 'cap',
  'teddy bear': 'snout and paws',
  sneaker: 'sole',
  umbrella: 'handle',
};

/** Name of a palette colour (for derived colours such as symbol print and pet marks). */
export function colorName(rgb: Rgb): string {
  let best = 'white';
  let bestDistance = Infinity;
  for (const [name, value] of Object.entries(PALETTE)) {
    const d = colorDistance(rgb, value);
    if (d < bestDistance) {
      bestDistance = d;
      best = name;
    }
  }
  return best;
}

/** The colour word of an object's printed symbol (it depends on the body colour). */
export function symbolColorName(ind: Individual): string {
  const body = PALETTE[ind.attributes.color as keyof typeof PALETTE];
  return colorName(symbolColors(body)[ind.attributes.symbol]);
}

/** The colour word of a pet's chest patch or tail tip. */
export function petMarkColorName(ind: Individual): string {
  return colorName(petMarkInk(ind.attributes.furColor));
}

/** Phrases naming each visible feature (used by descriptions and by answers). */
export function featurePhrases(ind: Individual): Record<string, string> {
  const a = ind.attributes;
  switch (ind.kind) {
    case 'person': {
      const hair = a.hairStyle === 'bun' ? `${a.hairColor} hair in a bun` : `${a.hairStyle} ${a.hairColor} hair`;
      const pattern = a.shirtPattern === 'plain' ? '' : `${a.shirtPattern} `;
      return {
        hair,
        skin: `${a.skin} skin`,
        glasses: a.glasses === 'none' ? '' : a.glasses,
        scarf: a.scarf === 'none' ? '' : `a ${a.scarf} scarf`,
        shirt: withArticle(`${a.shirtColor} ${pattern}shirt`),
        bottom: a.gender === 'woman' ? withArticle(`${a.bottomColor} skirt`) : `${a.bottomColor} trousers`,
      };
    }
    case 'pet':
      return {
        eyes: `${a.eyeColor} eyes`,
        collar: a.collar === 'none' ? '' : withArticle(`${a.collar} collar`),
        mark:
          a.mark === 'chest patch'
            ? withArticle(`${petMarkColorName(ind)} patch on its chest`)
            : a.mark === 'tail tip'
              ? withArticle(`${petMarkColorName(ind)} tail tip`)
              : '',
      };
    case 'landmark':
      return {
        roof: a.roofShape === 'dome' ? withArticle(`${a.roofColor} dome`) : withArticle(`${a.roofColor} ${a.roofShape} roof`),
        windows: a.windows === 'one' ? 'one window' : 'three windows',
        flag: a.flag === 'none' ? '' : withArticle(`${a.flag} flag`),
      };
    case 'object':
      return {
        accent: withArticle(`${a.accentColor} ${ACCENT_PARTS[a.type]}`),
        symbol: a.symbol === 'none' ? '' : `${withArticle(`${symbolColorName(ind)} ${a.symbol}`)} on it`,
      };
    case 'character':
      return {
        eyes: a.eyes === 'one' ? 'one eye' : `${a.eyes} eyes`,
        topper: a.topper === 'none' ? '' : a.topper === 'horns' ? 'horns' : withArticle(a.topper),
        accessory: a.accessory === 'none' ? '' : withArticle(a.accessory),
      };
  }
}

/** The head noun phrase with its adjectives: "tall man", "chubby orange striped cat". */
export function headPhrase(ind: Individual): string {
  const a = ind.attributes;
  const pattern = (p: string): string => (p === 'plain' ? '' : `${p} `);
  switch (ind.kind) {
    case 'person':
      return `${a.height} ${a.gender}`;
    case 'pet':
      return `${a.build} ${a.furColor} ${pattern(a.pattern)}${a.species}`;
    case 'landmark':
      return `${a.wallColor} ${pattern(a.wallPattern)}${a.type}`;
    case 'object':
      return `${a.shape} ${a.color} ${pattern(a.pattern)}${a.type}`;
    case 'character':
      return `${a.color} ${pattern(a.pattern)}${a.type}`;
  }
}

/**
 * A short human-style description naming every attribute, e.g. "a tall man with short red hair,
 * tan skin, glasses, a green striped shirt and gray trousers".
 */
export function describeIndividual(ind: Individual): string {
  const features = Object.values(featurePhrases(ind)).filter((f) => f.length > 0);
  const head = withArticle(headPhrase(ind));
  if (ind.kind === 'object' && features.length === 2) {
    // "with a white cap and a red heart on it" reads better than a list with a comma.
    return `${head} with ${features[0]} and ${features[1]}`;
  }
  return features.length ? `${head} with ${joinList(features)}` : head;
}
