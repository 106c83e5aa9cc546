/**
 * Elementwise activations, forward and backward. Backward functions ADD into `dx`
 * (gradients are zeroed once per step by the caller), reading what the forward kept: the
 * pre-activation input `x`.
 */

import type { Kernels } from '../../engine/kernels.ts';

export type ActivationName = 'silu' | 'gelu' | 'gelu_pytorch_tanh' | 'quick_gelu' | 'relu';

/** The kernels' native GELU, when they have one (erf dominated the conv tower's time in JS). */
type GeluKernels = Pick<Kernels, 'geluForward' | 'geluBackward'>;

/** erf with |error| < 1.2e-7 everywhere (Chebyshev fit of erfc, Numerical Recipes §6.2). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(
    -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
      t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? 1 - erfc : erfc - 1;
}

const SQRT_HALF = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function activationForward(name: ActivationName, out: Float32Array, x: Float32Array, count = x.length, kernels?: GeluKernels): void {
  if (name === 'gelu' && kernels?.geluForward) { kernels.geluForward(out, x, count); return; }
  switch (name) {
    case 'silu':
      for (let i = 0; i < count; i++) { const v = x[i]; out[i] = v / (1 + Math.exp(-v)); }
      return;
    case 'gelu':
      for (let i = 0; i < count; i++) { const v = x[i]; out[i] = 0.5 * v * (1 + erf(v * SQRT_HALF)); }
      return;
    case 'gelu_pytorch_tanh':
      for (let i = 0; i < count; i++) {
        const v = x[i];
        out[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
      }
      return;
    case 'quick_gelu':
      for (let i = 0; i < count; i++) { const v = x[i]; out[i] = v / (1 + Math.exp(-1.702 * v)); }
      return;
    case 'relu':
      // Branch-free (exact: v + |v| is 2v or 0): half the signs are negative, and a branch mispredicts 5× slower.
      for (let i = 0; i < count; i++) { const v = x[i]; out[i] = 0.5 * (v + Math.abs(v)); }
      return;
  }
}

/** dx += dout · act'(x). */
export function activationBackward(name: ActivationName, dx: Float32Array, dout: Float32Array, x: Float32Array, count = x.length, kernels?: GeluKernels): void {
  if (name === 'gelu' && kernels?.geluBackward) { kernels.geluBackward(dx, dout, x, count); return; }
  switch (name) {
    case 'silu':
      for (let i = 0; i < count; i++) {
        const v = x[i];
        const s = 1 / (1 + Math.exp(-v));
        dx[i] += dout[i] * s * (1 + v * (1 - s));
      }
      return;
    case 'gelu':
      for (let i = 0; i < count; i++) {
        const v = x[i];
        dx[i] += dout[i] * (0.5 * (1 + erf(v * SQRT_HALF)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
      return;
    case 'gelu_pytorch_tanh':
      for (let i = 0; i < count; i++) {
        const v = x[i];
        const t = Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
        dx[i] += dout[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v));
      }
      return;
    case 'quick_gelu':
      for (let i = 0; i < count; i++) {
        const v = x[i];
        const s = 1 / (1 + Math.exp(-1.702 * v));
        dx[i] += dout[i] * (s + 1.702 * v * s * (1 - s));
      }
      return;
    case 'relu':
      for (let i = 0; i < count; i++) dx[i] += dout[i] * +(x[i] > 0); // a number, not a branch
      return;
  }
}

/** SwiGLU gate: out = silu(gate) · up. */
export function swigluForward(out: Float32Array, gate: Float32Array, up: Float32Array, count = gate.length): void {
  for (let i = 0; i < count; i++) { const g = gate[i]; out[i] = (g / (1 + Math.exp(-g))) * up[i]; }
}

/** dGate += dout · up · silu'(gate); dUp += dout · silu(gate). */
export function swigluBackward(dGate: Float32Array, dUp: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, count = gate.length): void {
  for (let i = 0; i < count; i++) {
    const g = gate[i];
    const s = 1 / (1 + Math.exp(-g));
    const d = dout[i];
    dGate[i] += d * up[i] * s * (1 + g * (1 - s));
    dUp[i] += d * g * s;
  }
}

export function parseActivation(name: unknown, where: string): ActivationName {
  if (name === 'gelu_new' || name === 'gelu_fast') return 'gelu_pytorch_tanh';
  if (name === 'silu' || name === 'gelu' || name === 'gelu_pytorch_tanh' || name === 'quick_gelu' || name === 'relu') return name;
  throw new Error(`${where}: unsupported activation ${JSON.stringify(name)} (supported: silu, gelu, gelu_pytorch_tanh, quick_gelu, relu)`);
}
