/**
 * 2-D convolution over channels-last maps, forward and backward, as im2col + one product
 * for the whole batch (so the kernels' BLAS does the arithmetic, once per layer, not per image).
 *
 * Layouts: maps are [N, H, W, C] (channels last: a map of one image IS a token matrix
 * [H·W, C], row-major over the grid). The weight is a Linear [out, k·k·in] whose columns run
 * tap-major: (ky, kx, c). That order makes each im2col row a few contiguous copies of input
 * pixels; PyTorch's [out, in, k, k] is converted at load/save (convWeightFromTorch/ToTorch).
 * Backward ADDS into dInput and into the weight/bias gradients, like every layer here.
 */
import type { Kernels } from '../../engine/kernels.ts';
import { linearBackward, linearForward, type Linear, type LinearGrads } from './linear.ts';

export interface Conv2dShape {
  readonly batch: number;
  readonly height: number; // input
  readonly width: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number; // zeros on every side
}

export function convOutputSize(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

export function conv2dOutputHeight(shape: Conv2dShape): number { return convOutputSize(shape.height, shape.kernel, shape.stride, shape.padding); }
export function conv2dOutputWidth(shape: Conv2dShape): number { return convOutputSize(shape.width, shape.kernel, shape.stride, shape.padding); }

/** Rows of the im2col matrix (= output positions of the whole batch). */
export function conv2dOutputRows(shape: Conv2dShape): number {
  return shape.batch * conv2dOutputHeight(shape) * conv2dOutputWidth(shape);
}

/** Values of the im2col matrix [rows, k·k·in]: the scratch conv2dForward/Backward need. */
export function im2colSize(shape: Conv2dShape): number {
  return conv2dOutputRows(shape) * shape.kernel * shape.kernel * shape.inChannels;
}

/** For one output coordinate, the first and last+1 kernel taps that land inside the input. */
function tapRange(out: number, stride: number, padding: number, kernel: number, size: number): [number, number, number] {
  const origin = out * stride - padding;
  const first = Math.max(0, -origin);
  const end = Math.min(kernel, size - origin);
  return [origin, first, end];
}

/** col[rows, k·k·in] = the input patch under each output position (zeros outside the input). */
export function im2col(col: Float32Array, input: Float32Array, shape: Conv2dShape): void {
  const { batch, height: H, width: W, inChannels: C, kernel: k, stride: s, padding: p } = shape;
  const Ho = conv2dOutputHeight(shape);
  const Wo = conv2dOutputWidth(shape);
  const K = k * k * C;
  let row = 0;
  for (let n = 0; n < batch; n++) {
    const image = n * H * W * C;
    for (let oy = 0; oy < Ho; oy++) {
      const [y0, kyFirst, kyEnd] = tapRange(oy, s, p, k, H);
      for (let ox = 0; ox < Wo; ox++, row++) {
        const base = row * K;
        const [x0, kxFirst, kxEnd] = tapRange(ox, s, p, k, W);
        if (kyFirst > 0 || kyEnd < k || kxFirst > 0 || kxEnd < k) col.fill(0, base, base + K);
        if (kxEnd <= kxFirst) continue;
        // Taps kx..kxEnd of one kernel row read adjacent pixels: one contiguous run.
        const run = (kxEnd - kxFirst) * C;
        for (let ky = kyFirst; ky < kyEnd; ky++) {
          const src = image + ((y0 + ky) * W + x0 + kxFirst) * C;
          const dst = base + (ky * k + kxFirst) * C;
          if (run >= 32) col.set(input.subarray(src, src + run), dst);
          else for (let i = 0; i < run; i++) col[dst + i] = input[src + i];
        }
      }
    }
  }
}

/** The transpose of im2col: dInput += each patch gradient, at the pixels it came from. */
export function col2imAdd(dInput: Float32Array, col: Float32Array, shape: Conv2dShape): void {
  const { batch, height: H, width: W, inChannels: C, kernel: k, stride: s, padding: p } = shape;
  const Ho = conv2dOutputHeight(shape);
  const Wo = conv2dOutputWidth(shape);
  const K = k * k * C;
  let row = 0;
  for (let n = 0; n < batch; n++) {
    const image = n * H * W * C;
    for (let oy = 0; oy < Ho; oy++) {
      const [y0, kyFirst, kyEnd] = tapRange(oy, s, p, k, H);
      for (let ox = 0; ox < Wo; ox++, row++) {
        const base = row * K;
        const [x0, kxFirst, kxEnd] = tapRange(ox, s, p, k, W);
        const run = (kxEnd - kxFirst) * C;
        for (let ky = kyFirst; ky < kyEnd; ky++) {
          const dst = image + ((y0 + ky) * W + x0 + kxFirst) * C;
          const src = base + (ky * k + kxFirst) * C;
          for (let i = 0; i < run; i++) dInput[dst + i] += col[src + i];
        }
      }
    }
  }
}

/**
 * out[N·Ho·Wo, out] = conv(input [N, H, W, in]) (+ bias). `col` is scratch of at least
 * im2colSize(shape) values.
 */
export function conv2dForward(kernels: Kernels, out: Float32Array, input: Float32Array, layer: Linear, shape: Conv2dShape, col: Float32Array): void {
  checkLayer(layer, shape);
  const rows = conv2dOutputRows(shape);
  const patches = col.subarray(0, rows * layer.weight.cols);
  im2colWith(kernels, patches, input, shape);
  linearForward(kernels, out, patches, layer, rows);
}

/**
 * dInput [N, H, W, in] += d conv / d input · dOut (when dInput is given); the weight and bias
 * gradients += theirs (when `grads` has them). The patches are rebuilt from `input` rather
 * than kept from the forward: one cheap copy instead of a tape the size of k·k maps.
 */
export function conv2dBackward(
  kernels: Kernels, dInput: Float32Array | null, grads: LinearGrads | null,
  dOut: Float32Array, input: Float32Array, layer: Linear, shape: Conv2dShape, col: Float32Array,
): void {
  checkLayer(layer, shape);
  const rows = conv2dOutputRows(shape);
  const patches = col.subarray(0, rows * layer.weight.cols);
  const needWeights = grads !== null && (grads.weight !== null || grads.bias !== null);
  if (needWeights) {
    im2colWith(kernels, patches, input, shape);
    linearBackward(kernels, null, false, grads, dOut, patches, layer, rows);
  }
  if (dInput) {
    kernels.linearBackwardInput(dOut, rows, layer.weight, patches, false);
    col2imAddWith(kernels, dInput, patches, shape);
  }
}

/** The backend's im2col / col2imAdd when it has them (the native addon's are threaded), else the references. */
function im2colWith(kernels: Kernels, col: Float32Array, input: Float32Array, shape: Conv2dShape): void {
  if (kernels.im2col) kernels.im2col(col, input, shape.batch, shape.height, shape.width, shape.inChannels, shape.kernel, shape.stride, shape.padding);
  else im2col(col, input, shape);
}

function col2imAddWith(kernels: Kernels, dInput: Float32Array, col: Float32Array, shape: Conv2dShape): void {
  if (kernels.col2imAdd) kernels.col2imAdd(dInput, col, shape.batch, shape.height, shape.width, shape.inChannels, shape.kernel, shape.stride, shape.padding);
  else col2imAdd(dInput, col, shape);
}

function checkLayer(layer: Linear, shape: Conv2dShape): void {
  const { rows, cols } = layer.weight;
  if (rows !== shape.outChannels || cols !== shape.kernel * shape.kernel * shape.inChannels) {
    throw new RangeError(`conv2d weight is [${rows}, ${cols}], the shape needs [${shape.outChannels}, ${shape.kernel * shape.kernel * shape.inChannels}]`);
  }
}

/** PyTorch's weight [out, in, k, k] → this layer's [out, k, k, in]. */
export function convWeightFromTorch(torch: Float32Array, out: number, inChannels: number, kernel: number): Float32Array {
  const taps = kernel * kernel;
  const result = new Float32Array(out * taps * inChannels);
  for (let o = 0; o < out; o++) {
    for (let c = 0; c < inChannels; c++) {
      for (let t = 0; t < taps; t++) result[(o * taps + t) * inChannels + c] = torch[(o * inChannels + c) * taps + t];
    }
  }
  return result;
}

/** This layer's weight [out, k, k, in] → PyTorch's [out, in, k, k]. */
export function convWeightToTorch(weight: Float32Array, out: number, inChannels: number, kernel: number): Float32Array {
  const taps = kernel * kernel;
  const result = new Float32Array(out * taps * inChannels);
  for (let o = 0; o < out; o++) {
    for (let c = 0; c < inChannels; c++) {
      for (let t = 0; t < taps; t++) result[(o * inChannels + c) * taps + t] = weight[(o * taps + t) * inChannels + c];
    }
  }
  return result;
}
