/**
 * The words of a concept's training data: the paper's recognition templates, the attribute
 * questions of its conversation data, and the recognition prompts.
 *
 * Every text here names the concept with CONCEPT_PLACEHOLDER, the paper's own "<sks>";
 * `fillConcept` puts the concept's identifier token (e.g. "<bo>") in its place.
 *
 * Apostrophes: the tables below are the paper's Appendix F (Tables 16 and 17) verbatim, with the
 * typographic ’ of the PDF. The templates used for training, POSITIVE_/NEGATIVE_RECOGNITION_
 * TEMPLATES, are the same strings with ’ turned into ASCII ', because
 * - the ’ is LaTeX typesetting: the public code's data files (same kind of answers: "I've
 *   analyzed…", "you've provided") are plain ASCII;
 * - the trained answers become what the model says: with ’ it would learn to write "<bo>’s"
 *   while users type (and evaluation prompts use) "<bo>'s";
 * - Llama's tokenizer splits ’ into rarer tokens than ', which adds nothing but noise.
 */

/** The concept's name in every template; replaced by the identifier token ("<bo>"). */
export const CONCEPT_PLACEHOLDER = '<sks>';

export interface RecognitionTemplate {
  readonly question: string;
  readonly answer: string;
}

/** Paper, Appendix F, Table 16: positive recognition Q/A, verbatim (index i = row i + 1). */
export const PAPER_POSITIVE_RECOGNITION_TEMPLATES: readonly RecognitionTemplate[] = [
  { question: "Is <sks> in this photo?", answer: "Yes, <sks> is in this photo." },
  { question: "Can you tell if <sks> appears in this picture?", answer: "Yes, <sks> appears in this picture." },
  { question: "Could you check whether <sks> is in the image?", answer: "<sks> is indeed in the image." },
  { question: "Do you see <sks> anywhere in this snapshot?", answer: "<sks> is visible in this snapshot." },
  { question: "Is there a chance <sks> could be in this photo?", answer: "Absolutely, <sks> is in this photo." },
  { question: "Would you happen to know if <sks> is shown in this photograph?", answer: "<sks> is shown in this photograph." },
  { question: "Can you see <sks> in this photo?", answer: "Yes, I can confirm that <sks> is indeed in the photo." },
  { question: "Have you spotted <sks> in this photo?", answer: "I have spotted <sks> in this photo." },
  { question: "Is that <sks> in the photo there?", answer: "That is <sks> in the photo." },
  { question: "Is <sks> in this image?", answer: "Yes, <sks> is in this image." },
  { question: "Am I seeing <sks> in this picture?", answer: "Yes, you are seeing <sks> in this picture." },
  { question: "Does this photo include <sks>?", answer: "This photo includes <sks>." },
  { question: "Is <sks> featured in this photo?", answer: "<sks> is featured in this photo." },
  { question: "Can you point out <sks> in this photo?", answer: "Certainly, <sks> is right here in the photo." },
  { question: "Is <sks> visible in this photo?", answer: "<sks> is visible in this photo." },
  { question: "Check if <sks> is in this photo for me, will you?", answer: "After checking, yes, <sks> is in this photo." },
  { question: "Hey AI, can you tell me if you see <sks> in this photo?", answer: "Yes, I can confirm that <sks> is indeed in the photo." },
  { question: "Do you recognize <sks> in this photo?", answer: "I do recognize <sks> in this photo." },
  { question: "I’m looking for <sks>, is <sks> in this photo?", answer: "Yes, <sks> is in this photo." },
  { question: "Can you see if <sks> is in this photo?", answer: "Yes, <sks> is indeed in the photo." },
  { question: "This photo, does it have <sks>?", answer: "This photo does have <sks>." },
  { question: "Could you confirm if this is <sks> in the photo?", answer: "I can confirm that this is <sks> in the photo." },
  { question: "Any chance that <sks> might be in this photo?", answer: "Yes, <sks> is definitely in this photo." },
  { question: "Can you recognize if <sks> is in this photo?", answer: "Yes, <sks> is indeed in the photo." },
  { question: "I think I see <sks>, is it so?", answer: "You’re correct, that is <sks> you see in the photo." },
  { question: "Has <sks> been captured in this photo?", answer: "<sks> has been captured in this photo." },
  { question: "<sks>’s in this photo, right?", answer: "Yes, <sks>’s in this photo." },
  { question: "Is <sks> present in this particular photo?", answer: "<sks> is present in this particular photo." },
  { question: "Hey AI, can you tell me if you recognize <sks> in this photo?", answer: "Yes, I can see <sks> in the photo." },
  { question: "Can you see if <sks> is in this photo?", answer: "Yes, <sks> is in this photo." },
];

