/**
 * A stage 2 worker process (started by Stage2WorkerPool): holds a copy of the model, and for
 * each step reads the current projector and decoder weights, runs its share of the step's
 * micro-batches and writes the sum of their gradients for the training process to add up.
 */
import { dirname, join } from 'node:path';
import { loadLlava } from '../models/loadLlava.ts';
import { Tokenizer } from '../models/Tokenizer.ts';
import { emptyTally, InstructMicroStep } from './instructMicroStep.ts';
import { readFloatArrays, readFloatRange, writeFloatArrays, writeFloatRange, type WorkerInit, type WorkerMessage, type WorkerReply } from './stage2Workers.ts';

// Ctrl-C reaches the whole process group: the training process decides when to stop and ends us.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));

let setup: { init: WorkerInit; micro: InstructMicroStep; sum: Float32Array; part: Float32Array } | null = null;

function reply(message: WorkerReply): void {
  process.send!(message);
}

async function handle(message: WorkerMessage): Promise<WorkerReply> {
  if (message.type === 'init') {
    const { model } = loadLlava(message.modelDir, { dtype: 'float32' });
    const tokenizer = await Tokenizer.fromDirectory(message.tokenizerDir);
    setup = { init: message, micro: new InstructMicroStep(model, tokenizer, message.promptLoss), sum: new Float32Array(0), part: new Float32Array(0) };
    return { type: 'ready' };
  }
  if (!setup) throw new Error(`a ${message.type} came before init`);
  const { init, micro } = setup;
  if (message.type === 'reduce') {
    const n = message.end - message.begin;
    if (n <= 0) return { type: 'reduced' };
    const folder = dirname(init.gradsPath);
    // The same slice every step: its buffers are kept.
    if (setup.sum.length !== n) { setup.sum = new Float32Array(n); setup.part = new Float32Array(n); }
    const { sum, part } = setup;
    message.files.forEach((file, i) => {
      readFloatRange(join(folder, file), message.begin, i === 0 ? sum : part);
      if (i > 0) for (let j = 0; j < n; j++) sum[j] += part[j];
    });
    if (message.scale !== 1) for (let j = 0; j < n; j++) sum[j] *= message.scale;
    writeFloatRange(join(folder, message.sumFile), message.begin, sum);
    return { type: 'reduced' };
  }
  readFloatArrays(init.paramsPath, micro.params.map((p) => p.value));
  micro.zeroGrads();
  micro.tally = emptyTally();
  let loss = 0;
  for (const batch of message.microBatches) {
    loss += micro.run(batch.map((ref) => micro.sample(init.corpora[ref.phase], ref.index)));
  }
  writeFloatArrays(init.gradsPath, micro.params.map((p) => p.grad));
  return { type: 'done', loss, tally: micro.tally };
}

process.on('message', (message: WorkerMessage) => {
  handle(message).then(reply, (error: unknown) => reply({ type: 'failed', message: error instanceof Error ? error.message : String(error) }));
});
