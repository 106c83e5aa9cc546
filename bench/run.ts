/**
 * `npm run bench`: the engine benchmark, every figure measured side by side in one run.
 *
 *   1. the sgemm rate of this machine (native kernels, 1 and 2 threads);
 *   2. a soft-prompt training step on a Qwen2-0.5B-shaped float32 model (64 tokens after a
 *      cached 600-token prefix, 17 trainable rows, loss on 20 positions): time, achieved
 *      FLOP/s and its share of the sgemm rate;
 *   3. the same step with full recompute of the 664 tokens;
 *   4. prefill of 600 tokens and greedy decode tokens/s;
 *   5. PyTorch on CPU (Debian's python3-torch) on the same workloads at 1 and 2 threads;
 *   6. peak resident memory of a 7B-shaped BF16 LLaVA (a child process).
 *
 *   npm run bench [-- --repeats 3] [--skip-torch] [--skip-7b] [--json out.json]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { getKernels } from '../src/engine/backend.ts';
import { measureGemmRates } from './sgemm.ts';
import { QWEN2_05B, WORKLOAD, cachedSoftStep, fullSoftStep, qwen2Llava, softStepFlops, softStepInputs } from './qwen2Workload.ts';

const { values } = parseArgs({
  options: {
    repeats: { type: 'string', default: '5' },
    'skip-torch': { type: 'boolean', default: false },
    'skip-7b': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const repeats = Math.max(1, Number(values.repeats));
const log = (line: string) => process.stderr.write(line + '\n');
const median = (xs: number[]) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

async function timeIt(run: () => unknown, times: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) run();
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    run();
    samples.push((performance.now() - start) / 1000);
  }
  return median(samples);
}

const kernels = getKernels();
log(`kernels: ${kernels.name}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (2 cores; figures are only comparable within this run)`);

// 6. 7B BF16 memory — first, while this process holds nothing big (the child needs ~15 GB).
let memory: { peakRssGiB: number; rssAfterBuildGiB: number; parameters: number; promptTokens: number; runSeconds: number } | null = null;
if (!values['skip-7b']) {
  log('7B-shaped BF16 model in a child process (about a minute to build, a few to run)…');
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/memory7b.ts'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1800_000 });
  try { memory = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? ''); } catch { log(`7B memory run failed (exit ${run.status})`); }
}


// 1. sgemm rate.
const gemm: Record<string, number> = {};
for (const threads of [1, 2]) {
  const rates = await measureGemmRates(kernels, { threads, repeats, shapes: ['square1024', 'linear', 'linearBackwardInput'] });
  for (const rate of rates) gemm[`${rate.id}@${threads}`] = rate.gflops;
}
const threads = kernels.getThreads();
const sgemmRate = Math.max(gemm[`square1024@${threads}`], gemm[`linear@${threads}`]);
log(`sgemm GFLOP/s: ${Object.entries(gemm).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);

// 2–4. The Qwen2-0.5B-shaped workloads.
log('building a random Qwen2-0.5B-shaped model (float32)…');
const model = qwen2Llava();
const inputs = softStepInputs(model);
let start = performance.now();
const prefix = model.prefill({ ids: inputs.prefixIds }, WORKLOAD.suffixTokens + 64);
const prefillSeconds = (performance.now() - start) / 1000;
const cachedFlops = softStepFlops(QWEN2_05B, WORKLOAD.suffixTokens, WORKLOAD.prefixTokens, 20);
const fullFlops = softStepFlops(QWEN2_05B, WORKLOAD.prefixTokens + WORKLOAD.suffixTokens, 0, 20);
log('soft-prompt step, cached prefix…');
const cachedSeconds = await timeIt(() => cachedSoftStep(model, inputs, prefix), repeats);
log('soft-prompt step, full recompute…');
const fullSeconds = await timeIt(() => fullSoftStep(model, inputs), Math.max(1, Math.min(repeats, 3)), 0);
log('prefill and greedy decode…');
const decodeTokens = 32;
const decodeCache = prefix.clone(decodeTokens + 1);
start = performance.now();
let generated = 0;
{
  let hidden = model.forward({ ids: [inputs.suffixIds[0]] }, decodeCache);
  for (let i = 0; i < decodeTokens; i++) {
    const logits = model.logitsAt(hidden, [0]);
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    hidden = model.forward({ ids: [best] }, decodeCache);
    generated++;
  }
}
const decodeTokensPerSecond = generated / ((performance.now() - start) / 1000);

// 5. PyTorch.
type TorchThreads = { soft_step_cached_s: number; soft_step_full_s: number; prefill_s: number; decode_tokens_per_s: number; sgemm_gflops: number };
let torch: { torch_version: string; omp_wait_policy?: string; threads: Record<string, TorchThreads> } | null = null;
let torchNote = '';
const python = '/usr/bin/python3';
if (values['skip-torch']) torchNote = 'skipped (--skip-torch)';
else if (!existsSync(python)) torchNote = `skipped: ${python} not found`;
else {
  log('PyTorch peer (1 and 2 threads)…');
  const run = spawnSync(python, ['bench/peer/torch_qwen2.py', '--threads', '1,2', '--repeats', String(repeats)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1800_000 });
  try {
    const parsed = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '');
    if (parsed.error) torchNote = `skipped: ${parsed.error}`;
    else torch = parsed;
  } catch {
    torchNote = `skipped: the peer script failed (exit ${run.status}); install Debian's python3-torch`;
  }
}

// Report.
const best = torch ? (key: keyof TorchThreads, lowerIsBetter = true) => {
  const entries = Object.entries(torch!.threads).map(([t, v]) => [t, v[key]] as const);
  entries.sort((a, b) => (lowerIsBetter ? a[1] - b[1] : b[1] - a[1]));
  return { threads: entries[0][0], value: entries[0][1] };
} : null;
const gflops = (flops: number, seconds: number) => flops / seconds / 1e9;
const lines: string[] = [];
lines.push(`yollava engine benchmark — ${kernels.name}, load average at start ${loadavg()[0].toFixed(2)}`);
lines.push('');
lines.push(`sgemm rate (native, ${threads} threads): ${sgemmRate.toFixed(0)} GFLOP/s  [1024³: ${gemm['square1024@1'].toFixed(0)} / ${gemm['square1024@2'].toFixed(0)}; 64×896×4864: ${gemm['linear@1'].toFixed(0)} / ${gemm['linear@2'].toFixed(0)} at 1 / 2 threads]`);
lines.push('');
lines.push('| workload (Qwen2-0.5B shape, float32) | yollava | GFLOP/s | % of sgemm | PyTorch best | yollava ÷ PyTorch time |');
lines.push('|---|---|---|---|---|---|');
const row = (name: string, seconds: number, flops: number | null, key: keyof TorchThreads) => {
  const torchBest = best?.(key);
  lines.push(`| ${name} | ${seconds.toFixed(3)} s | ${flops ? gflops(flops, seconds).toFixed(0) : '–'} | ${flops ? ((100 * gflops(flops, seconds)) / sgemmRate).toFixed(0) + '%' : '–'} | ${torchBest ? `${torchBest.value.toFixed(3)} s (${torchBest.threads}t)` : torchNote} | ${torchBest ? (seconds / torchBest.value).toFixed(2) + '×' : '–'} |`);
};
row(`soft step, 64 tokens after a cached 600-token prefix (${(cachedFlops / 1e9).toFixed(0)} GFLOP)`, cachedSeconds, cachedFlops, 'soft_step_cached_s');
row(`soft step, full recompute of 664 tokens (${(fullFlops / 1e9).toFixed(0)} GFLOP)`, fullSeconds, fullFlops, 'soft_step_full_s');
row('prefill 600 tokens', prefillSeconds, null, 'prefill_s');
const torchDecode = best?.('decode_tokens_per_s', false);
lines.push(`| greedy decode after 600 tokens | ${decodeTokensPerSecond.toFixed(2)} tokens/s | | | ${torchDecode ? `${torchDecode.value.toFixed(2)} tokens/s (${torchDecode.threads}t)` : torchNote} | ${torchDecode ? (decodeTokensPerSecond / torchDecode.value).toFixed(2) + '× speed' : '–'} |`);
if (torch) {
  const perThreads = Object.entries(torch.threads).map(([t, v]) => `${t}t: step ${v.soft_step_cached_s.toFixed(3)} s, full ${v.soft_step_full_s.toFixed(2)} s, decode ${v.decode_tokens_per_s.toFixed(2)} tok/s, sgemm ${v.sgemm_gflops.toFixed(0)} GFLOP/s`);
  lines.push('', `PyTorch ${torch.torch_version} (OMP_WAIT_POLICY=${torch.omp_wait_policy ?? 'default'}): ${perThreads.join('; ')}`);
}
lines.push('');
lines.push(`prefix caching: the cached step is ${(fullSeconds / cachedSeconds).toFixed(1)}× cheaper than full recompute`);
const achieved = gflops(cachedFlops, cachedSeconds);
lines.push(`bar: soft step ≥ 60% of sgemm → ${((100 * achieved) / sgemmRate).toFixed(0)}% ${achieved >= 0.6 * sgemmRate ? 'MET' : 'NOT MET'}`);
const torchStep = best?.('soft_step_cached_s');
if (torchStep) lines.push(`bar: soft step time ≤ 1.0× PyTorch → ${(cachedSeconds / torchStep.value).toFixed(2)}× ${cachedSeconds <= torchStep.value ? 'MET' : 'NOT MET'}`);
if (torchDecode) lines.push(`bar: decode ≥ 1.0× PyTorch → ${(decodeTokensPerSecond / torchDecode.value).toFixed(2)}× ${decodeTokensPerSecond >= torchDecode.value ? 'MET' : 'NOT MET'}`);
if (memory) lines.push(`7B-shaped LLaVA in BF16 (${(memory.parameters / 1e9).toFixed(2)}B matrix parameters): peak RSS ${memory.peakRssGiB.toFixed(2)} GiB running a ${memory.promptTokens}-token image prompt (bar ≤ 16 GB: ${memory.peakRssGiB * 2 ** 30 <= 16e9 ? 'MET' : 'NOT MET'})`);
process.stdout.write(lines.join('\n') + '\n');
if (values.json) {
  writeFileSync(values.json, JSON.stringify({ kernels: kernels.name, sgemmRate, gemm, cachedSeconds, fullSeconds, prefillSeconds, decodeTokensPerSecond, cachedFlops, fullFlops, torch, memory }, null, 2));
}
