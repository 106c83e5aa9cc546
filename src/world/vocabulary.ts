/**
 * The closed vocabulary of every text the world produces (corpus, descriptions, benchmark
 * questions), so that a small word-level or BPE tokenizer covers it exactly. Words are listed
 * in lower case; each also appears capitalised (sentence starts, answers, "A"/"B" letters).
 */
import { PLACEHOLDER_NAMES, SUBJECT_PLACEHOLDER } from './buildInstructionCorpus.ts';

const BASE_WORDS = `
a above accessories alien aliens an analyzed and animal answer antenna anywhere appears are
arms around b backpack backpacks beach bear bears belt black blond blue body both bottle
bottles bow brown building bun can cannot cap caption castle castles cat cats center character
characters check chest chubby circle collar color confirm could crown dark describe detail
distinctive do does dog dogs doing dome dots dotted eye eyes facing featured features fictional
flag flat from fur give glasses gray green hair hairstyle handle have head heart hidden horns
how i if image in indeed is it its kind kitchen landmark landmarks left light lighthouse
lighthouses like long look man many mark men middle monster monsters mug mugs name neck no not
nothing object objects of on one options or orange over park partly patch pattern paws people
person pet pets photo phrase picture pink plain please pocket pointed present printed purple
question rabbit rabbits raising recognize red right rim robot robots roof room scarf see shape
shirt short single sitting skin skirt slim sneaker sneakers snout sole spots spotted standing
star street striped stripes subject sunglasses tail tall tan teddy tell temple temples that the
there this three tie tip to tone top tower towers trousers two type umbrella umbrellas visible
walls waving way wear wearing what where whether which white wide windmill windmills window
windows with woman women word yellow yes you zero
`
  .trim()
  .split(/\s+/);

/** Punctuation tokens. "'s" is one token (possessive); "\n" separates MCQ lines. */
export const PUNCTUATION_TOKENS: readonly string[] = ['.', ',', '?', ':', "'s", '\n'];

/** Name tokens: the neutral placeholder names and the benchmark's "<sks>". */
export const NAME_TOKENS: readonly string[] = [...PLACEHOLDER_NAMES.map((n) => `<${n}>`), SUBJECT_PLACEHOLDER];

const capitalizeWord = (w: string): string => w[0].toUpperCase() + w.slice(1);

/** Every token, sorted: words (lower case and capitalised), punctuation, names. */
export const WORLD_VOCABULARY: readonly string[] = [
  ...new Set([...BASE_WORDS, ...BASE_WORDS.map(capitalizeWord), ...PUNCTUATION_TOKENS, ...NAME_TOKENS]),
].sort();

const VOCABULARY_SET = new Set(WORLD_VOCABULARY);
const TOKEN_PATTERN = /<[a-z]+>|'s|[A-Za-z]+|\n|[.,?:]|[^\s]/g;

/** Splits text into vocabulary-style tokens (spaces dropped; unknown characters kept alone). */
export function tokenizeWorldText(text: string): string[] {
  return text.match(TOKEN_PATTERN) ?? [];
}

/** Tokens of `text` that are not in WORLD_VOCABULARY (empty when the text is closed). */
export function unknownWords(text: string): string[] {
  return tokenizeWorldText(text).filter((t) => !VOCABULARY_SET.has(t));
}

export function isInVocabulary(text: string): boolean {
  return unknownWords(text).length === 0;
}
