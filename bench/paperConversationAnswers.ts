/**
 * How well a base model answers the paper's conversation questions — the answers a concept's
 * conversation data is made of — on the world benchmark's training photos, against the ground
 * truth (src/world/paperConversation.ts). Per question: the share of answers equal to the
 * ground-truth sentence, and the share naming the key value (main colour, type, hair colour…).
 *
 *   node --import tsx bench/paperConversationAnswers.ts [--model models/yollava-world] [--dataset ~/.yollava/eval/world-0] [--photos 1]
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { generateConversations } from '../src/personalize/conversations.ts';
import { conversationQuestions, CONCEPT_PLACEHOLDER } from '../src/personalize/recognitionTemplates.ts';
import type { Individual } from '../src/world/index.ts';
import { paperConversationTurns } from '../src/world/paperConversation.ts';

const { values } = parseArgs({ options: { model: { type: 'string' }, dataset: { type: 'string' }, photos: { type: 'string' } } });
const root = join(values.dataset ?? join(homedir(), '.yollava/eval/world-0'), 'yollava-data');
const photosPerSubject = Number(values.photos ?? 1);
const world = JSON.parse(readFileSync(join(root, 'world.json'), 'utf8')) as { subjects: Record<string, Individual & { train: string[] }> };
const vlm = await VisionLanguageModel.load(values.model ?? 'models/yollava-world');

/** The word a right answer names, per question (null: no single key value). */
function keyValue(ind: Individual, question: number): string | null {
  const a = ind.attributes;
  if (ind.kind === 'person') return [null, a.height, null, a.hairColor, a.hairStyle, a.shirtColor, a.skin, null, null, null][question] ?? null;
  const main = { pet: a.furColor, landmark: a.wallColor, object: a.color, character: a.color }[ind.kind];
  const type = { pet: a.species, landmark: a.type, object: a.type, character: a.type }[ind.kind];
  return [null, main, null, null, type, null, null, type, null, null][question] ?? null;
}

interface Row { answers: number; exact: number; keyed: number; named: number }
const rows = new Map<string, Row>();
for (const [name, subject] of Object.entries(world.subjects)) {
  const ind: Individual = { kind: subject.kind, attributes: subject.attributes };
  const kind = ind.kind === 'person' ? 'person' : 'subject';
  const questions = conversationQuestions(kind);
  const truth = paperConversationTurns(ind);
  const photos = subject.train.slice(0, photosPerSubject).map((p) => join(root, '..', p));
  for (const pair of await generateConversations(vlm, photos, { subjectKind: kind, identifier: CONCEPT_PLACEHOLDER })) {
    const q = questions.indexOf(pair.question);
    const row = rows.get(pair.question) ?? { answers: 0, exact: 0, keyed: 0, named: 0 };
    rows.set(pair.question, row);
    row.answers++;
    const expected = truth[q]!.assistant.replace(kind === 'person' ? /Riley/g : /this subject/gi, CONCEPT_PLACEHOLDER);
    if (pair.answer === expected) row.exact++;
    const key = keyValue(ind, q);
    if (key) { row.keyed++; if (new RegExp(`\\b${key}\\b`, 'i').test(pair.answer)) row.named++; }
  }
  process.stderr.write(`${name} `);
}
process.stderr.write('\n');
console.log('| question | answers | equal to the truth | naming the key value |\n| --- | ---: | ---: | ---: |');
for (const [question, row] of rows) {
  console.log(`| ${question} | ${row.answers} | ${(row.exact / row.answers).toFixed(2)} | ${row.keyed ? (row.named / row.keyed).toFixed(2) : '–'} |`);
}
const all = [...rows.values()].reduce((a, r) => ({ answers: a.answers + r.answers, exact: a.exact + r.exact, keyed: a.keyed + r.keyed, named: a.named + r.named }), { answers: 0, exact: 0, keyed: 0, named: 0 });
console.log(`| all | ${all.answers} | ${(all.exact / all.answers).toFixed(2)} | ${(all.named / all.keyed).toFixed(2)} |`);
