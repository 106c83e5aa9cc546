/**
 * The methods the harness compares: baselines that tell the model about a subject in other
 * ways, Yo'LLaVA concepts, ablations of its recipe, and a forgetting check. Each method has its
 * own results; `resolveMethods` turns a --methods list (ids and group names) into methods.
 */
import { PAPER_RECIPE } from '../personalize/createConcept.ts';
import { DEFAULT_EPOCHS } from '../personalize/trainConcept.ts';

/** What a concept is trained on (the paper's Table 5 ablation). */
export type DataVariant =
  /** Recognition Q/A on the photos, and random (easy) negatives from the pool. */
  | 'recognition'
  /** + the base model's conversations about the photos, trained without the photo. */
  | 'conversation'
  /** + retrieved look-alikes (hard negatives): the full Yo'LLaVA recipe. */
  | 'full';

export interface ConceptRecipe {
  /** Latent tokens k. */
  readonly latentCount: number;
  /** Training photos n (fewer when a subject has fewer). */
  readonly photos: number;
  readonly data: DataVariant;
  /**
   * 'yollava': ours — latent tokens start from the base model's description of the photos,
   * recognition answers "Yes"/"No", negatives weighted to count as much as positives.
   * 'paper': the paper's — random start, its sentence answers, a plain mean.
   */
  readonly style: 'yollava' | 'paper';
  /** Ours with the latent tokens started at random (an ablation of our description start). */
  readonly randomStart?: boolean;
  /** Ours with the description also as words in the concept's prompt (trainConcept's descriptionInPrompt). */
  readonly descriptionText?: boolean;
}

export const DEFAULT_RECIPE: ConceptRecipe = { latentCount: 16, photos: 5, data: 'full', style: 'yollava' };

/**
 * Training epochs when the run does not set them: the paper's 15, and 5 for ours (its rows
 * start from a description and overfit the 5 photos in longer runs; measured in docs/results.md).
 */
export function recipeEpochs(recipe: ConceptRecipe): number {
  return recipe.style === 'paper' ? PAPER_RECIPE.training.epochs : DEFAULT_EPOCHS;
}

export function recipeKey(recipe: ConceptRecipe): string {
  return `k${recipe.latentCount}-n${recipe.photos}-${recipe.data}${recipe.style === 'paper' ? '-paper' : ''}${recipe.randomStart ? '-random-start' : ''}${recipe.descriptionText ? '-text' : ''}`;
}

export type MethodKind = 'vanilla' | 'text-human' | 'text-captions' | 'text-summary' | 'image-prompt' | 'concept' | 'forgetting';
export type MethodGroup = 'baseline' | 'yollava' | 'latent-tokens' | 'photos' | 'training-data' | 'forgetting';

export interface EvalMethod {
  readonly id: string;
  /** The row label in tables. */
  readonly title: string;
  readonly group: MethodGroup;
  readonly kind: MethodKind;
  /** Concept methods (and forgetting): how the concept is trained. */
  readonly recipe?: ConceptRecipe;
  /** What it does, for the report. */
  readonly description: string;
}

const concept = (id: string, title: string, group: MethodGroup, recipe: ConceptRecipe, description: string): EvalMethod => ({ id, title, group, kind: 'concept', recipe, description });

