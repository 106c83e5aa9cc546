/**
 * A tiny checkpoint (tinyCheckpoint.ts, 3 photos) and a library in a temporary home holding one
 * concept, <bo> (k = 2, one epoch on photo 0 against photo 1), trained through the API.
 * Everything is removed when the test ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { buildConceptData } from '../../src/personalize/conceptData.ts';
import { ConceptLibrary } from '../../src/personalize/ConceptLibrary.ts';
import { trainConcept } from '../../src/personalize/trainConcept.ts';
import { makeTinyCheckpoint, type TinyCheckpoint } from './tinyCheckpoint.ts';

export interface TinyConceptLibrary {
  readonly tiny: TinyCheckpoint;
  /** A YOLLAVA_HOME for the test; the library is its concepts/ folder. */
  readonly home: string;
  readonly library: ConceptLibrary;
  /** The model the concept was trained on (its tokenizer is as it was before training). */
  readonly vlm: VisionLanguageModel;
}

export async function makeTinyConceptLibrary(t: { after: (fn: () => void) => void }): Promise<TinyConceptLibrary> {
  const tiny = await makeTinyCheckpoint(t, { photos: 3 });
  const home = mkdtempSync(join(tmpdir(), 'yollava-home-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const vlm = await VisionLanguageModel.load(tiny.dir);
  const data = buildConceptData({ name: 'bo', positives: [tiny.photos[0]], easyNegatives: [tiny.photos[1]], questionsPerPositive: 2 });
  const { concept } = await trainConcept(vlm, data, { latentCount: 2, epochs: 1 });
  const library = new ConceptLibrary(join(home, 'concepts'));
  library.save(concept, data);
  return { tiny, home, library, vlm };
}
