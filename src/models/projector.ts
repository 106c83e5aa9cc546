/** The LLaVA multimodal projector: linear → activation → linear, from vision width to text width. */
import type { Kernels } from '../engine/kernels.ts';
import { activationBackward, activationForward, type ActivationName } from './layers/activations.ts';
import { linearBackward, linearForward, type Linear, type LinearGrads } from './layers/linear.ts';

export interface ProjectorWeights {
  readonly linear1: Linear; // [Ct, Cv]
  readonly linear2: Linear; // [Ct, Ct]
}

export interface ProjectorGrads { linear1: LinearGrads; linear2: LinearGrads }

export interface ProjectorTape { readonly input: Float32Array; readonly pre: Float32Array; readonly act: Float32Array; readonly N: number }

export class Projector {
  constructor(readonly weights: ProjectorWeights, readonly activation: ActivationName, private readonly kernels: () => Kernels) {}

  get outputSize(): number { return this.weights.linear2.weight.rows; }

  /** features [N, Cv] → [N, Ct]. */
  forward(features: Float32Array, N: number, keepTape = false): { output: Float32Array; tape: ProjectorTape | null } {
    const kernels = this.kernels();
    const mid = this.weights.linear1.weight.rows;
    const pre = new Float32Array(N * mid);
    linearForward(kernels, pre, features, this.weights.linear1, N);
    const act = new Float32Array(N * mid);
    activationForward(this.activation, act, pre, pre.length, kernels);
    const output = new Float32Array(N * this.outputSize);
    linearForward(kernels, output, act, this.weights.linear2, N);
    return { output, tape: keepTape ? { input: features, pre, act, N } : null };
  }

  /** Returns d features [N, Cv]; adds weight gradients into `grads` when given. */
  backward(tape: ProjectorTape, dOutput: Float32Array, grads: ProjectorGrads | null): Float32Array {
    const kernels = this.kernels();
    const { N } = tape;
    const mid = this.weights.linear1.weight.rows;
    const dAct = new Float32Array(N * mid);
    linearBackward(kernels, dAct, false, grads?.linear2 ?? null, dOutput, tape.act, this.weights.linear2, N);
    const dPre = new Float32Array(N * mid);
    activationBackward(this.activation, dPre, dAct, tape.pre, tape.pre.length, kernels);
    const dInput = new Float32Array(N * this.weights.linear1.weight.cols);
    linearBackward(kernels, dInput, false, grads?.linear1 ?? null, dPre, tape.input, this.weights.linear1, N);
    return dInput;
  }
}
