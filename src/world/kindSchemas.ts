/**
 * The five kinds of individuals (the paper's categories) and their attribute tables. Every
 * attribute has a small set of discrete values; every value is drawn visibly (≥ 3 px at the
 * smallest scale, see measureAttributeWidths.ts), so two individuals that differ in one value
 * are different-looking look-alikes, never identical pictures.
 */

export const KINDS = ['person', 'pet', 'landmark', 'object', 'character'] as const;
export type Kind = (typeof KINDS)[number];

export interface AttributeSpec {
  readonly name: string;
  readonly values: readonly string[];
}

function attr(name: string, values: readonly string[]): AttributeSpec {
  return { name, values };
}

const SHIRT_COLORS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'white'] as const;
const ALL_COLORS = [
  'red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'black', 'white', 'gray',
] as const;

export const KIND_SCHEMAS: Readonly<Record<Kind, readonly AttributeSpec[]>> = {
  person: [
    attr('gender', ['man', 'woman']),
    attr('height', ['short', 'tall']),
    attr('skin', ['light', 'tan', 'dark']),
    attr('hairColor', ['black', 'brown', 'blond', 'red', 'gray']),
    attr('hairStyle', ['short', 'long', 'bun']),
    attr('glasses', ['none', 'glasses', 'sunglasses']),
    attr('scarf', ['none', 'red', 'blue', 'green']),
    attr('shirtColor', SHIRT_COLORS),
    attr('shirtPattern', ['plain', 'striped', 'dotted']),
    attr('bottomColor', ['blue', 'black', 'gray', 'red']),
  ],
  pet: [
    attr('species', ['cat', 'dog', 'rabbit']),
    attr('furColor', ['orange', 'brown', 'black', 'white', 'gray']),
    attr('pattern', ['plain', 'spotted', 'striped']),
    attr('eyeColor', ['green', 'blue', 'yellow', 'brown']),
    attr('collar', ['none', 'red', 'blue', 'yellow', 'purple']),
    attr('build', ['slim', 'chubby']),
    attr('mark', ['none', 'chest patch', 'tail tip']),
  ],
  landmark: [
    attr('type', ['tower', 'lighthouse', 'castle', 'windmill', 'temple']),
    attr('wallColor', ['white', 'gray', 'red', 'yellow', 'brown', 'blue']),
    attr('roofShape', ['pointed', 'dome', 'flat']),
    attr('roofColor', ['red', 'blue', 'green', 'black', 'white']),
    attr('wallPattern', ['plain', 'striped']),
    attr('windows', ['one', 'three']),
    attr('flag', ['none', 'red', 'blue', 'yellow', 'green']),
  ],
  object: [
    attr('type', ['mug', 'backpack', 'bottle', 'teddy bear', 'sneaker', 'umbrella']),
    attr('color', ALL_COLORS),
    attr('accentColor', ['white', 'black', 'red', 'blue', 'yellow', 'green']),
    attr('pattern', ['plain', 'striped', 'dotted']),
    attr('symbol', ['none', 'heart', 'star', 'circle']),
    attr('shape', ['short', 'tall', 'wide']),
  ],
  character: [
    attr('type', ['robot', 'monster', 'alien']),
    attr('color', ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'gray']),
    attr('eyes', ['one', 'two', 'three']),
    attr('topper', ['none', 'antenna', 'horns', 'crown']),
    attr('pattern', ['plain', 'spotted', 'striped']),
    attr('accessory', ['none', 'bow tie', 'belt']),
  ],
};

/** How many benchmark subjects of each kind the paper's dataset has (40 in all). */
export const BENCHMARK_KIND_COUNTS: Readonly<Record<Kind, number>> = {
  person: 10,
  pet: 5,
  landmark: 5,
  object: 15,
  character: 5,
};

/** An individual: a kind and one value for each of the kind's attributes. */
export interface Individual {
  readonly kind: Kind;
  readonly attributes: Readonly<Record<string, string>>;
}

export function attributeSpec(kind: Kind, name: string): AttributeSpec {
  const spec = KIND_SCHEMAS[kind].find((a) => a.name === name);
  if (!spec) throw new Error(`kind "${kind}" has no attribute "${name}"`);
  return spec;
}

/** Number of distinct individuals of a kind. */
export function combinationCount(kind: Kind): number {
  return KIND_SCHEMAS[kind].reduce((n, a) => n * a.values.length, 1);
}
