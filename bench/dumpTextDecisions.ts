/**
 * Dumps the world corpus's text-only tasks (answers from a description in the prompt, and
 * questions about kinds) as fixed-width token rows, for the PyTorch reference of how many
 * samples the decoder needs to learn them (bench/peer/text_decisions_reference.py).
 *
 *   node --import tsx bench/dumpTextDecisions.ts [--out DIR] [--samples N]
 *
 * Writes DIR/ids.bin (uint16 [N, 128]), DIR/mask.bin (uint8 [N, 128]: 0 no loss, 1 answer token,
 * 2 the first answer token of a turn, the decision; 3 the decision of a two-option turn, the
 * letter) and DIR/task.bin (uint8 [N]: 0 description,
 * 1 kind), tokenized with models/yollava-world's tokenizer in the llava_v1 layout pretraining uses.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tokenizer } from '../src/models/Tokenizer.ts';
import { encodeTurns, LETTER_DECISION } from '../src/pretrain/encodeSample.ts';
import { instructionSample } from '../src/world/index.ts';

const ROW = 128;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'gpu' }, samples: { type: 'string', default: '100000' } } });
  const count = Number(values.samples);
  const tokenizer = await Tokenizer.fromDirectory('models/yollava-world');
  const imageTokenId = tokenizer.tokenToId('<image>')!;
  const ids = new Uint16Array(count * ROW);
  const mask = new Uint8Array(count * ROW);
  const task = new Uint8Array(count);
  const mix = { caption: 0, attribute: 0, existence: 0, counting: 0, position: 0, mcq: 0, conversation: 0, recognition: 0, description_text: 1, description_image: 0, kind_text: 0.25 };
  let n = 0;
  for (let i = 0; n < count; i++) {
    const sample = instructionSample({ seed: 5, mix }, i);
    const encoded = encodeTurns(tokenizer, sample.turns, false, imageTokenId, 0);
    if (encoded.ids.length > ROW) continue;
    encoded.ids.forEach((id, t) => {
      ids[n * ROW + t] = id;
      const letter = encoded.decisions[t] === LETTER_DECISION;
      mask[n * ROW + t] = encoded.labels[t] === -100 ? 0 : encoded.decisions[t] ? (letter ? 3 : 2) : 1;
    });
    task[n++] = sample.task === 'kind_text' ? 1 : 0;
  }
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(join(values.out!, 'ids.bin'), ids);
  writeFileSync(join(values.out!, 'mask.bin'), mask);
  writeFileSync(join(values.out!, 'task.bin'), task);
  process.stderr.write(`wrote ${n} samples to ${values.out}\n`);
}

await main();