/** Every method, in report order. Ablation rows equal to the default recipe are the `yollava` row (not trained twice). */
export const METHODS: readonly EvalMethod[] = [
  { id: 'vanilla', title: 'Vanilla (no concept)', group: 'baseline', kind: 'vanilla', description: 'The base model asked about "<sks>", a name it was never told about: nothing is added to the prompt.' },
  { id: 'text-human', title: 'Text: human description', group: 'baseline', kind: 'text-human', description: 'A short human-style description in the prompt: "<sks> is {description}." (world.json\'s ground-truth `description`; subjects without one are skipped).' },
  { id: 'text-captions', title: 'Text: captions (long)', group: 'baseline', kind: 'text-captions', description: 'The base model\'s captions ("Describe the image in detail.") of the n = 5 training photos, concatenated: "Here are descriptions of photos of <sks>: Photo 1: … Photo 2: …".' },
  { id: 'text-summary', title: 'Text: captions summarized (short)', group: 'baseline', kind: 'text-summary', description: 'Those captions summarized by the base model in one sentence (no photo): "Here is a description of <sks>: {summary}".' },
  { id: 'image-prompt', title: 'Image prompt (1 photo)', group: 'baseline', kind: 'image-prompt', description: 'The first training photo in the context before the test photo ("<image>\\nThis is a photo of <sks>.\\n<image>\\n{question}"); text-only questions get the reference photo alone. The engine concatenates the two images\' features in sequence; LLaVA-1.5 (and the default model) were trained with one image per prompt, so this is outside their training distribution.' },
  concept('yollava-paper', "Yo'LLaVA, the paper's recipe", 'yollava', { ...DEFAULT_RECIPE, style: 'paper' }, 'The same data and training as `yollava`, but as the paper does it: latent tokens start at random, recognition answers are the paper\'s sentences ("Yes, <name> is in this photo.", "<name> is not in this photo."), every sample weighs the same.'),
  concept('yollava', "Yo'LLaVA (k = 16, n = 5)", 'yollava', DEFAULT_RECIPE, 'A learned concept: <name> and 16 latent tokens, trained on 5 photos with recognition Q/A, easy and hard negatives from the pool, and conversations; the prompt carries "<name> is <name_0>…<name_15>.". Our recipe: the latent tokens start from the base model\'s description of the photos (one description decoded jointly over 5), recognition answers are "Yes"/"No", negatives count as much as positives in all (hard negatives a quarter of that), half the photos are seen through shifted windows, and after training the Yes/No boundary is set on 150 held-out pool images (at most 8 % answered "Yes").'),
  ...[0, 2, 4, 8, 32].map((k) => concept(`k${k}`, `k = ${k} latent tokens`, 'latent-tokens', { ...DEFAULT_RECIPE, latentCount: k }, `The Yo'LLaVA recipe with ${k} latent tokens (n = 5, full data).`)),
  ...[1, 3, 10].map((n) => concept(`n${n}`, `n = ${n} photo${n === 1 ? '' : 's'}`, 'photos', { ...DEFAULT_RECIPE, photos: n }, `The Yo'LLaVA recipe trained on ${n} photo${n === 1 ? '' : 's'} (k = 16, full data; fewer when a subject has fewer training photos).`)),
  concept('start-random', 'Ours, latent tokens started at random', 'yollava', { ...DEFAULT_RECIPE, randomStart: true }, 'Our recipe (Yes/No answers, balanced negatives, shifted windows, 5 epochs, the boundary set on held-out negatives) without the description start: the latent tokens start at random, as in the paper.'),
  concept('yollava-text', 'Ours + its description as words', 'yollava', { ...DEFAULT_RECIPE, descriptionText: true }, 'Our recipe, with the base model\'s description (the one the latent tokens start from) also written as words after them, in training and after: "<name> is <name_0>…<name_15>. <name> is {description}.".'),
  concept('data-recognition', 'Data: recognition only', 'training-data', { ...DEFAULT_RECIPE, data: 'recognition' }, 'Recognition Q/A on the 5 photos and 100 random (easy) negatives only.'),
  concept('data-conversation', 'Data: + conversations', 'training-data', { ...DEFAULT_RECIPE, data: 'conversation' }, 'Recognition Q/A, random negatives, and the base model\'s conversations (no hard negatives).'),
  { id: 'forgetting', title: 'Forgetting', group: 'forgetting', kind: 'forgetting', recipe: DEFAULT_RECIPE, description: 'Visual questions about OTHER subjects (by default the next 3 in the list) asked with and without a subject\'s Yo\'LLaVA concept attached (its rows and "<name> is <name_0>…." in the prompt): the base model\'s own skill, which a concept should not disturb (all weights are frozen; only the context differs).' },
];

/** Group names usable in --methods. */
export const METHOD_GROUPS: Readonly<Record<string, readonly string[]>> = {
  main: ['vanilla', 'text-human', 'text-captions', 'text-summary', 'image-prompt', 'yollava-paper', 'yollava'],
  baselines: ['vanilla', 'text-human', 'text-captions', 'text-summary', 'image-prompt'],
  'latent-tokens': ['yollava', 'k0', 'k2', 'k4', 'k8', 'k32'],
  photos: ['yollava', 'n1', 'n3', 'n10'],
  'training-data': ['yollava', 'data-recognition', 'data-conversation'],
  recipe: ['yollava-paper', 'start-random', 'yollava', 'yollava-text'],
  ablations: ['yollava', 'k0', 'k2', 'k4', 'k8', 'k32', 'n1', 'n3', 'n10', 'data-recognition', 'data-conversation'],
  all: METHODS.map((m) => m.id),
};

/** Ablation ids that are the default recipe itself: they select `yollava`. */
const ALIASES: Readonly<Record<string, string>> = { k16: 'yollava', n5: 'yollava', 'data-hard-negatives': 'yollava', 'data-full': 'yollava' };

export class MethodError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MethodError';
  }
}

/** "vanilla,yollava", "main", "ablations,forgetting" … → methods in report order. */
export function resolveMethods(spec: string | readonly string[]): EvalMethod[] {
  const words = (typeof spec === 'string' ? spec.split(',') : spec).map((w) => w.trim()).filter(Boolean);
  if (words.length === 0) throw new MethodError('no methods given');
  const ids = new Set<string>();
  for (const word of words) {
    const group = METHOD_GROUPS[word];
    if (group) { group.forEach((id) => ids.add(id)); continue; }
    const id = ALIASES[word] ?? word;
    if (!METHODS.some((m) => m.id === id)) {
      throw new MethodError(`unknown method "${word}" (methods: ${METHODS.map((m) => m.id).join(', ')}; groups: ${Object.keys(METHOD_GROUPS).join(', ')})`);
    }
    ids.add(id);
  }
  return METHODS.filter((m) => ids.has(m.id));
}

/** The method whose recipe an ablation row is, for ablation tables (e.g. latent tokens 16 → yollava). */
export function ablationRows(group: 'latent-tokens' | 'photos' | 'training-data'): { label: string; methodId: string; value: number | string }[] {
  if (group === 'latent-tokens') return [0, 2, 4, 8, 16, 32].map((k) => ({ label: `k = ${k}`, methodId: k === 16 ? 'yollava' : `k${k}`, value: k }));
  if (group === 'photos') return [1, 3, 5, 10].map((n) => ({ label: `n = ${n}`, methodId: n === 5 ? 'yollava' : `n${n}`, value: n }));
  return [
    { label: 'recognition Q/A + random negatives', methodId: 'data-recognition', value: 'recognition' },
    { label: '+ conversations', methodId: 'data-conversation', value: 'conversation' },
    { label: '+ hard negatives (full)', methodId: 'yollava', value: 'full' },
  ];
}
