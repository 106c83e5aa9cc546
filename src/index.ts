/**
 * yollava's public API. Layers, each depending only on the ones above it:
 * engine (kernels, safetensors, AdamW) → models (LLaVA, tokenizer, images) → personalize → eval.
 */
// engine
export type { Kernels, Matrix, WeightDType } from './engine/kernels.ts';
export { getKernels, setKernels } from './engine/backend.ts';
export { jsKernels } from './engine/jsKernels.ts';
export { loadNativeKernels } from './engine/nativeKernels.ts';
export { AdamW, type AdamWOptions, type Parameter } from './engine/adamw.ts';
export { readSafetensors, readSafetensorsHeader, writeSafetensors, SafetensorsError, type StoredTensor } from './engine/safetensors.ts';
// models
export { ModelLoadError, parseLlavaConfig, type LlavaConfig } from './models/config.ts';
export { loadLlava, readLlavaConfig, sanitizeName, type LoadOptions, type LoadProgress, type LoadedLlava } from './models/loadLlava.ts';
export { saveLlava, llavaConfigJson } from './models/saveLlava.ts';
export {
  LlavaModel, NO_EXTRA_TOKENS,
  type ExtraTokens, type SequenceInput, type LossInput, type LossOptions, type LossResult, type LlavaWeightGrads,
  type GenerateOptions, type GenerateResult,
} from './models/llava.ts';
export { KVCache } from './models/kvCache.ts';
export { Decoder, newDecoderLayerGrads, type DecoderConfig } from './models/decoder.ts';
export { VisionTower, newVisionGrads, type VisionConfig } from './models/visionTower.ts';
export { ConvVisionTower, type ConvVisionConfig, type ConvVisionWeights, type ConvVisionGrads } from './models/convVisionTower.ts';
export type { VisionEncoder, VisionEncoderConfig } from './models/visionEncoder.ts';
export { Projector } from './models/projector.ts';
export { createRandomLlava, type RandomInit } from './models/randomLlava.ts';
export { verifyReference, ReferenceError, type VerifyRow } from './models/verifyReference.ts';
export { VisionLanguageModel, type ChatTurn, type PromptOptions, type GenerateTextOptions, type GeneratedText, type PromptFormat } from './models/VisionLanguageModel.ts';
export { Tokenizer, TokenizerError } from './models/Tokenizer.ts';
export * from './models/prompts.ts';
export * from './models/image/index.ts';
// personalize
export { Concept, ConceptError, type ConceptInfo, type EpochMetrics, type OperatingPoint } from './personalize/Concept.ts';
export { ConceptSet, type PersonalizationMode } from './personalize/ConceptSet.ts';
export { ConceptLibrary, defaultLibraryDir } from './personalize/ConceptLibrary.ts';
export { buildConceptData, type ConceptData, type TrainingSample, type ConversationPair, type SampleKind, type RecognitionAnswerStyle } from './personalize/conceptData.ts';
export { describeSubject, describeSubjectFromPhotos, descriptionFromCaption, descriptionPrompt, mostAgreed, wordOverlap } from './personalize/describeSubject.ts';
export { saveConceptData, loadConceptData } from './personalize/conceptDataFile.ts';
export { exportPublicJson, importPublicJson } from './personalize/publicJson.ts';
export { generateConversations } from './personalize/conversations.ts';
export { trainConcept, balancedNegativeWeight, setDescriptionRows, photoStartRows, DEFAULT_EPOCHS, PAPER_EPOCHS, HARD_NEGATIVE_SHARE, DEFAULT_CROP_PROBABILITY, DEFAULT_FALSE_POSITIVE_RATE, MAX_SHIFT, searchShift, boundaryShare, type BoundaryAnswers, type TrainConceptOptions, type TrainProgress, type TrainConceptResult } from './personalize/trainConcept.ts';
export { createConcept, prepareConceptData, heldOutNegatives, PAPER_RECIPE, DEFAULT_HELD_OUT_COUNT, DEFAULT_DESCRIBED_PHOTOS, type CreateConceptOptions, type CreateConceptProgress } from './personalize/createConcept.ts';
export { recognize, RecognitionQuestion, type RecognitionResult, type RecognitionPhoto, type RecognizeOptions } from './personalize/recognize.ts';
export { explainConcept } from './personalize/explainConcept.ts';
export { ImageIndex, hardNegatives, easyNegatives } from './personalize/ImageIndex.ts';
export { visionTowerEmbedder, clipEmbedder, type ImageEmbedder } from './personalize/imageEmbedder.ts';
export * from './personalize/recognitionTemplates.ts';
// eval
export { runEvaluation, type EvalOptions, type EvalProgress, type EvalRunResult } from './eval/runEvaluation.ts';
export { readEvalDataset, DatasetError, type EvalDataset, type EvalSubject } from './eval/dataset.ts';
export { weightedAccuracy, recognitionScores, rocAuc } from './eval/metrics.ts';
export * from './eval/parseAnswers.ts';
// interfaces
export { YollavaServer, type YollavaServerOptions } from './server/YollavaServer.ts';
