/**
 * The closed vocabulary of every text the world produces (corpus, descriptions, benchmark
 * questions), so that a small word-level or BPE tokenizer covers it exactly. Words are listed
 * in lower case; each also appears capitalised (sentence starts, answers, "A"/"B" letters).
 * The paper's conversation questions and their answers (paperConversation.ts) are in it too.
 */
import { PLACEHOLDER_NAMES, SUBJECT_PLACEHOLDER } from './buildInstructionCorpus.ts';

const BASE_WORDS = `
a above accessories alien aliens an analyzed and animal answer antenna any anywhere appearance
appears are arms around b backpack backpacks beach bear bears belt black blond blue body both
bottle bottles bow brown build building bun calm can cannot cap caption castle castles cat cats
center ceramic character characters check chest chubby circle collar color confirm could crown
curious dark demeanor describe detail details distinctive do does dog dogs doing dome dots
dotted expression eye eyes fabric facial facing featured features fictional flag flat friendly
from fur general gentle give glasses grand gray green hair hairstyle handle has have head heart
hidden horns how i if image in indeed is it its kind kitchen landmark landmarks large left
light lighthouse lighthouses like long look looks made man many mark markings material men
metal middle monster monsters mug mugs name neck no not nothing object objects of on one
options or orange over overall park partly patch pattern patterns paws people person pet pets
photo phrase picture pink plain plastic playful please pocket pointed present printed purple
question rabbit rabbits raising recognize red right riley rim robot robots roof room rough
scarf see shape shirt short single sitting size skin skirt slim small smooth sneaker sneakers
snout soft sole spots spotted standing star stone street striped stripes subject sunglasses
tail tall tan teddy tell temple temples texture that the there this three tie tip to tone top
tower towers trousers two type umbrella umbrellas vibe visible walls waving way wear wearing
wears what where whether which white wide windmill windmills window windows with woman women
wood word would yellow yes you zero
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