/** Paper, Appendix F, Table 17: negative recognition Q/A, verbatim (index i = row i + 1). */
export const PAPER_NEGATIVE_RECOGNITION_TEMPLATES: readonly RecognitionTemplate[] = [
  { question: "Is <sks> in this photo?", answer: "No, <sks> is not in this photo." },
  { question: "Can you tell if <sks> appears in this picture?", answer: "No, <sks> is not in this picture." },
  { question: "Could you check whether <sks> is in the image?", answer: "<sks> is not in the image." },
  { question: "Do you see <sks> anywhere in this snapshot?", answer: "<sks> does not appear in this snapshot." },
  { question: "Is there a chance <sks> could be in this photo?", answer: "There’s no indication that <sks> is in this photo." },
  { question: "Would you happen to know if <sks> is shown in this photograph?", answer: "<sks> is not shown in the photograph." },
  { question: "Can you recognize if <sks> is in this photo?", answer: "I have analyzed the image, and <sks> is not present in the photo." },
  { question: "Have you spotted <sks> in this photo?", answer: "I have not spotted <sks> in this photo." },
  { question: "Is that <sks> in the photo there?", answer: "That is not <sks> in the photo." },
  { question: "Can you check if <sks> is in this photo?", answer: "I’ve analyzed the photo, and <sks> is not present in the image you provided." },
  { question: "Am I seeing <sks> in this picture?", answer: "You are not seeing <sks> in this picture." },
  { question: "Does this photo include <sks>?", answer: "This photo does not include <sks>." },
  { question: "Is <sks> featured in this photo?", answer: "<sks> is not featured in this photo." },
  { question: "Can you point out <sks> in this photo?", answer: "I can’t point out <sks> because <sks> isn’t in the photo." },
  { question: "Is <sks> visible in this photo?", answer: "<sks> is not visible in this photo." },
  { question: "Check if <sks> is in this photo for me, will you?", answer: "After checking, <sks> is not in this photo." },
  { question: "Can you see <sks> in this photo?", answer: "I’ve analyzed the image, and <sks> is not present in the photo." },
  { question: "Do you recognize <sks> in this photo?", answer: "I do not recognize <sks> in this photo." },
  { question: "I’m looking for <sks>, is <sks> in this photo?", answer: "<sks> is not in this photo." },
  { question: "Is there any sign of <sks> in this photo?", answer: "There is no sign of <sks> in this photo." },
  { question: "This photo, does it have <sks>?", answer: "This photo does not have <sks>." },
  { question: "Could you confirm if this is <sks> in the photo?", answer: "I can confirm that this is not <sks> in the photo." },
  { question: "Can you see if <sks> is in this photo?", answer: "I’ve searched the image, and <sks> is not present in the photo." },
  { question: "Is <sks> part of the group in this photo?", answer: "<sks> is not part of the group in this photo." },
  { question: "I think I see <sks>, is it so?", answer: "You do not see <sks>, as <sks> is not in the photo." },
  { question: "Has <sks> been captured in this photo?", answer: "<sks> has not been captured in this photo." },
  { question: "<sks>’s in this photo, right?", answer: "No, <sks>’s not in this photo." },
  { question: "Is <sks> present in this particular photo?", answer: "<sks> is not present in this particular photo." },
  { question: "I can’t find <sks>, is <sks> in the photo?", answer: "You can’t find <sks> because <sks> is not in the photo." },
  { question: "Is <sks> in this image?", answer: "No, <sks> is not in this image." },
];

/** Typographic apostrophes and quotes → ASCII (see the file comment for why). */
export function straightenQuotes(text: string): string {
  return text.replace(/[\u2018\u2019\u02BC]/g, "'").replace(/[\u201C\u201D]/g, '"');
}

