/** Individuals: random draws, canonical keys, attribute distance and look-alikes. */
import { KIND_SCHEMAS, KINDS, type Individual, type Kind } from './kindSchemas.ts';
import type { Rng } from './Rng.ts';

/** A uniformly random individual of a kind. */
export function randomIndividual(rng: Rng, kind: Kind): Individual {
  const attributes: Record<string, string> = {};
  for (const spec of KIND_SCHEMAS[kind]) attributes[spec.name] = rng.pick(spec.values);
  return { kind, attributes };
}

/** Canonical text key, e.g. "pet:cat/orange/plain/green/none/slim/none". */
export function individualKey(ind: Individual): string {
  return `${ind.kind}:${KIND_SCHEMAS[ind.kind].map((a) => ind.attributes[a.name]).join('/')}`;
}

/** Mixed-radix index of an individual within its kind (0 … combinationCount − 1). */
export function individualIndex(ind: Individual): number {
  let index = 0;
  for (const spec of KIND_SCHEMAS[ind.kind]) {
    const v = spec.values.indexOf(ind.attributes[spec.name]);
    if (v < 0) throw new Error(`invalid ${ind.kind} ${spec.name} "${ind.attributes[spec.name]}"`);
    index = index * spec.values.length + v;
  }
  return index;
}

/** Throws unless every attribute of the kind is present with an allowed value. */
export function validateIndividual(ind: Individual): void {
  if (!KINDS.includes(ind.kind)) throw new Error(`unknown kind "${String(ind.kind)}"`);
  individualIndex(ind);
  const extra = Object.keys(ind.attributes).filter((k) => !KIND_SCHEMAS[ind.kind].some((a) => a.name === k));
  if (extra.length) throw new Error(`${ind.kind} has no attribute(s) ${extra.join(', ')}`);
}

export function sameIndividual(a: Individual, b: Individual): boolean {
  return attributeDistance(a, b) === 0;
}

/** Number of attributes in which two individuals differ; Infinity when their kinds differ. */
export function attributeDistance(a: Individual, b: Individual): number {
  if (a.kind !== b.kind) return Infinity;
  let d = 0;
  for (const spec of KIND_SCHEMAS[a.kind]) if (a.attributes[spec.name] !== b.attributes[spec.name]) d++;
  return d;
}

/** Names of the attributes in which a and b (same kind) differ. */
export function differingAttributes(a: Individual, b: Individual): string[] {
  if (a.kind !== b.kind) throw new Error('differingAttributes: kinds differ');
  return KIND_SCHEMAS[a.kind].filter((s) => a.attributes[s.name] !== b.attributes[s.name]).map((s) => s.name);
}

export function withAttribute(ind: Individual, name: string, value: string): Individual {
  return { kind: ind.kind, attributes: { ...ind.attributes, [name]: value } };
}

/** Every individual of the same kind at exactly `distance` attributes from `ind`. */
export function lookAlikes(ind: Individual, distance: number): Individual[] {
  const specs = KIND_SCHEMAS[ind.kind];
  const out: Individual[] = [];
  const attrs: Record<string, string> = { ...ind.attributes };
  const walk = (start: number, left: number): void => {
    if (left === 0) {
      out.push({ kind: ind.kind, attributes: { ...attrs } });
      return;
    }
    for (let i = start; i <= specs.length - left; i++) {
      const spec = specs[i];
      const original = ind.attributes[spec.name];
      for (const value of spec.values) {
        if (value === original) continue;
        attrs[spec.name] = value;
        walk(i + 1, left - 1);
      }
      attrs[spec.name] = original;
    }
  };
  if (distance >= 0 && distance <= specs.length) walk(0, distance);
  return out;
}

/**
 * One random look-alike at exactly `distance` attributes. The changed attributes are drawn
 * uniformly, or, with `attributeWeights` (by attribute name; 1 where absent), in proportion to
 * their weights, without replacement.
 */
export function randomLookAlike(rng: Rng, ind: Individual, distance: number, attributeWeights?: Readonly<Record<string, number>>): Individual {
  const specs = KIND_SCHEMAS[ind.kind];
  if (distance < 1 || distance > specs.length) throw new Error(`look-alike distance ${distance} out of range`);
  const chosen = attributeWeights ? weightedDraw(rng, specs, specs.map((s) => attributeWeights[s.name] ?? 1), distance) : rng.shuffled(specs).slice(0, distance);
  const attributes = { ...ind.attributes };
  for (const spec of chosen) {
    const others = spec.values.filter((v) => v !== ind.attributes[spec.name]);
    attributes[spec.name] = rng.pick(others);
  }
  return { kind: ind.kind, attributes };
}

/** `count` distinct items, each draw in proportion to the remaining items' weights. */
function weightedDraw<T>(rng: Rng, items: readonly T[], weights: readonly number[], count: number): T[] {
  const left = items.map((item, i) => ({ item, weight: weights[i] }));
  const out: T[] = [];
  while (out.length < count) {
    const i = rng.weightedIndex(left.map((e) => e.weight));
    out.push(left[i].item);
    left.splice(i, 1);
  }
  return out;
}
