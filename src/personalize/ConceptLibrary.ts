/**
 * The user's concepts: a folder holding, per concept, `<name>.concept.safetensors` (the rows
 * and metadata) and `<name>.data.json` (its training data, to continue training later with
 * more photos). Default folder: $YOLLAVA_HOME/concepts, else ~/.yollava/concepts.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readSafetensorsHeader } from '../engine/safetensors.ts';
import { Concept, ConceptError, type ConceptInfo } from './Concept.ts';
import { checkConceptName, type ConceptData } from './conceptData.ts';
import { loadConceptData, saveConceptData } from './conceptDataFile.ts';

export function defaultLibraryDir(): string {
  return join(process.env.YOLLAVA_HOME ?? join(homedir(), '.yollava'), 'concepts');
}

export interface LibraryEntry {
  readonly name: string;
  readonly file: string;
  readonly info: ConceptInfo;
}

const CONCEPT_SUFFIX = '.concept.safetensors';
const DATA_SUFFIX = '.data.json';

export class ConceptLibrary {
  constructor(readonly dir: string = defaultLibraryDir()) {}

  conceptFile(name: string): string { return join(this.dir, `${name}${CONCEPT_SUFFIX}`); }
  dataFile(name: string): string { return join(this.dir, `${name}${DATA_SUFFIX}`); }

  /** Photos uploaded to `yollava serve` to learn concepts from, one folder per concept. */
  get uploadsDir(): string { return join(this.dir, 'uploads'); }

  has(name: string): boolean { return existsSync(this.conceptFile(name)); }

  /** Where an interrupted training run of `name` keeps its state (the folder is created). */
  trainingCheckpointFile(name: string): string {
    mkdirSync(this.dir, { recursive: true });
    return join(this.dir, `${name}.training.safetensors`);
  }

  list(): LibraryEntry[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((f) => f.endsWith(CONCEPT_SUFFIX)).sort().flatMap((f) => {
      const file = join(this.dir, f);
      try {
        const metadata = readSafetensorsHeader(file).metadata;
        const info = JSON.parse(metadata.concept) as ConceptInfo;
        return [{ name: info.name, file, info }];
      } catch {
        return []; // not a concept file: listed by `show` errors, not here
      }
    });
  }

  load(name: string): Concept {
    if (!this.has(name)) throw new ConceptError(`no concept "${name}" in ${this.dir} (have: ${this.list().map((e) => e.name).join(', ') || 'none'})`);
    return Concept.load(this.conceptFile(name));
  }

  loadData(name: string): ConceptData | null {
    return existsSync(this.dataFile(name)) ? loadConceptData(this.dataFile(name)) : null;
  }

  /** Saves a concept (and its training data), replacing one of the same name. */
  save(concept: Concept, data?: ConceptData): string {
    mkdirSync(this.dir, { recursive: true });
    concept.save(this.conceptFile(concept.name));
    if (data) saveConceptData(this.dataFile(concept.name), data);
    return this.conceptFile(concept.name);
  }

  rename(from: string, to: string): void {
    checkConceptName(to);
    if (this.has(to)) throw new ConceptError(`a concept named "${to}" already exists in ${this.dir}`);
    const concept = this.load(from).withName(to);
    const data = this.loadData(from);
    this.save(concept, data ? renameData(data, from, to) : undefined);
    this.delete(from);
  }

  delete(name: string): void {
    if (!this.has(name)) throw new ConceptError(`no concept "${name}" in ${this.dir}`);
    // Photos uploaded to `yollava serve` for this concept live in a folder of uploadsDir: they go with it.
    const uploads = resolve(this.uploadsDir);
    let photos: string[] = [];
    try {
      photos = this.loadData(name)?.samples.filter((s) => s.kind === 'positive' && s.image).map((s) => resolve(s.image!)) ?? [];
    } catch {
      // unreadable training data: the concept is deleted all the same
    }
    for (const folder of new Set(photos.filter((p) => dirname(dirname(p)) === uploads).map((p) => dirname(p)))) rmSync(folder, { recursive: true, force: true });
    rmSync(this.conceptFile(name));
    rmSync(this.dataFile(name), { force: true });
    rmSync(join(this.dir, `${name}.training.safetensors`), { force: true });
  }

  /** Copies the concept file out (a single portable file; the training data stays here). */
  export(name: string, file: string): void {
    if (!this.has(name)) throw new ConceptError(`no concept "${name}" in ${this.dir}`);
    const temp = `${file}.${process.pid}.tmp`;
    copyFileSync(this.conceptFile(name), temp);
    renameSync(temp, file);
  }

  /** Adds a concept file to the library, under its own name or `name`. */
  import(file: string, options: { name?: string; overwrite?: boolean } = {}): Concept {
    return this.add(Concept.load(file), options);
  }

  /** Adds a concept (read from elsewhere) under its own name or `name`. */
  add(loaded: Concept, options: { name?: string; overwrite?: boolean } = {}): Concept {
    const concept = options.name ? loaded.withName(options.name) : loaded;
    if (this.has(concept.name) && !options.overwrite) {
      throw new ConceptError(`a concept named "${concept.name}" already exists in ${this.dir}; import it under another name (--name) or overwrite it`);
    }
    // The concept replaced goes whole: its training data and uploaded photos belong to it, not to the import.
    if (this.has(concept.name)) this.delete(concept.name);
    this.save(concept);
    return concept;
  }
}

/** The same data with `<from>` replaced by `<to>` everywhere. */
export function renameData(data: ConceptData, from: string, to: string): ConceptData {
  const swap = (text: string) => text.split(`<${from}>`).join(`<${to}>`);
  return {
    ...data,
    name: to,
    identifier: `<${to}>`,
    samples: data.samples.map((s) => ({ ...s, question: swap(s.question), answer: swap(s.answer) })),
  };
}

