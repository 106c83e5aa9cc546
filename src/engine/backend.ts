/**
 * Picks the kernels the engine runs on: the native addon (OpenBLAS) when it is built and
 * loads, otherwise the plain-TypeScript reference, with a one-line notice on stderr.
 * `YOLLAVA_KERNELS=js` forces the reference; `YOLLAVA_KERNELS=native` makes a missing addon
 * an error instead of a fallback.
 */
import type { Kernels } from './kernels.ts';
import { jsKernels } from './jsKernels.ts';
import { loadNativeKernels } from './nativeKernels.ts';

let active: Kernels | undefined;

export function getKernels(): Kernels {
  if (active) return active;
  const wanted = process.env.YOLLAVA_KERNELS;
  if (wanted === 'js') return (active = jsKernels);
  const native = loadNativeKernels();
  if (native instanceof Error) {
    if (wanted === 'native') throw native;
    process.stderr.write(
      `yollava: native kernels unavailable (${native.message}); using plain TypeScript kernels, ~50× slower. ` +
        `Install libopenblas-dev and run \`npm run build:native\`.\n`,
    );
    return (active = jsKernels);
  }
  return (active = native);
}

/** Replaces the active kernels (tests compare backends with this). */
export function setKernels(kernels: Kernels): void {
  active = kernels;
}
