/**
 * The crossover between the small-m kernels (W streamed once, split by rows) and sgemm (or,
 * for f16/bf16, widened tiles + sgemm) for linear and linearBackwardInput: GFLOP/s of both at
 * each m, on the decoder's weight shapes.
 *
 *   nice -n -15 node --import tsx bench/smallM.ts [--m 2,4,8,16,20,32,48,64] [--dtype f32,bf16] [--shapes vocab,mlp]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Matrix, WeightDType } from '../src/engine/kernels.ts';
import { loadNativeAddon, loadNativeKernels } from '../src/engine/nativeKernels.ts';

const { values } = parseArgs({
  options: {
    m: { type: 'string', default: '2,4,8,12,16,20,24,32,48,64' },
    dtype: { type: 'string', default: 'f32,bf16' },
    shapes: { type: 'string', default: 'vocab,qkv,o,gateUp,down' },
    repeats: { type: 'string', default: '5' },
  },
});
const kernels = loadNativeKernels();
const addon = loadNativeAddon();
if (kernels instanceof Error || addon instanceof Error) throw kernels instanceof Error ? kernels : addon;
const shapes: Record<string, [number, number]> = { vocab: [151936, 896], qkv: [1152, 896], o: [896, 896], gateUp: [9728, 896], down: [896, 4864] };
const repeats = Number(values.repeats);

function weight(dtype: WeightDType, rows: number, cols: number): Matrix {
  const data = dtype === 'f32' ? new Float32Array(rows * cols) : new Uint16Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = dtype === 'f32' ? Math.sin(i) * 0.05 : 0x3c00 + (i & 0xff);
  return { dtype, rows, cols, data };
}

function time(run: () => void): number {
  run();
  const samples: number[] = [];
  for (let s = 0; s < repeats; s++) {
    const start = performance.now();
    let calls = 0;
    do { run(); calls++; } while (performance.now() - start < 30);
    samples.push((performance.now() - start) / calls);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const before = addon.info().smallMMax;
console.log(`${kernels.name}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('| shape | dtype | m | linear small-m | linear sgemm | backward small-m | backward sgemm | (GFLOP/s) |');
console.log('|---|---|---:|---:|---:|---:|---:|---|');
try {
  for (const dtype of values.dtype.split(',') as WeightDType[]) {
    for (const name of values.shapes.split(',')) {
      const [n, k] = shapes[name];
      const w = weight(dtype, n, k);
      for (const m of values.m.split(',').map(Number)) {
        const x = new Float32Array(m * k).map((_, i) => Math.cos(i));
        const out = new Float32Array(m * n);
        const dy = new Float32Array(m * n).map((_, i) => Math.sin(i) * 1e-3);
        const dx = new Float32Array(m * k);
        const rate = (ms: number) => ((2 * m * n * k) / ms / 1e6).toFixed(1);
        const cells: string[] = [];
        for (const mode of ['small', 'sgemm']) {
          addon.tune('smallMMax', mode === 'small' ? 1 << 20 : 0);
          cells.push(rate(time(() => kernels.linear(x, m, w, out, false))));
        }
        for (const mode of ['small', 'sgemm']) {
          addon.tune('smallMMax', mode === 'small' ? 1 << 20 : 0);
          cells.push(rate(time(() => kernels.linearBackwardInput(dy, m, w, dx, false))));
        }
        console.log(`| ${name} ${n}×${k} | ${dtype} | ${m} | ${cells.join(' | ')} | |`);
      }
    }
  }
} finally {
  addon.tune('smallMMax', before);
}
console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