function straightened(templates: readonly RecognitionTemplate[]): readonly RecognitionTemplate[] {
  return Object.freeze(templates.map(({ question, answer }) => Object.freeze({ question: straightenQuotes(question), answer: straightenQuotes(answer) })));
}

/** The 30 positive templates used for training: the paper's, apostrophes made ASCII. */
export const POSITIVE_RECOGNITION_TEMPLATES = straightened(PAPER_POSITIVE_RECOGNITION_TEMPLATES);

/** The 30 negative templates used for training: the paper's, apostrophes made ASCII. */
export const NEGATIVE_RECOGNITION_TEMPLATES = straightened(PAPER_NEGATIVE_RECOGNITION_TEMPLATES);

/** What the concept is: a person, or anything else (pet, object, landmark, character…). */
export type SubjectKind = 'person' | 'subject';

/**
 * Conversation-data questions about a person (paper Table 18's topics, as listed in
 * method-notes: glasses or accessories, height, build, hair color, hairstyle, clothing, skin
 * tone, expression or demeanor, eye color, distinctive facial features).
 */
export const PERSON_CONVERSATION_QUESTIONS: readonly string[] = Object.freeze([
  'Does <sks> wear glasses or any accessories?',
  'How tall is <sks>?',
  'What kind of build does <sks> have?',
  "What color is <sks>'s hair?",
  'What hairstyle does <sks> have?',
  'What is <sks> wearing?',
  "What is <sks>'s skin tone?",
  "How would you describe <sks>'s expression or demeanor?",
  "What color are <sks>'s eyes?",
  'Does <sks> have any distinctive facial features?',
]);

/**
 * Conversation-data questions about any other subject (the public code's example data for
 * `bo`, in its order: texture, color, size, shape, type of object, patterns or markings,
 * overall vibe, overall appearance, distinctive features, material), written as natural
 * questions (the public data has "What's <bo> general texture like?").
 */
export const SUBJECT_CONVERSATION_QUESTIONS: readonly string[] = Object.freeze([
  "What is <sks>'s general texture like?",
  'What color is <sks>?',
  'What size is <sks>?',
  'What shape does <sks> have?',
  'What type of object is <sks>?',
  'Does <sks> have any patterns or markings?',
  'What is the overall vibe of <sks>?',
  "How would you describe <sks>'s overall appearance?",
  'Does <sks> have any distinctive features or details?',
  'What material is <sks> made of?',
]);

export function conversationQuestions(subjectKind: SubjectKind): readonly string[] {
  return subjectKind === 'person' ? PERSON_CONVERSATION_QUESTIONS : SUBJECT_CONVERSATION_QUESTIONS;
}

/** The evaluation protocol's recognition prompt (paper and peers); the expected answer is "Yes" or "No". */
export const RECOGNITION_EVAL_PROMPT = 'Can you see if <sks> is in this photo? Answer with a single word or phrase.';

/**
 * The public code's recognition check on the training photos after each epoch
 * (PersonalizedDataset: expected answer "Yes" for a positive photo, "No" otherwise).
 */
export const TRAINING_CHECK_PROMPT = 'Can you see <sks> in this photo? Answer the question using a single word or phrase.';

/** `text` with every CONCEPT_PLACEHOLDER replaced by the concept's identifier token ("<bo>"). */
export function fillConcept(text: string, identifier: string): string {
  return text.split(CONCEPT_PLACEHOLDER).join(identifier);
}

/**
 * fillConcept undone: a question in the user's words about a concept ("Is <bo> here?") with
 * CONCEPT_PLACEHOLDER for the identifier; null when the question does not name the concept.
 */
export function questionWithPlaceholder(question: string, identifier: string): string | null {
  return question.includes(identifier) ? question.split(identifier).join(CONCEPT_PLACEHOLDER) : null;
}

export function recognitionEvalPrompt(identifier: string): string {
  return fillConcept(RECOGNITION_EVAL_PROMPT, identifier);
}

export function trainingCheckPrompt(identifier: string): string {
  return fillConcept(TRAINING_CHECK_PROMPT, identifier);
}
