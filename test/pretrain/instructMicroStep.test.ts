/**
 * Stage 2's micro-step over the shipped model: `<s>` and the system prompt run once per
 * micro-batch (the shared prefix) give the loss, the decision tally and every projector and
 * decoder gradient of packing each sample whole, with and without a prompt loss.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { VisionLanguageModel } from '../../src/models/VisionLanguageModel.ts';
import { packSamples, sharedPromptPrefix } from '../../src/pretrain/encodeSample.ts';
import { InstructMicroStep, MicroBatchPacker } from '../../src/pretrain/instructMicroStep.ts';
import { LLAVA_V1_SYSTEM_PROMPT } from '../../src/models/prompts.ts';
import { repoRoot } from '../helpers/fixtures.ts';
import { maxAbs, maxAbsDifference } from '../helpers/gradcheck.ts';

const vlm = await VisionLanguageModel.load(join(repoRoot, 'models', 'yollava-world'));
const corpus = { seed: 11 };

test('the shared prefix is <s> and the system prompt less its last token, and every corpus sample begins with it', () => {
  const prefix = sharedPromptPrefix(vlm.tokenizer);
  assert.equal(prefix[0], vlm.tokenizer.bosTokenId);
  assert.ok(vlm.tokenizer.decode(prefix, { skipSpecialTokens: true }).length < LLAVA_V1_SYSTEM_PROMPT.length);
  assert.ok(LLAVA_V1_SYSTEM_PROMPT.startsWith(vlm.tokenizer.decode(prefix, { skipSpecialTokens: true }).trim()));
  const micro = new InstructMicroStep(vlm.model, vlm.tokenizer);
  const samples = Array.from({ length: 300 }, (_, i) => micro.sample(corpus, i).encoded);
  const packed = packSamples(samples, prefix);
  assert.equal(packed.ids.length, samples.reduce((n, s) => n + s.ids.length - prefix.length, 0));
  const text = { ids: [...samples[0].ids.slice(0, 3)], labels: [-100, -100, -100], weights: [0, 0, 0], decisions: [0, 0, 0] };
  assert.throws(() => packSamples([{ ...text, ids: [prefix[0], prefix[1] + 1, prefix[2]] }], prefix), /does not begin with the shared prefix/);
});

for (const promptLoss of [0, 0.3]) {
  test(`a micro-batch with the shared prefix equals one packed whole (prompt loss ${promptLoss})`, () => {
    const whole = new InstructMicroStep(vlm.model, vlm.tokenizer, promptLoss, { sharePrefix: false });
    const shared = new InstructMicroStep(vlm.model, vlm.tokenizer, promptLoss);
    assert.equal(whole.sharedPrefix.length, 0);
    assert.ok(shared.sharedPrefix.length > 20, `${shared.sharedPrefix.length} shared tokens`);
    // Pictured and text-only samples, several turns among them.
    const stream = Array.from({ length: 80 }, (_, i) => shared.sample(corpus, i));
    const batch = [...stream.filter((b) => b.sample.image).slice(0, 4), ...stream.filter((b) => !b.sample.image).slice(0, 3)];
    assert.equal(batch.length, 7);
    assert.ok(batch.some((b) => b.sample.turns.length > 1));
    const lossWhole = whole.run(batch);
    const lossShared = shared.run(batch);
    assert.ok(Math.abs(lossShared - lossWhole) < 1e-5, `loss ${lossShared} vs ${lossWhole}`);
    assert.deepEqual({ ...shared.tally, loss: 0 }, { ...whole.tally, loss: 0 });
    assert.ok(Math.abs(shared.tally.loss - whole.tally.loss) < 1e-3);
    whole.params.forEach((p, i) => {
      const got = shared.params[i].grad;
      const scale = maxAbs(p.grad);
      const diff = maxAbsDifference(got, p.grad);
      assert.ok(diff <= 1e-4 * Math.max(scale, 1e-3), `${p.name}: differs by ${diff} (largest ${scale})`);
    });
  });
}

test('micro-batches take whole samples in stream order up to the token budget, carry the one that does not fit, and never come out empty', () => {
  const lengths = [200, 250, 100, 600, 30, 40, 1];
  const stream = lengths.map((n, index) => ({ index, encoded: { ids: new Array<number>(n).fill(0) } }));
  let drawn = 0;
  const next = () => stream[drawn++];
  const packer = new MicroBatchPacker<(typeof stream)[number]>();
  const first = packer.take(512, next);
  assert.deepEqual(first.batch.map((s) => s.index), [0, 1]);
  assert.equal(first.tokens, 450);
  assert.equal(packer.carried?.index, 2, 'the third sample (100 tokens) did not fit 450 + 100 > 512');
  const second = packer.take(512, next);
  assert.deepEqual(second.batch.map((s) => s.index), [2], 'the 600-token sample does not join it');
  const third = packer.take(512, next);
  assert.deepEqual(third.batch.map((s) => s.index), [3], 'a sample over the budget goes alone');
  assert.equal(third.tokens, 600);
  assert.deepEqual(packer.take(70, next).batch.map((s) => s.index), [4, 5], 'exactly the budget fits');
  assert.equal(packer.carried?.index, 6, 'the stream is endless: a full micro-batch is known by the sample after it');
  assert.equal(drawn, 7);
});
