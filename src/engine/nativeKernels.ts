/** Placeholder until the native addon lands: reports that it is not built. */
import type { Kernels } from './kernels.ts';

export function loadNativeKernels(): Kernels | Error {
  return new Error('native addon not built');
}
