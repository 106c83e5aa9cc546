/**
 * Reading the model's free-text answers: a yes/no decision for recognition, an option letter
 * for two-option questions. Models do not always answer with the single word they are asked
 * for ("Yes, it is.", "The answer is B", "(A)"), so each parser accepts the usual phrasings and
 * returns null when it cannot tell (scored as wrong, and counted as unparsed).
 */

export type YesNo = 'yes' | 'no';
export type OptionLetter = 'A' | 'B';

const YES_WORDS = new Set(['yes', 'yeah', 'yep', 'yup', 'sure', 'certainly', 'definitely', 'absolutely', 'correct', 'indeed', 'affirmative', 'true', 'right']);
const NO_WORDS = new Set(['no', 'nope', 'nah', 'not', 'never', 'negative', 'false', 'none', 'nobody', 'nothing', 'incorrect', 'wrong']);
/** Anywhere in the answer, these deny ("I don't think so", "<bo> cannot be seen", "there is no dog"). */
const NEGATION = /\b(?:no|not|never|cannot|can't|unable|neither|nor|nowhere|absent|nobody|none)\b|n't\b/;
/** Affirmations without a leading yes ("I think so", "<bo> is in the photo", "I can see <bo>"). */
const AFFIRMATION = /\b(?:yes|think so|is in|are in|can see|appears|present|visible|there is|there are|i see|shows?)\b/;

/** "Yes." → yes, "no, it isn't" → no, "I don't think so" → no, "" or "maybe" → null. */
export function parseYesNo(text: string): YesNo | null {
  let t = text.toLowerCase().replace(/[’‘`]/g, "'").trim();
  // Leading quotes, markdown and labels: '**Yes**', '"No"', 'Answer: yes'.
  t = t.replace(/^[^a-z]+/, '').replace(/^(?:the\s+)?answer\s*(?:is)?\s*[:\-]?\s*/, '').replace(/^[^a-z]+/, '');
  if (!t) return null;
  const first = /^[a-z']+/.exec(t)?.[0] ?? '';
  if (YES_WORDS.has(first)) return 'yes';
  if (NO_WORDS.has(first)) return 'no';
  if (NEGATION.test(t)) return 'no';
  if (AFFIRMATION.test(t)) return 'yes';
  return null;
}

/**
 * "A", "B.", "(A)", "a", "The answer is B", "Option A: …", or the text of one option → its
 * letter; null when no letter (or both) can be read. `options` lets an answer that repeats an
 * option's text count.
 */
export function parseOptionLetter(text: string, options?: { readonly A: string; readonly B: string }): OptionLetter | null {
  const t = text.replace(/[’‘`*_]/g, '').trim();
  if (!t) return null;
  // Just the letter, in any case, with punctuation around it: "B", "b.", "(A)", "[B]".
  const alone = /^\W*([AaBb])\W*$/.exec(t);
  if (alone) return alone[1].toUpperCase() as OptionLetter;
  // A capital letter followed by punctuation at the start: "B. the red one", "A) red", "(B) red".
  const marked = /^\W*\(?([AB])\s*[).:\]]/.exec(t);
  if (marked) return marked[1] as OptionLetter;
  // "The answer is B", "answer: (A)", "Option A", "choice B".
  const labelled = /\b(?:answer|option|choice)\s*(?:is|would be|:)?\s*[("']?\s*([AaBb])\b/i.exec(t);
  if (labelled) return labelled[1].toUpperCase() as OptionLetter;
  if (options) {
    const lower = t.toLowerCase().replace(/[.!]+$/, '');
    const a = options.A.toLowerCase().replace(/[.!]+$/, '');
    const b = options.B.toLowerCase().replace(/[.!]+$/, '');
    if (lower === a && lower !== b) return 'A';
    if (lower === b && lower !== a) return 'B';
    const hasA = a.length > 0 && containsPhrase(lower, a);
    const hasB = b.length > 0 && containsPhrase(lower, b);
    // When one option's text contains the other's ("red" / "dark red"), the longer match wins.
    if (hasA && hasB) return a.length === b.length ? null : a.length > b.length ? 'A' : 'B';
    if (hasA) return 'A';
    if (hasB) return 'B';
  }
  // Exactly one capital letter standing alone ("B is correct", "I'd say B"); "A or B" is no answer.
  const standalone = new Set<string>();
  for (const match of t.matchAll(/(?<![\w'])([AB])(?![\w'])/g)) {
    if (match[1] === 'A' && ARTICLE.test(t.slice(match.index))) continue;
    standalone.add(match[1]);
  }
  if (standalone.size === 1) return [...standalone][0] as OptionLetter;
  return null;
}

/** "A red ball": the article, not the letter (but "A or B", "A is right" name the letter). */
const ARTICLE = /^A\s+(?!(?:or|and|is|was|seems|looks)\b)[a-z]/;

function containsPhrase(text: string, phrase: string): boolean {
  const escaped = phrase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?:^|\\W)${escaped}(?:$|\\W)`).test(text);
}
