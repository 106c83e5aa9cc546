/**
 * The fast kernels: the N-API addon in native/ (OpenBLAS sgemm/sgemv, plus its own threaded
 * f16/bf16 gemv and weight widening). Built by `npm run build:native`; when it is missing,
 * `loadNativeKernels` returns an Error and the engine falls back to the TypeScript reference.
 *
 * The addon validates every argument itself (array types, lengths against the shapes and
 * leading dimensions, outputs not sharing memory with inputs) and throws TypeError/RangeError.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Kernels, Matrix, WeightDType } from './kernels.ts';

/** The addon's exports (native/src/addon.c). */
export interface NativeAddon {
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number,
    beta: number, c: Float32Array, ldc: number,
  ): void;
  linear(
    x: Float32Array, m: number, wData: Float32Array | Uint16Array, wDtype: WeightDType, wRows: number, wCols: number,
    out: Float32Array, accumulate: boolean, ldx: number, ldout: number,
  ): void;
  linearBackwardInput(
    dy: Float32Array, m: number, wData: Float32Array | Uint16Array, wDtype: WeightDType, wRows: number, wCols: number,
    dx: Float32Array, accumulate: boolean, lddy: number, lddx: number,
  ): void;
  toFloat32(src: Float32Array | Uint16Array, dtype: WeightDType, dst: Float32Array): void;
  /** dst.length values of e^src in float32 (relative error ≤ 1e-7); dst may be src itself. */
  exp(src: Float32Array, dst: Float32Array): void;
  softmaxRows: NonNullable<Kernels['softmaxRows']>;
  softmaxRowsBackward: NonNullable<Kernels['softmaxRowsBackward']>;
  swigluForward: NonNullable<Kernels['swigluForward']>;
  swigluBackward: NonNullable<Kernels['swigluBackward']>;
  geluForward: NonNullable<Kernels['geluForward']>;
  geluBackward: NonNullable<Kernels['geluBackward']>;
  rmsNormForward: NonNullable<Kernels['rmsNormForward']>;
  rmsNormBackward: NonNullable<Kernels['rmsNormBackward']>;
  im2col: NonNullable<Kernels['im2col']>;
  col2imAdd: NonNullable<Kernels['col2imAdd']>;
  groupNormForward: NonNullable<Kernels['groupNormForward']>;
  groupNormBackward: NonNullable<Kernels['groupNormBackward']>;
  setThreads(threads: number): void;
  getThreads(): number;
  info(): { blasConfig: string; isa: string; tileRows: number; f32GemvBlas: boolean; gemvRowsPerPass: number; smallMMax: number };
  /**
   * Test and benchmark knobs: 'tileRows' (rows of W per widened tile, 0: by size), 'f32GemvBlas' (0: own gemv, 1: OpenBLAS
   * sgemv), 'gemvRowsPerPass' (0: by the length of x, 1 or 4: forced), 'isa' ('avx512', 'avx2', 'generic'),
   * 'smallMMax' (largest m for which linear/linearBackwardInput stream W through the small-m kernels
   * instead of sgemm; 0: never; -1: the default policy, m ≤ 64, or ≤ 48 for a backward with f32 rows of
   * W longer than 1024).
   */
  tune(name: 'tileRows' | 'f32GemvBlas' | 'gemvRowsPerPass' | 'isa' | 'smallMMax', value: number | string): void;
}

const addonCandidates = ['build/Release/yollava_native.node', 'build/Debug/yollava_native.node'];
const nativeDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native');

let loaded: NativeAddon | Error | undefined;

/**
 * The OpenBLAS core type to force for a CPU with these /proc/cpuinfo `flags` and `vendor`, or null
 * to leave OpenBLAS's own detection alone. OpenBLAS 0.3.21 (Debian 12) does not know every CPU
 * model a virtual machine reports; it then falls back to its generic "Prescott" kernels, about
 * 4.5× slower at sgemm than SkylakeX on the same AVX-512 machine (65 vs 295 GFLOP/s, 1024³,
 * 2 threads, measured here). The flags say what the CPU can run, whatever its model number. AMD
 * CPUs get the Zen kernels, which is what OpenBLAS itself picks for every Zen it knows (a Zen 4
 * VM measured 203 GFLOP/s with them); the SkylakeX kernels were not measured on AMD.
 */
