/**
 * AdamW with PyTorch's semantics (torch.optim.AdamW): decoupled weight decay applied to the
 * parameter before the Adam update, bias-corrected moments, eps added after the square root.
 */

export interface Parameter {
  readonly name: string;
  readonly value: Float32Array;
  readonly grad: Float32Array;
  /** Parameters such as norms and biases are usually excluded from weight decay. */
  readonly decay?: boolean;
  /** This parameter's rate is the optimizer's times this (default 1), e.g. for layers new to a trained model. */
  readonly lrScale?: number;
}

export interface AdamWOptions {
  readonly lr?: number; // default 1e-3
  readonly beta1?: number; // 0.9
  readonly beta2?: number; // 0.999
  readonly eps?: number; // 1e-8
  readonly weightDecay?: number; // 0.01
}

export interface AdamWState {
  readonly step: number;
  readonly m: Float32Array[];
  readonly v: Float32Array[];
}

export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private steps = 0;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];

  constructor(readonly parameters: readonly Parameter[], options: AdamWOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.m = parameters.map((p) => new Float32Array(p.value.length));
    this.v = parameters.map((p) => new Float32Array(p.value.length));
  }

  get stepCount(): number { return this.steps; }

  /** One update from the accumulated gradients (which are left as they are). */
  step(): void {
    this.steps++;
    const { beta1, beta2, eps, lr } = this;
    const correction1 = 1 - beta1 ** this.steps;
    const correction2 = 1 - beta2 ** this.steps;
    const stepSize = lr / correction1;
    const sqrtCorrection2 = Math.sqrt(correction2);
    this.parameters.forEach((parameter, index) => {
      const { value, grad } = parameter;
      const m = this.m[index];
      const v = this.v[index];
      const scale = parameter.lrScale ?? 1;
      const decay = parameter.decay === false ? 1 : 1 - lr * scale * this.weightDecay;
      const size = stepSize * scale;
      for (let i = 0; i < value.length; i++) {
        const g = grad[i];
        const mi = (m[i] = beta1 * m[i] + (1 - beta1) * g);
        const vi = (v[i] = beta2 * v[i] + (1 - beta2) * g * g);
        value[i] = value[i] * decay - size * mi / (Math.sqrt(vi) / sqrtCorrection2 + eps);
      }
    });
  }

  zeroGrad(): void {
    for (const parameter of this.parameters) parameter.grad.fill(0);
  }

  /** Moments and step count, for checkpoints that resume. */
  state(): AdamWState {
    return { step: this.steps, m: this.m, v: this.v };
  }

  loadState(state: AdamWState): void {
    if (state.m.length !== this.m.length || state.m.some((m, i) => m.length !== this.m[i].length)) {
      throw new Error('optimizer state does not match the parameters (different model or trainable set)');
    }
    this.steps = state.step;
    state.m.forEach((m, i) => this.m[i].set(m));
    state.v.forEach((v, i) => this.v[i].set(v));
  }
}
