/**
 * Matrix-product rates of a kernel backend on the shapes a Qwen2-0.5B-sized decoder runs
 * (hidden 896, MLP 4864, vocabulary 151936): what the project benchmark reports as "the sgemm
 * rate measured in the same run".
 *
 *   node --import tsx bench/sgemm.ts [--repeats 5] [--no-js] [--threads 1,2]
 *
 * prints the table for the native kernels at each thread count and the TypeScript reference,
 * then the f16/bf16 weight rows and the f32 gemv: own kernel vs OpenBLAS sgemv.
 */
import { pathToFileURL } from 'node:url';
import type { Kernels, Matrix, WeightDType } from '../src/engine/kernels.ts';
import { jsKernels } from '../src/engine/jsKernels.ts';
import { loadNativeAddon, loadNativeKernels } from '../src/engine/nativeKernels.ts';

export type GemmShapeId =
  | 'square1024' // C = A·B, 1024³
  | 'linear' // Y = X·Wᵀ, X 64×896, W 4864×896 (an MLP up-projection on 64 tokens)
  | 'linearBackwardInput' // dX = dY·W, its backward to the input
  | 'weightGradient' // dW = dYᵀ·X, its backward to the weight (4864×896, reduction over 64 tokens)
  | 'gemvMlp' // y = W·x, 1×896 → 4864 (decode, one MLP projection)
  | 'gemvVocab'; // y = W·x, 1×896 → 151936 (decode, the output head)

export interface GemmRate {
  id: GemmShapeId;
  /** e.g. "64×896×4864 X·Wᵀ (bf16 W)": m×k×n of the product. */
  label: string;
  m: number;
  n: number;
  k: number;
  /** dtype of W (square1024 and weightGradient are always f32). */
  dtype: WeightDType;
  /** Median time of one call. */
  milliseconds: number;
  /** 2·m·n·k / time. */
  gflops: number;
  /** Bytes of W read per second, for the gemv shapes (bound by memory bandwidth). */
  gbPerSecond?: number;
}

export interface MeasureGemmOptions {
  /** Threads for the measurement (restored afterwards); default: the backend's current. */
  threads?: number;
  /** Timed samples per shape, the median is reported; default 5. */
  repeats?: number;
  /** Shapes to measure; default all. */
  shapes?: readonly GemmShapeId[];
  /** Weight dtype of the linear/gemv shapes; default f32. */
  dtype?: WeightDType;
  /** Minimum milliseconds of one sample (fast calls are repeated inside it); default 20. */
  minSampleMs?: number;
}

export const allGemmShapes: readonly GemmShapeId[] = ['square1024', 'linear', 'linearBackwardInput', 'weightGradient', 'gemvMlp', 'gemvVocab'];

const hidden = 896, mlp = 4864, vocabulary = 151936, tokens = 64;

/** Deterministic values in [-1, 1) (xorshift32), fast enough for 136M elements. */
function randomValues(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = (state >>> 0) * 4.656612873077393e-10 - 1;
  }
  return out;
}

/** A random weight matrix; f16/bf16 data are the top bits of random float32 values (exact for bf16). */
function randomWeight(dtype: WeightDType, rows: number, cols: number, seed: number): Matrix {
  const values = randomValues(rows * cols, seed);
  if (dtype === 'f32') return { dtype, rows, cols, data: values };
  const bits = new Uint32Array(values.buffer);
  const data = new Uint16Array(rows * cols);
  if (dtype === 'bf16') for (let i = 0; i < data.length; i++) data[i] = bits[i] >>> 16;
  // f16: values in [-1, 1) as halves with a 10-bit mantissa (exponent rebased from 127 to 15)
  else for (let i = 0; i < data.length; i++) {
    const x = bits[i], exponent = ((x >>> 23) & 0xff) - 112;
    data[i] = exponent <= 0 ? (x >>> 16) & 0x8000 : ((x >>> 16) & 0x8000) | (exponent << 10) | ((x >>> 13) & 0x3ff);
  }
  return { dtype, rows, cols, data };
}

