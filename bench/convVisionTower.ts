/**
 * Throughput of the convolutional vision tower on batches of 64×64 images: forward alone
 * (features for a frozen tower) and forward + backward to every weight (pretraining), in
 * images per second (wall clock, and per CPU-second of the process), for two shapes of about 0.5–1M parameters, with GELU and with ReLU
 * (GELU's exp costs as much as the convolutions' products on this CPU path).
 *
 *   node --import tsx bench/convVisionTower.ts [--batch 64] [--repeats 3] [--threads N] [--act gelu|relu|both]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { getKernels } from '../src/engine/backend.ts';
import { ConvVisionTower, randomConvVisionWeights, type ConvVisionConfig } from '../src/models/convVisionTower.ts';
import { seededNormal } from '../src/models/randomLlava.ts';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '64' },
    repeats: { type: 'string', default: '3' },
    threads: { type: 'string' },
    act: { type: 'string', default: 'both' },
  },
});
const batch = Number(values.batch);
const repeats = Math.max(1, Number(values.repeats));
const kernels = getKernels();
if (values.threads) kernels.setThreads(Number(values.threads));

const base = { kind: 'conv', imageSize: 64, numChannels: 3, kernelSize: 3, norm: 'group_norm', numGroups: 8, hiddenAct: 'gelu', layerNormEps: 1e-5 } as const;
export const SHAPES: Record<string, ConvVisionConfig> = {
  // models/yollava-world's tower (bench/peer/torch_conv_tower.py times the same three shapes in PyTorch)
  'shipped 4×4': { ...base, stemChannels: 16, stemStride: 2, stages: [{ channels: 32, stride: 2 }, { channels: 64, stride: 2 }, { channels: 128, stride: 2 }], hiddenSize: 128, numLayers: 3 },
  'tokens 4×4': { ...base, stemChannels: 32, stemStride: 2, stages: [{ channels: 64, stride: 2 }, { channels: 128, stride: 2 }, { channels: 192, stride: 2 }], hiddenSize: 192, numLayers: 3 },
  'tokens 8×8': { ...base, stemChannels: 32, stemStride: 2, stages: [{ channels: 48, stride: 2 }, { channels: 96, stride: 2 }, { channels: 160, stride: 1 }], hiddenSize: 160, numLayers: 3 },
};

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** Median wall seconds, and median CPU seconds of this process (all threads: less sensitive to a busy machine). */
function time(run: () => void): { wall: number; cpu: number } {
  run(); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    const startCpu = process.cpuUsage();
    run();
    const used = process.cpuUsage(startCpu);
    wall.push((performance.now() - start) / 1000);
    cpu.push((used.user + used.system) / 1e6);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

const normal = seededNormal(1);
const init = { vector: (length: number, mean = 0, std = 0.02) => Float32Array.from({ length }, () => mean + std * normal()) };
process.stderr.write(`kernels ${kernels.name}, ${kernels.getThreads()} threads, batch ${batch}, load average ${loadavg()[0].toFixed(2)}\n`);
const acts = values.act === 'both' ? (['gelu', 'relu'] as const) : ([values.act as 'gelu' | 'relu'] as const);
for (const [name, shape] of Object.entries(SHAPES)) for (const hiddenAct of acts) {
  const config = { ...shape, hiddenAct };
  const tower = new ConvVisionTower(config, randomConvVisionWeights(config, init), () => kernels);
  const pixels = Float32Array.from({ length: batch * 3 * 64 * 64 }, () => normal());
  const forward = time(() => { tower.forwardBatch(pixels, batch); });
  const grads = tower.newGrads();
  const dLast = Float32Array.from({ length: batch * tower.numTokens * config.hiddenSize }, () => normal());
  const training = time(() => {
    const { tape } = tower.forwardBatch(pixels, batch, { tape: true });
    tower.backward(tape!, dLast, grads);
  });
  process.stdout.write(JSON.stringify({
    shape: name, act: hiddenAct, parameters: tower.parameterCount, tokens: tower.numTokens, hidden: config.hiddenSize, batch,
    forwardImagesPerSecond: Math.round(batch / forward.wall), trainingImagesPerSecond: Math.round(batch / training.wall),
    forwardImagesPerCpuSecond: Math.round(batch / forward.cpu), trainingImagesPerCpuSecond: Math.round(batch / training.cpu),
  }) + '\n');
}
