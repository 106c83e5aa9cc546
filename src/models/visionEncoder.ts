/**
 * What LLaVA needs of a vision tower, whichever kind it is: the CLIP/SigLIP transformer
 * (VisionTower) or yollava's own convolutional tower (ConvVisionTower).
 *
 * Hidden states: forward returns config.numLayers + 1 states at most (fewer when `layers`
 * stops early), and the last one is the token matrix [numTokens, hiddenSize] that LLaVA's
 * feature selection reads. `Tape` and `Grads` are each tower's own types: pass back to
 * `backward` exactly what its own `forward` and `newGrads` made.
 */
import type { ConvVisionConfig } from './convVisionTower.ts';
import type { VisionConfig } from './visionTower.ts';

export type VisionEncoderConfig = VisionConfig | ConvVisionConfig;

export interface VisionForwardOptions {
  /** Run up to this hidden state (all by default). */
  readonly layers?: number;
  /** Keep what backward needs. */
  readonly tape?: boolean;
}

export interface VisionEncoder<Tape = unknown, Grads = unknown> {
  readonly config: VisionEncoderConfig;
  /** Rows of the last hidden state (image tokens before LLaVA's selection). */
  readonly numTokens: number;
  /** pixel values [channels, S, S] → hidden states, and the tape when asked. */
  forward(pixelValues: Float32Array, options?: VisionForwardOptions): { hiddenStates: Float32Array[]; tape: Tape | null };
  /**
   * From d loss / d (the last hidden state the tape reached) down to the weights (ADDED into
   * `grads` when given; null members are frozen) and to the pixels (returned).
   */
  backward(tape: Tape, dLast: Float32Array, grads: Grads | null): Float32Array;
  /** Zeroed gradients of every weight. */
  newGrads(): Grads;
  /** The tower's final per-token norm on rows of x (a copy when it has none). */
  postNorm(x: Float32Array, rows: number): Float32Array;
}