export function openBlasCoreTypeFor(flags: ReadonlySet<string>, vendor = 'GenuineIntel'): string | null {
  if (!(flags.has('avx2') && flags.has('fma'))) return null;
  if (vendor === 'AuthenticAMD') return 'ZEN';
  if (vendor !== 'GenuineIntel') return null;
  if (['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) return 'SKYLAKEX';
  return 'HASWELL';
}

/** The first processor's flags and vendor from /proc/cpuinfo (empty where there is none). */
export function cpuInfo(cpuinfo?: string): { flags: Set<string>; vendor: string } {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return { flags: new Set(), vendor: '' };
    }
  }
  const flags = /^flags\s*:(.*)$/m.exec(text);
  const vendor = /^vendor_id\s*:\s*(\S+)/m.exec(text);
  return { flags: new Set(flags ? flags[1].trim().split(/\s+/) : []), vendor: vendor ? vendor[1] : '' };
}

/** Sets OPENBLAS_CORETYPE (read once, when the library loads) unless the user has set it. */
function chooseOpenBlasCoreType(): void {
  if (process.env.OPENBLAS_CORETYPE || process.platform !== 'linux' || process.arch !== 'x64') return;
  const { flags, vendor } = cpuInfo();
  const coreType = openBlasCoreTypeFor(flags, vendor);
  if (coreType) process.env.OPENBLAS_CORETYPE = coreType;
}

/** The raw addon (for benchmarks and tests), or the Error that says why it is unavailable. */
export function loadNativeAddon(): NativeAddon | Error {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  chooseOpenBlasCoreType();
  const failures: string[] = [];
  for (const candidate of addonCandidates) {
    const path = join(nativeDir, candidate);
    try {
      return (loaded = require(path) as NativeAddon);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'MODULE_NOT_FOUND') failures.push(`${path}: ${(error as Error).message}`);
    }
  }
  loaded = new Error(
    failures.length
      ? `the native addon did not load: ${failures.join('; ')}`
      : `the native addon is not built (no ${join(nativeDir, addonCandidates[0])})`,
  );
  return loaded;
}

/** Threads from YOLLAVA_THREADS, else the cores this process may use (at most 64, as OpenBLAS). */
function defaultThreads(): number | Error {
  const fromEnv = process.env.YOLLAVA_THREADS;
  if (fromEnv === undefined || fromEnv === '') return Math.min(64, availableParallelism());
  const threads = Number(fromEnv);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    return new Error(`YOLLAVA_THREADS must be an integer from 1 to 64, got "${fromEnv}"`);
  }
  return threads;
}

/** "OpenBLAS 0.3.21" out of openblas_get_config()'s "OpenBLAS 0.3.21 DYNAMIC_ARCH …". */
function blasName(config: string): string {
  const match = /OpenBLAS\s+([\w.]+)/.exec(config);
  return match ? `OpenBLAS ${match[1]}` : 'OpenBLAS';
}

export function loadNativeKernels(): Kernels | Error {
  const addon = loadNativeAddon();
  if (addon instanceof Error) return addon;
  const threads = defaultThreads();
  if (threads instanceof Error) return threads;
  addon.setThreads(threads);
  const blas = blasName(addon.info().blasConfig);
  return {
    get name() {
      return `native (${blas}, ${addon.getThreads()} threads)`;
    },
    gemm: addon.gemm,
    linear(x: Float32Array, m: number, w: Matrix, out: Float32Array, accumulate: boolean, ldx?: number, ldout?: number) {
      addon.linear(x, m, w.data, w.dtype, w.rows, w.cols, out, accumulate, ldx ?? Math.max(1, w.cols), ldout ?? Math.max(1, w.rows));
    },
    linearBackwardInput(dy: Float32Array, m: number, w: Matrix, dx: Float32Array, accumulate: boolean) {
      addon.linearBackwardInput(dy, m, w.data, w.dtype, w.rows, w.cols, dx, accumulate, Math.max(1, w.rows), Math.max(1, w.cols));
    },
    toFloat32: addon.toFloat32,
    softmaxRows: addon.softmaxRows,
    softmaxRowsBackward: addon.softmaxRowsBackward,
    swigluForward: addon.swigluForward,
    swigluBackward: addon.swigluBackward,
    geluForward: addon.geluForward,
    geluBackward: addon.geluBackward,
    rmsNormForward: addon.rmsNormForward,
    rmsNormBackward: addon.rmsNormBackward,
    im2col: addon.im2col,
    col2imAdd: addon.col2imAdd,
    groupNormForward: addon.groupNormForward,
    groupNormBackward: addon.groupNormBackward,
    getThreads: addon.getThreads,
    setThreads: addon.setThreads,
  };
}
