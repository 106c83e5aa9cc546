/**
 * Where the time of the benchmark's soft-prompt step (and of greedy decode) goes: every method
 * of the active kernels is wrapped with a timer, keyed by call shape, and what the kernels do
 * not account for is reported as "TypeScript outside the kernels" (elementwise loops, copies,
 * allocation).
 *
 *   nice -n -15 node --import tsx bench/stepBreakdown.ts [--steps 5] [--decode 16] [--no-step] [--no-decode] [--full 1]
 *
 * `--full N` also profiles N steps of the full recompute (664 tokens, no prefix cache).
 *
 * Figures are medians over the measured steps (per-step totals of each call shape). The
 * machine is shared: the load average is printed at the start and the end.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { getKernels, setKernels } from '../src/engine/backend.ts';
import type { Kernels, Matrix } from '../src/engine/kernels.ts';
import { QWEN2_05B, WORKLOAD, cachedSoftStep, fullSoftStep, qwen2Llava, softStepFlops, softStepInputs } from './qwen2Workload.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '5' },
    decode: { type: 'string', default: '16' },
    'no-step': { type: 'boolean', default: false },
    'no-decode': { type: 'boolean', default: false },
    top: { type: 'string', default: '30' },
    full: { type: 'string', default: '0' },
  },
});
const steps = Math.max(1, Number(values.steps));
const decodeTokens = Math.max(1, Number(values.decode));
const top = Math.max(1, Number(values.top));

const median = (xs: number[]) => { const s = xs.slice().sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : 0; };
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

interface Tally { ms: number; calls: number; flops: number }
let current = new Map<string, Tally>();

/** Decode's attention products grow by one key per token: such sizes are keyed by 32-wide buckets. */
let bucketSizes = false;
const size = (v: number) => (bucketSizes && v > 256 && v % 64 !== 0 ? `${Math.floor(v / 32) * 32}…${Math.floor(v / 32) * 32 + 31}` : `${v}`);

/** A call's shape key and its FLOPs (0 when not a product). */
function describe(method: string, args: unknown[]): { key: string; flops: number } {
  if (method === 'gemm') {
    const [tA, tB, m, n, k] = args as [boolean, boolean, number, number, number];
    return { key: `gemm${tA ? ' tA' : ''}${tB ? ' tB' : ''} m=${size(m)} n=${size(n)} k=${size(k)}`, flops: 2 * m * n * k };
  }
  if (method === 'linear' || method === 'linearBackwardInput') {
    const m = args[1] as number;
    const w = args[2] as Matrix;
    return { key: `${method} m=${m} ${w.rows}×${w.cols} ${w.dtype}`, flops: 2 * m * w.rows * w.cols };
  }
  const sizes = args.filter((a): a is number => typeof a === 'number').slice(0, 3).map(size);
  return { key: `${method}${sizes.length ? ' ' + sizes.join('×') : ''}`, flops: 0 };
}