const weightBytes = (w: Matrix) => w.rows * w.cols * (w.dtype === 'f32' ? 4 : 2);
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Median milliseconds of one call of run, over `repeats` samples of at least minSampleMs each. */
async function timeCall(run: () => void, repeats: number, minSampleMs: number): Promise<number> {
  const warmStart = performance.now();
  run();
  const once = performance.now() - warmStart;
  const callsPerSample = Math.max(1, Math.ceil(minSampleMs / Math.max(once, 1e-3)));
  const samples: number[] = [];
  for (let s = 0; s < repeats; s++) {
    const start = performance.now();
    for (let i = 0; i < callsPerSample; i++) run();
    samples.push((performance.now() - start) / callsPerSample);
    await yieldToEventLoop();
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

/** GFLOP/s (and GB/s for the gemv shapes) of `kernels` on the decoder's shapes. */
export async function measureGemmRates(kernels: Kernels, options: MeasureGemmOptions = {}): Promise<GemmRate[]> {
  const { repeats = 5, shapes = allGemmShapes, dtype = 'f32', minSampleMs = 20 } = options;
  const threadsBefore = kernels.getThreads();
  if (options.threads !== undefined) kernels.setThreads(options.threads);
  const rates: GemmRate[] = [];
  const record = (id: GemmShapeId, label: string, m: number, n: number, k: number, wDtype: WeightDType, ms: number, bytes?: number) => {
    rates.push({
      id, label, m, n, k, dtype: wDtype, milliseconds: ms,
      gflops: (2 * m * n * k) / (ms * 1e6),
      ...(bytes === undefined ? {} : { gbPerSecond: bytes / (ms * 1e6) }),
    });
  };
  const suffix = dtype === 'f32' ? '' : ` (${dtype} W)`;
  try {
    for (const id of shapes) {
      if (id === 'square1024') {
        const n = 1024, a = randomValues(n * n, 1), b = randomValues(n * n, 2), c = new Float32Array(n * n);
        const ms = await timeCall(() => kernels.gemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n), repeats, minSampleMs);
        record(id, '1024×1024×1024 A·B', n, n, n, 'f32', ms);
      } else if (id === 'linear' || id === 'linearBackwardInput') {
        const w = randomWeight(dtype, mlp, hidden, 3);
        if (id === 'linear') {
          const x = randomValues(tokens * hidden, 4), y = new Float32Array(tokens * mlp);
          const ms = await timeCall(() => kernels.linear(x, tokens, w, y, false), repeats, minSampleMs);
          record(id, `${tokens}×${hidden}×${mlp} X·Wᵀ${suffix}`, tokens, mlp, hidden, dtype, ms);
        } else {
          const dy = randomValues(tokens * mlp, 5), dx = new Float32Array(tokens * hidden);
          const ms = await timeCall(() => kernels.linearBackwardInput(dy, tokens, w, dx, false), repeats, minSampleMs);
          record(id, `${tokens}×${mlp}×${hidden} dY·W${suffix}`, tokens, hidden, mlp, dtype, ms);
        }
      } else if (id === 'weightGradient') {
        const dy = randomValues(tokens * mlp, 6), x = randomValues(tokens * hidden, 7), dw = new Float32Array(mlp * hidden);
        const ms = await timeCall(() => kernels.gemm(true, false, mlp, hidden, tokens, 1, dy, mlp, x, hidden, 0, dw, hidden), repeats, minSampleMs);
        record(id, `${mlp}×${tokens}×${hidden} dYᵀ·X`, mlp, hidden, tokens, 'f32', ms);
      } else {
        const rows = id === 'gemvMlp' ? mlp : vocabulary;
        const w = randomWeight(dtype, rows, hidden, 8);
        const x = randomValues(hidden, 9), y = new Float32Array(rows);
        const ms = await timeCall(() => kernels.linear(x, 1, w, y, false), repeats, minSampleMs);
        record(id, `1×${hidden}×${rows} W·x${suffix}`, 1, rows, hidden, dtype, ms, weightBytes(w));
      }
      await yieldToEventLoop();
    }
  } finally {
    kernels.setThreads(threadsBefore);
  }
  return rates;
}

// ---- standalone ----------------------------------------------------------------------------

function formatRate(rate: GemmRate | undefined): string {
  if (!rate) return '';
  const gflops = rate.gflops >= 10 ? rate.gflops.toFixed(0) : rate.gflops.toFixed(1);
  return rate.gbPerSecond === undefined ? gflops : `${gflops} (${rate.gbPerSecond.toFixed(1)} GB/s)`;
}

function printTable(title: string, columns: Array<{ name: string; rates: GemmRate[] }>): void {
  const labels = [...new Set(columns.flatMap((column) => column.rates.map((rate) => rate.label)))];
  const rows = labels.map((label) => [label, ...columns.map((column) => formatRate(column.rates.find((rate) => rate.label === label)))]);
  const header = ['GFLOP/s', ...columns.map((column) => column.name)];
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(`|${widths.map((width, i) => (i === 0 ? '-'.repeat(width + 1) : '-'.repeat(width + 1) + ':')).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

async function main(): Promise<void> {
  const argument = (name: string) => {
    const index = process.argv.indexOf(name);
    return index >= 0 ? process.argv[index + 1] : undefined;
  };
  const repeats = Number(argument('--repeats') ?? 5);
  const threadCounts = (argument('--threads') ?? '1,2').split(',').map(Number);
  const native = loadNativeKernels();
  const addon = loadNativeAddon();
  const columns: Array<{ name: string; rates: GemmRate[] }> = [];
  if (native instanceof Error || addon instanceof Error) {
    console.log(`native kernels unavailable: ${(native as Error).message}`);
  } else {
    const info = addon.info();
    console.log(`${native.name}; own kernels: ${info.isa}; ${info.blasConfig}`);
    for (const threads of threadCounts) {
      columns.push({ name: `native ${threads}t`, rates: await measureGemmRates(native, { threads, repeats }) });
    }
  }
  if (!process.argv.includes('--no-js')) {
    columns.push({ name: 'js 1t', rates: await measureGemmRates(jsKernels, { repeats: Math.min(repeats, 3), minSampleMs: 0 }) });
  }
  printTable('f32 (median of each column\'s samples)', columns);
  if (native instanceof Error || addon instanceof Error) return;

  const compactShapes: GemmShapeId[] = ['linear', 'linearBackwardInput', 'gemvMlp', 'gemvVocab'];
  const compactColumns: Array<{ name: string; rates: GemmRate[] }> = [];
  for (const dtype of ['bf16', 'f16'] as const) {
    for (const threads of threadCounts) {
      compactColumns.push({ name: `${dtype} ${threads}t`, rates: (await measureGemmRates(native, { threads, repeats, dtype, shapes: compactShapes })).map((rate) => ({ ...rate, label: rate.label.replace(` (${dtype} W)`, '') })) });
    }
  }
  printTable('f16/bf16 weights (gemv: fused widening; m > 1: widened tiles + sgemm)', compactColumns);

  const gemvColumns: Array<{ name: string; rates: GemmRate[] }> = [];
  const f32GemvBlas = addon.info().f32GemvBlas;
  try {
    for (const [name, useBlas] of [['own', 0], ['OpenBLAS', 1]] as const) {
      addon.tune('f32GemvBlas', useBlas);
      for (const threads of threadCounts) {
        gemvColumns.push({ name: `${name} ${threads}t`, rates: await measureGemmRates(native, { threads, repeats, shapes: ['gemvMlp', 'gemvVocab'] }) });
      }
    }
  } finally {
    addon.tune('f32GemvBlas', f32GemvBlas ? 1 : 0);
  }
  printTable('f32 gemv: own kernel vs OpenBLAS sgemv', gemvColumns);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
