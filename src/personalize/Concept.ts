/**
 * A learned concept: its identifier token `<name>`, k latent tokens `<name_0>…`, their k+1
 * input-embedding rows and the one lm_head row of `<name>`, and what it was trained on and
 * how. Stored as one small safetensors file (rows as tensors, everything else as JSON in the
 * header's metadata), written atomically.
 */
import { readSafetensors, readSafetensorsHeader, SafetensorsError, writeSafetensors } from '../engine/safetensors.ts';
import { personalizationPrefix } from '../models/prompts.ts';
import { checkConceptName } from './conceptData.ts';
import type { ModelIdentity } from './modelIdentity.ts';

export const CONCEPT_FORMAT = 'yollava-concept/1';

export interface EpochMetrics {
  /** 0: the starting rows, measured before any training (they can be the best). */
  readonly epoch: number;
  /** Mean training loss of the epoch; null for epoch 0. */
  readonly loss: number | null;
  /** Recognition accuracy on the training photos: positives, negatives, and their mean. */
  readonly positiveAccuracy: number;
  readonly negativeAccuracy: number;
  readonly weightedAccuracy: number;
  readonly seconds: number;
}

/** Where trainConcept set a concept's Yes/No boundary (ConceptInfo.operatingPoint). */
export interface OperatingPoint {
  readonly targetFalsePositiveRate: number;
  /** How many held-out negatives it was set on. */
  readonly heldOutNegatives: number;
  /** Their share answered "Yes" by the best epoch's rows, and after the move. */
  readonly falsePositiveRateBefore: number;
  readonly falsePositiveRate: number;
  /** How far the rows moved, as a fraction of their norm (negative: towards "No"). */
  readonly shift: number;
  /** Which way it moved (trainConcept's boundaryDirection); absent in concepts made before it was a choice: 'photos'. */
  readonly direction?: 'photos' | 'mean' | 'uniform';
}

export interface ConceptInfo {
  readonly name: string;
  /** Latent tokens (k). */
  readonly latentCount: number;
  readonly baseModel: ModelIdentity & { readonly source: string };
  readonly training: Readonly<Record<string, unknown>>;
  readonly data: Readonly<Record<string, unknown>>;
  readonly epochs: readonly EpochMetrics[];
  /** The epoch whose rows are stored (best weighted recognition accuracy). */
  readonly bestEpoch: number | null;
  readonly createdAt: string;
  /** Where the Yes/No boundary was set after training (absent: the best epoch's rows as they were). */
  readonly operatingPoint?: OperatingPoint;
  /**
   * A description kept as words in the personalization text, after the latent tokens ("… <bo> is
   * a small brown dog with a red collar."), trained with it (trainConcept's descriptionInPrompt);
   * absent: the paper's text alone.
   */
  readonly text?: string;
}

export class ConceptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConceptError';
  }
}

export class Concept {
  constructor(
    readonly info: ConceptInfo,
    /** [k + 1, C]: `<name>` then `<name_0>` … `<name_{k−1}>`. */
    readonly inputRows: Float32Array,
    /** [C]: the lm_head row of `<name>`. */
    readonly outputRow: Float32Array,
  ) {
    checkConceptName(info.name);
    const C = info.baseModel.hiddenSize;
    if (inputRows.length !== (info.latentCount + 1) * C) throw new ConceptError(`concept ${info.name}: ${inputRows.length} input values for ${info.latentCount + 1} rows of ${C}`);
    if (outputRow.length !== C) throw new ConceptError(`concept ${info.name}: output row of ${outputRow.length} values, expected ${C}`);
  }

  get name(): string { return this.info.name; }
  get identifier(): string { return `<${this.info.name}>`; }
  get latentTokens(): string[] { return Array.from({ length: this.info.latentCount }, (_, i) => `<${this.info.name}_${i}>`); }
  /** All its tokens, identifier first, in the order of inputRows. */
  get tokens(): string[] { return [this.identifier, ...this.latentTokens]; }
  /** Yo'LLaVA's personalization text: "<bo> is <bo_0>…<bo_15>.", then the concept's text if it has one. */
  get personalization(): string {
    const paper = personalizationPrefix(this.identifier, this.latentTokens);
    return this.info.text ? `${paper} ${this.identifier} is ${this.info.text}.` : paper;
  }

  withName(name: string): Concept {
    return new Concept({ ...this.info, name }, this.inputRows, this.outputRow);
  }

  save(file: string): void {
    const C = this.info.baseModel.hiddenSize;
    writeSafetensors(file, {
      input_rows: { shape: [this.info.latentCount + 1, C], data: this.inputRows },
      output_row: { shape: [1, C], data: this.outputRow },
    }, { format: CONCEPT_FORMAT, concept: JSON.stringify(this.info) });
  }

  static load(file: string): Concept {
    let tensors;
    let metadata: Record<string, string>;
    try {
      tensors = readSafetensors(file);
      metadata = { ...readSafetensorsHeader(file).metadata };
    } catch (error) {
      if (error instanceof SafetensorsError) throw new ConceptError(error.message);
      throw error;
    }
    if (metadata.format !== CONCEPT_FORMAT) throw new ConceptError(`${file}: not a yollava concept file (format ${JSON.stringify(metadata.format ?? null)}, expected ${CONCEPT_FORMAT})`);
    let info: ConceptInfo;
    try {
      info = JSON.parse(metadata.concept);
    } catch {
      throw new ConceptError(`${file}: the concept metadata is not valid JSON`);
    }
    const input = tensors.get('input_rows');
    const output = tensors.get('output_row');
    if (!input || input.dtype !== 'F32' || !output || output.dtype !== 'F32') throw new ConceptError(`${file}: input_rows and output_row (F32) are required`);
    try {
      return new Concept(info, input.data as Float32Array, output.data as Float32Array);
    } catch (error) {
      throw new ConceptError(`${file}: ${(error as Error).message}`);
    }
  }
}