function timed(inner: Kernels): Kernels {
  const wrapper: Record<string, unknown> = {};
  for (const name of Object.keys(inner) as (keyof Kernels)[]) {
    const value = inner[name];
    if (name === 'getThreads' || name === 'setThreads') continue;
    if (typeof value !== 'function') {
      Object.defineProperty(wrapper, name, { get: () => inner[name], enumerable: true });
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    wrapper[name] = (...args: unknown[]) => {
      const start = performance.now();
      const result = fn.apply(inner, args);
      const ms = performance.now() - start;
      const { key, flops } = describe(name, args);
      const tally = current.get(key) ?? { ms: 0, calls: 0, flops: 0 };
      tally.ms += ms; tally.calls++; tally.flops += flops;
      current.set(key, tally);
      return result;
    };
  }
  wrapper.getThreads = () => inner.getThreads();
  wrapper.setThreads = (t: number) => inner.setThreads(t);
  return wrapper as unknown as Kernels;
}

/** Runs `body` `times` times after one warm-up; prints medians per key and the remainder. */
function profile(title: string, times: number, body: () => void, totalFlops: number | null): number {
  body();
  const totals: number[] = [];
  const perKey = new Map<string, { ms: number[]; calls: number; flops: number }>();
  for (let i = 0; i < times; i++) {
    current = new Map();
    const start = performance.now();
    body();
    totals.push(performance.now() - start);
    for (const [key, tally] of current) {
      // a shape missing from earlier runs took 0 ms there
      const entry = perKey.get(key) ?? { ms: new Array<number>(i).fill(0), calls: 0, flops: 0 };
      entry.ms.push(tally.ms); entry.calls += tally.calls; entry.flops += tally.flops;
      perKey.set(key, entry);
    }
    for (const entry of perKey.values()) if (entry.ms.length < i + 1) entry.ms.push(0);
  }
  const total = median(totals);
  // medians of per-run totals; calls and FLOPs per run on average
  const rows = [...perKey].map(([key, e]) => ({ key, ms: median(e.ms), calls: Math.round(e.calls / times), flops: e.flops / times }));
  rows.sort((a, b) => b.ms - a.ms);
  const inKernels = rows.reduce((s, r) => s + r.ms, 0);
  const productMs = rows.filter((r) => r.flops > 0).reduce((s, r) => s + r.ms, 0);
  console.log(`\n## ${title}: median ${total.toFixed(1)} ms over ${times} (min ${Math.min(...totals).toFixed(1)}, max ${Math.max(...totals).toFixed(1)})` +
    (totalFlops ? `, ${(totalFlops / total / 1e6).toFixed(1)} GFLOP/s on ${(totalFlops / 1e9).toFixed(1)} GFLOP` : ''));
  console.log(`load average ${load()}`);
  console.log('| call shape | calls | ms/step | % | GFLOP/s |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows.slice(0, top)) {
    console.log(`| ${r.key} | ${r.calls} | ${r.ms.toFixed(2)} | ${((100 * r.ms) / total).toFixed(1)} | ${r.flops && r.ms > 0 ? (r.flops / r.ms / 1e6).toFixed(1) : ''} |`);
  }
  if (rows.length > top) {
    const rest = rows.slice(top);
    console.log(`| (${rest.length} more shapes) | ${rest.reduce((s, r) => s + r.calls, 0)} | ${rest.reduce((s, r) => s + r.ms, 0).toFixed(2)} | | |`);
  }
  console.log(`| **products (gemm/linear)** | | ${productMs.toFixed(1)} | ${((100 * productMs) / total).toFixed(1)} | |`);
  console.log(`| **other kernels** | | ${(inKernels - productMs).toFixed(1)} | ${((100 * (inKernels - productMs)) / total).toFixed(1)} | |`);
  console.log(`| **TypeScript outside the kernels** | | ${(total - inKernels).toFixed(1)} | ${((100 * (total - inKernels)) / total).toFixed(1)} | |`);
  return total;
}

const base = getKernels();
setKernels(timed(base));
console.log(`# step breakdown — ${base.name}; load average ${load()}`);
console.error('building a random Qwen2-0.5B-shaped model (float32)…');
const model = qwen2Llava();
const inputs = softStepInputs(model);
console.error('prefill…');
const prefix = model.prefill({ ids: inputs.prefixIds }, WORKLOAD.suffixTokens + decodeTokens + 64);

if (!values['no-step']) {
  const flops = softStepFlops(QWEN2_05B, WORKLOAD.suffixTokens, WORKLOAD.prefixTokens, 20);
  profile('soft-prompt step (64 tokens after a cached 600-token prefix)', steps, () => { cachedSoftStep(model, inputs, prefix); }, flops);
}

if (Number(values.full) > 0) {
  const flops = softStepFlops(QWEN2_05B, WORKLOAD.prefixTokens + WORKLOAD.suffixTokens, 0, 20);
  profile('soft-prompt step, full recompute of 664 tokens', Number(values.full), () => { fullSoftStep(model, inputs); }, flops);
}

if (!values['no-decode']) {
  const cache = prefix.clone(decodeTokens + 2);
  const startLength = cache.length;
  let id = inputs.suffixIds[0];
  const decodeOne = () => {
    const hidden = model.forward({ ids: [id] }, cache);
    const logits = model.logitsAt(hidden, [0]);
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    id = best;
    if (cache.length >= startLength + decodeTokens) cache.truncate(startLength);
  };
  bucketSizes = true;
  const ms = profile('greedy decode (1-token forward + logitsAt + argmax)', decodeTokens, decodeOne, null);
  console.log(`decode: ${(1000 / ms).toFixed(2)} tokens/s`);
}
console.log(`\nload average at the end ${load()}`);
