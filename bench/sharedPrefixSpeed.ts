/**
 * Stage 2's micro-step with `<s>` and the system prompt run once per micro-batch (the shared
 * prefix) against packing every sample whole: the same micro-batches (≤ 512 tokens, as stage 2
 * gathers them, c6's mix), timed alternately on the shipped model, with the tokens each computes.
 *
 *   node --import tsx bench/sharedPrefixSpeed.ts [--batches 24] [--rounds 5]
 *
 * Prints samples per second of each and their ratio (medians over rounds). The machine may be
 * shared: the load average is printed at the start and the end.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { VisionLanguageModel } from '../src/models/VisionLanguageModel.ts';
import { DEFAULT_MICRO_TOKENS, InstructMicroStep, MicroBatchPacker, type EncodedCorpusSample } from '../src/pretrain/instructMicroStep.ts';

const { values } = parseArgs({ options: { batches: { type: 'string', default: '24' }, rounds: { type: 'string', default: '5' } } });
const MIX = { recognition: 0.45, mcq: 0.12, attribute: 0.08, description_text: 0.17, paper_conversation: 0.04, description_image: 0.04, caption: 0.04, existence: 0.02, conversation: 0.02, kind_text: 0.015, counting: 0.0025, position: 0.0025 };
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`load average at start: ${load()}`);

const vlm = await VisionLanguageModel.load('models/yollava-world');
const shared = new InstructMicroStep(vlm.model, vlm.tokenizer);
const whole = new InstructMicroStep(vlm.model, vlm.tokenizer, 0, { sharePrefix: false });
const corpus = { seed: 1, mix: MIX, yesNoOptions: false };
// Micro-batches of whole samples, packed by stage 2's own rule and budget.
const packer = new MicroBatchPacker<EncodedCorpusSample>();
const batches: EncodedCorpusSample[][] = [];
let index = 0;
while (batches.length < Number(values.batches)) batches.push(packer.take(DEFAULT_MICRO_TOKENS, () => shared.sample(corpus, index++)).batch);
const samples = batches.reduce((n, b) => n + b.length, 0);
const wholeTokens = batches.reduce((n, b) => n + b.reduce((m, s) => m + s.encoded.ids.length, 0), 0);
const sharedTokens = batches.reduce((n, b) => n + shared.sharedPrefix.length + b.reduce((m, s) => m + s.encoded.ids.length - shared.sharedPrefix.length, 0), 0);
const time = (micro: InstructMicroStep): number => {
  const start = performance.now();
  for (const batch of batches) micro.run(batch);
  return (performance.now() - start) / 1000;
};
time(shared); time(whole); // warm the buffer pools
const rates = { shared: [] as number[], whole: [] as number[] };
for (let r = 0; r < Number(values.rounds); r++) {
  rates.whole.push(samples / time(whole));
  rates.shared.push(samples / time(shared));
}
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
console.log(`${batches.length} micro-batches, ${samples} samples; tokens computed: whole ${wholeTokens}, shared prefix ${sharedTokens} (${shared.sharedPrefix.length} shared per micro-batch; ${(wholeTokens / sharedTokens).toFixed(2)}× fewer)`);
console.log(`samples/s (forward + backward, median of ${values.rounds}): whole ${median(rates.whole).toFixed(1)}, shared prefix ${median(rates.shared).toFixed(1)} → ${(median(rates.shared) / median(rates.whole)).toFixed(2)}×`);
console.log(`load average at end: ${load()}`);
