/** The generated world: individuals, scenes, the instruction corpus and the benchmark set. */
export { Rng, hashSeed } from './Rng.ts';
export { PALETTE, HAIR_RGB, SKIN_RGB, EYE_RGB, colorDistance, type Rgb, type ColorName } from './palette.ts';
export {
  KINDS,
  KIND_SCHEMAS,
  BENCHMARK_KIND_COUNTS,
  attributeSpec,
  combinationCount,
  type Kind,
  type AttributeSpec,
  type Individual,
} from './kindSchemas.ts';
export {
  randomIndividual,
  individualKey,
  individualIndex,
  validateIndividual,
  sameIndividual,
  attributeDistance,
  differingAttributes,
  withAttribute,
  lookAlikes,
  randomLookAlike,
} from './individuals.ts';
export {
  DEFAULT_BENCHMARK_SEED,
  HELD_OUT_DISTANCE,
  createWorldSplit,
  isHeldOut,
  randomTrainingIndividual,
  heldOutShare,
  type WorldSplit,
  type BenchmarkSubject,
} from './createWorldSplit.ts';
export { describeIndividual, featurePhrases, typeNoun, KIND_NOUNS } from './describeIndividual.ts';
export {
  attributeQuestion,
  attributeAnswer,
  attributeValueAnswer,
  attributeCheckQuestion,
  distractorValues,
  multipleChoicePrompt,
  randomAttributeCheck,
  subjectRef,
  type SubjectRef,
} from './attributeQuestions.ts';
export { BACKGROUNDS, type BackgroundName } from './drawBackground.ts';
export { PROPS, type PropName } from './drawProp.ts';
export { POSES_BY_KIND, type PoseName } from './sprites/poses.ts';
export { spriteSize } from './sprites/drawIndividual.ts';
export {
  IMAGE_SIZE,
  LIGHTINGS,
  renderScene,
  mirrorScene,
  positionWord,
  lightingGain,
  type SceneSpec,
  type EntitySpec,
  type PropSpec,
  type LightingName,
  type PositionWord,
  type SceneDescription,
  type EntityDescription,
  type PropDescription,
  type RenderedScene,
} from './renderScene.ts';
export { composeScene, MIN_SCALE, MAX_SCALE, type ComposeOptions } from './composeScene.ts';
export { drawAlone, measureAttributeWidths, largestDifferingSquare, type AttributeWidth } from './measureAttributeWidths.ts';
export {
  CORPUS_TASKS,
  DEFAULT_CORPUS_MIX,
  DEFAULT_KIND_WEIGHTS,
  PLACEHOLDER_NAMES,
  SUBJECT_PLACEHOLDER,
  buildInstructionCorpus,
  instructionSample,
  recognitionEvalQuestion,
  writtenListing,
  attributeCompareTurn,
  entityReferences,
  entityIndividual,
  type CorpusTask,
  type CorpusTurn,
  type CorpusSample,
  type CorpusOptions,
  type RecognitionOptions,
} from './buildInstructionCorpus.ts';
export { WORLD_VOCABULARY, PUNCTUATION_TOKENS, NAME_TOKENS, tokenizeWorldText, unknownWords, isInVocabulary } from './vocabulary.ts';
export {
  BENCHMARK_FOLDER,
  benchmarkIsCurrent,
  WORLD_VERSION,
  writeBenchmark,
  type WriteBenchmarkOptions,
  type BenchmarkSummary,
  type BenchmarkProgress,
  type QaEntry,
} from './writeBenchmark.ts';
export { encodePng } from './encodePng.ts';
