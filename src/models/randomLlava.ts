/**
 * Randomly initialised LLaVA models of any shape, built in memory (no file): for tests,
 * benchmarks (Qwen2-0.5B-shaped, 7B-shaped in bf16) and as the starting point of pretraining.
 */
import { getKernels } from '../engine/backend.ts';
import { float32ToBf16, float32ToF16 } from '../engine/dtypes.ts';
import type { Kernels, Matrix, WeightDType } from '../engine/kernels.ts';
import type { LlavaConfig } from './config.ts';
import { ConvVisionTower, randomConvVisionWeights } from './convVisionTower.ts';
import { Decoder, type DecoderConfig, type DecoderWeights } from './decoder.ts';
import type { Linear } from './layers/linear.ts';
import { LlavaModel } from './llava.ts';
import { Projector } from './projector.ts';
import { seededRandom } from './sampling.ts';
import type { VisionEncoder } from './visionEncoder.ts';
import { VisionTower, type VisionConfig, type VisionWeights } from './visionTower.ts';

/** Normal(0, 1) samples from a seeded generator (Box–Muller). */
export function seededNormal(seed: number): () => number {
  const uniform = seededRandom(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    const u = Math.max(uniform(), 1e-12);
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export interface RandomInit {
  readonly seed?: number;
  /** Standard deviation of matrices and embeddings (default 0.02, as HF initialises). */
  readonly std?: number;
  /** Storage of the matrices (default f32). */
  readonly dtype?: WeightDType;
  /**
   * Fill big matrices by repeating one random block instead of drawing every value: for
   * memory and speed benchmarks of 7B-shaped models, where drawing 7·10⁹ normals would
   * dominate. The values are then not independent.
   */
  readonly tiled?: boolean;
}

const TILE = 1 << 20;

class Initializer {
  private readonly normal: () => number;
  private tile: Float32Array | null = null;
  private tileBits: Uint16Array | null = null;
  private offset = 0;

  constructor(private readonly init: RandomInit) {
    this.normal = seededNormal(init.seed ?? 0);
  }

  private get std(): number { return this.init.std ?? 0.02; }

  vector(length: number, mean = 0, std = this.std): Float32Array {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  matrix(rows: number, cols: number, std = this.std): Matrix {
    return this.stacked([rows], cols, std)[0];
  }

  /** Matrices of one width in one buffer, as consecutive row blocks (what the loader does for q/k/v and gate/up). */
  stacked(rows: readonly number[], cols: number, std = this.std): Matrix[] {
    const dtype = this.init.dtype ?? 'f32';
    const total = rows.reduce((sum, r) => sum + r * cols, 0);
    const buffer = dtype === 'f32' ? new Float32Array(total) : new Uint16Array(total);
    if (this.init.tiled && total > TILE) this.fillTiled(dtype, buffer);
    else {
      const convert = dtype === 'bf16' ? float32ToBf16 : float32ToF16;
      for (let i = 0; i < total; i++) {
        const value = std * this.normal();
        buffer[i] = dtype === 'f32' ? value : convert(value);
      }
    }
    let offset = 0;
    return rows.map((r) => {
      const data = buffer.subarray(offset, offset + r * cols);
      offset += r * cols;
      return { dtype, rows: r, cols, data };
    });
  }

  private fillTiled(dtype: WeightDType, out: Float32Array | Uint16Array): void {
    if (!this.tile) {
      this.tile = this.vector(TILE + 4096);
      const convert = dtype === 'bf16' ? float32ToBf16 : float32ToF16;
      this.tileBits = Uint16Array.from(this.tile, (v) => convert(v));
    }
    const source = dtype === 'f32' ? this.tile : this.tileBits!;
    for (let done = 0; done < out.length; ) {
      const start = this.offset++ % 4096; // a shifted window, so rows differ
      const length = Math.min(TILE, out.length - done);
      out.set(source.subarray(start, start + length) as never, done);
      done += length;
    }
  }

  /** Vectors in one buffer (fused biases). */
  stackedVectors(lengths: readonly number[]): Float32Array[] {
    const buffer = this.vector(lengths.reduce((a, b) => a + b, 0));
    let offset = 0;
    return lengths.map((length) => buffer.subarray(offset, (offset += length)));
  }

  linear(out: number, inp: number, bias: boolean): Linear {
    return { weight: this.matrix(out, inp), bias: bias ? this.vector(out) : null };
  }
}

export function randomVisionWeights(config: VisionConfig, init: Initializer): VisionWeights {
  const C = config.hiddenSize;
  const F = config.intermediateSize;
  const side = Math.floor(config.imageSize / config.patchSize);
  const tokens = side * side + (config.kind === 'clip' ? 1 : 0);
  const norm = () => ({ weight: init.vector(C, 1, 0.1), bias: init.vector(C) });
  return {
    patchEmbedding: init.linear(C, config.numChannels * config.patchSize ** 2, config.kind === 'siglip'),
    classEmbedding: config.kind === 'clip' ? init.vector(C) : null,
    positionEmbedding: init.vector(tokens * C),
    preNorm: config.kind === 'clip' ? norm() : null,
    layers: Array.from({ length: config.numLayers }, () => ({
      norm1: norm(), q: init.linear(C, C, true), k: init.linear(C, C, true), v: init.linear(C, C, true), o: init.linear(C, C, true),
      norm2: norm(), fc1: init.linear(F, C, true), fc2: init.linear(C, F, true),
    })),
    postNorm: norm(),
  };
}

export function randomDecoderWeights(config: DecoderConfig, init: Initializer): DecoderWeights {
  const C = config.hiddenSize;
  const F = config.intermediateSize;
  const qSize = config.numHeads * config.headDim;
  const kvSize = config.numKvHeads * config.headDim;
  const bias = config.kind === 'qwen2';
  const embedTokens = init.matrix(config.vocabSize, C);
  return {
    embedTokens,
    layers: Array.from({ length: config.numLayers }, () => {
      const [q, k, v] = init.stacked([qSize, kvSize, kvSize], C);
      const [qBias, kBias, vBias] = bias ? init.stackedVectors([qSize, kvSize, kvSize]) : [null, null, null];
      const [gate, up] = init.stacked([F, F], C);
      return {
        inputNorm: init.vector(C, 1, 0.1),
        q: { weight: q, bias: qBias }, k: { weight: k, bias: kBias }, v: { weight: v, bias: vBias }, o: init.linear(C, qSize, false),
        postNorm: init.vector(C, 1, 0.1),
        gate: { weight: gate, bias: null }, up: { weight: up, bias: null }, down: init.linear(C, F, false),
      };
    }),
    norm: init.vector(C, 1, 0.1),
    lmHead: config.tieWordEmbeddings ? embedTokens : init.matrix(config.vocabSize, C),
  };
}

/** A LLaVA model with random weights of the given configuration. */
export function createRandomLlava(config: LlavaConfig, init: RandomInit = {}, kernels: () => Kernels = getKernels): LlavaModel {
  const initializer = new Initializer(init);
  // Conv towers: He-normal convolutions (see randomConvVisionWeights).
  const vision: VisionEncoder = config.vision.kind === 'conv'
    ? new ConvVisionTower(config.vision, randomConvVisionWeights(config.vision, initializer), kernels)
    : new VisionTower(config.vision, randomVisionWeights(config.vision, initializer), kernels);
  const projector = {
    linear1: initializer.linear(config.text.hiddenSize, config.vision.hiddenSize, config.projectorBias),
    linear2: initializer.linear(config.text.hiddenSize, config.text.hiddenSize, config.projectorBias),
  };
  const text = randomDecoderWeights(config.text, initializer);
  return new LlavaModel(
    config,
    vision,
    new Projector(projector, config.projectorAct, kernels),
    new Decoder(config.text, text, kernels),
    kernels,
  );
}

/** A decoder alone with random weights (benchmarks of the language side). */
export function createRandomDecoder(config: DecoderConfig, init: RandomInit = {}, kernels: () => Kernels = getKernels): Decoder {
  return new Decoder(config, randomDecoderWeights(config, new Initializer(init)), kernels);
}
