/**
 * Concepts attached to a loaded model: their tokens added to the tokenizer at run time (no
 * file rewritten), with ids from the model's vocabulary size on, unique per concept, and the
 * extra rows the model reads (`ExtraTokens`). Any number of concepts can be attached at once.
 */
import type { ExtraTokens } from '../models/llava.ts';
import type { VisionLanguageModel } from '../models/VisionLanguageModel.ts';
import { Concept, ConceptError } from './Concept.ts';
import { modelIdentity, sameModel, type ModelIdentity } from './modelIdentity.ts';

/** Which attached concepts' personalization text a prompt carries (ConceptSet.personalizationFor). */
export type PersonalizationMode = 'mentioned' | 'all';
export const PERSONALIZATION_MODES: readonly PersonalizationMode[] = ['mentioned', 'all'];

/** The mode a user wrote (absent: 'mentioned'), or null when it is not one. */
export function personalizationMode(value: string | undefined): PersonalizationMode | null {
  if (value === undefined) return 'mentioned';
  return (PERSONALIZATION_MODES as readonly string[]).includes(value) ? (value as PersonalizationMode) : null;
}

export class ConceptSet {
  private readonly attached: Concept[] = [];
  private readonly firstIds = new Map<string, number>();
  private identity: ModelIdentity | null = null;
  private cachedExtra: ExtraTokens | null = null;

  constructor(readonly vlm: VisionLanguageModel) {}

  get concepts(): readonly Concept[] { return this.attached; }

  /** The base model's identity (computed once). */
  get modelIdentity(): ModelIdentity {
    return (this.identity ??= modelIdentity(this.vlm.model));
  }

  /** Adds a concept's tokens; refuses one trained for another model or whose name is taken. */
  add(concept: Concept): void {
    if (!sameModel(concept.info.baseModel, this.modelIdentity)) {
      throw new ConceptError(`concept ${concept.name} was trained for another base model (${concept.info.baseModel.source}); it cannot be used with ${this.vlm.source}`);
    }
    if (this.firstIds.has(concept.name)) throw new ConceptError(`a concept named ${concept.name} is already loaded`);
    const tokenizer = this.vlm.tokenizer;
    const clash = concept.tokens.find((token) => tokenizer.tokenToId(token) !== undefined && tokenizer.tokenToId(token) !== null);
    if (clash) throw new ConceptError(`token ${clash} of concept ${concept.name} already exists in the tokenizer`);
    // Ids after both the embedding table and every token the tokenizer knows (earlier concepts included).
    const start = Math.max(this.vlm.model.vocabSize, tokenizer.vocabSize);
    tokenizer.addTokens(concept.tokens, { ids: concept.tokens.map((_, i) => start + i), special: true });
    this.firstIds.set(concept.name, start);
    this.attached.push(concept);
    this.cachedExtra = null;
  }

  remove(name: string): void {
    const index = this.attached.findIndex((c) => c.name === name);
    if (index < 0) throw new ConceptError(`no concept named ${name} is loaded`);
    this.vlm.tokenizer.removeTokens(this.attached[index].tokens);
    this.attached.splice(index, 1);
    this.firstIds.delete(name);
    this.cachedExtra = null;
  }

  get(name: string): Concept {
    const concept = this.attached.find((c) => c.name === name);
    if (!concept) throw new ConceptError(`no concept named ${name} is loaded (loaded: ${this.attached.map((c) => c.name).join(', ') || 'none'})`);
    return concept;
  }

  /**
   * The concepts whose personalization text a conversation's prompt carries: every attached one
   * (or those in `among`, by name) whose identifier ("<bo>") appears in `texts`, or all of them
   * with `mode` 'all'. Only the named ones by default: another concept's text in the prompt costs
   * questions about anything else (the forgetting measure: visual QA 0.830 → 0.742 on c10).
   */
  personalizedConcepts(texts: readonly string[], mode: PersonalizationMode = 'mentioned', among?: readonly string[]): Concept[] {
    const candidates = among ? this.attached.filter((c) => among.includes(c.name)) : this.attached;
    return mode === 'all' ? [...candidates] : candidates.filter((c) => texts.some((text) => text.includes(c.identifier)));
  }

  /** Their personalization text, joined; undefined when none applies (see personalizedConcepts). */
  personalizationFor(texts: readonly string[], mode: PersonalizationMode = 'mentioned', among?: readonly string[]): string | undefined {
    return this.personalizedConcepts(texts, mode, among).map((c) => c.personalization).join(' ') || undefined;
  }

  /** Token id of `<name>` (its first token). */
  identifierId(name: string): number {
    const id = this.firstIds.get(name);
    if (id === undefined) throw new ConceptError(`no concept named ${name} is loaded`);
    return id;
  }

  /**
   * The rows the model reads for every attached concept. Input row i is token id V + i, so
   * the ids of all concepts must form one block after V: they do, as `add` allocates them
   * contiguously; gaps (after a removal) are filled with zero rows.
   */
  extraTokens(): ExtraTokens {
    if (this.cachedExtra) return this.cachedExtra;
    const C = this.vlm.model.hiddenSize;
    const V = this.vlm.model.vocabSize;
    const lastId = Math.max(V, ...this.attached.map((c) => this.firstIds.get(c.name)! + c.tokens.length));
    const inputRows = new Float32Array((lastId - V) * C);
    const outputRows = new Float32Array(this.attached.length * C);
    const outputIds: number[] = [];
    this.attached.forEach((concept, i) => {
      const first = this.firstIds.get(concept.name)!;
      inputRows.set(concept.inputRows, (first - V) * C);
      outputRows.set(concept.outputRow, i * C);
      outputIds.push(first);
    });
    return (this.cachedExtra = { inputRows, outputRows, outputIds });
  }

  /** Call after a concept's rows changed in place (training). */
  invalidate(): void {
    this.cachedExtra = null;
  }
}
