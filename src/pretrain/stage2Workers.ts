/**
 * Stage 2 on several processes (data parallel): each optimizer step's micro-batches are shared
 * out to worker processes, each of which holds a copy of the model, adds its micro-batches'
 * gradients and writes them to a file in shared memory (/dev/shm where there is one); the
 * training process sums them, takes the AdamW step and writes the new projector and decoder
 * weights back for the next step. The sums are the ones a single process computes (in another
 * order of float additions), so a sitting on N workers continues a run of 1 and the other way
 * round.
 *
 * Why processes, not worker_threads: the native kernels keep process-wide state (their thread
 * pool and scratch buffers) and serialize concurrent calls, and one process on 2 cores gains
 * only ~14 % from the second (its small products and single-threaded parts) — independent
 * processes on one core each do not share that limit.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Parameter } from '../engine/adamw.ts';
import type { LlavaModel } from '../models/llava.ts';
import { saveLlava } from '../models/saveLlava.ts';
import type { CorpusOptions } from '../world/index.ts';
import { addTally, emptyTally, type DecisionTally } from './instructMicroStep.ts';

/** A corpus sample by its place in the stream and the phase (the corpus of `WorkerSetup.corpora`) it is drawn from. */
export interface SampleRef {
  readonly index: number;
  readonly phase: number;
}

/** What every worker needs besides the model: its tokenizer and the corpus streams it draws from. */
export interface WorkerSetup {
  /** Where the workers read tokenizer.json and its companions. */
  readonly tokenizerDir: string;
  /** The corpus of each phase of the schedule (the task mix changes between them). */
  readonly corpora: readonly Omit<CorpusOptions, 'count'>[];
  readonly promptLoss: number;
}

export interface WorkerInit extends WorkerSetup {
  readonly type: 'init';
  readonly modelDir: string;
  readonly paramsPath: string;
  readonly gradsPath: string;
}

/** Run these micro-batches on the weights now in the parameters file (written before every step). */
export interface WorkerStep {
  readonly type: 'step';
  readonly microBatches: SampleRef[][];
}

/** Add up floats [begin, end) of the gradient files (in the pool's folder), times `scale`, into the same range of `sumFile`. */
export interface WorkerReduce {
  readonly type: 'reduce';
  readonly files: readonly string[];
  readonly sumFile: string;
  readonly begin: number;
  readonly end: number;
  readonly scale: number;
}

export type WorkerMessage = WorkerInit | WorkerStep | WorkerReduce;

export type WorkerReply =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly loss: number; readonly tally: DecisionTally }
  | { readonly type: 'reduced' }
  | { readonly type: 'failed'; readonly message: string };

/** Float arrays laid one after another in a file from float `begin` on: read into them or written from them. */
function transferFloats(path: string, mode: 'r' | 'w' | 'r+', begin: number, arrays: readonly Float32Array[]): void {
  const fd = openSync(path, mode);
  try {
    let position = begin * 4;
    for (const a of arrays) {
      const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      for (let done = 0; done < bytes.length;) {
        const moved = mode === 'r' ? readSync(fd, bytes, done, bytes.length - done, position + done) : writeSync(fd, bytes, done, bytes.length - done, position + done);
        if (moved === 0) throw new Error(`${path}: ends before float ${(position + bytes.length) / 4}`);
        done += moved;
      }
      position += a.byteLength;
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes the arrays one after another into `path` (created or overwritten). */
export function writeFloatArrays(path: string, arrays: readonly Float32Array[]): void {
  transferFloats(path, 'w', 0, arrays);
}

/** Fills the arrays, one after another, from `path`. */
export function readFloatArrays(path: string, arrays: readonly Float32Array[]): void {
  transferFloats(path, 'r', 0, arrays);
}

/** Reads floats [begin, begin + into.length) of `path` into `into`. */
export function readFloatRange(path: string, begin: number, into: Float32Array): void {
  transferFloats(path, 'r', begin, [into]);
}

/** Writes `from` as floats [begin, begin + from.length) of `path` (which must exist). */
export function writeFloatRange(path: string, begin: number, from: Float32Array): void {
  transferFloats(path, 'r+', begin, [from]);
}

/** The worker's source through tsx, or its esbuild bundle beside this one's (bench/peer/README.md: the GPU machine has no tsx). */
function workerEntry(): { file: string; execArgv: string[] } {
  const bundled = fileURLToPath(new URL('./stage2Worker.mjs', import.meta.url));
  if (import.meta.url.endsWith('.mjs') && existsSync(bundled)) return { file: bundled, execArgv: [] };
  return { file: fileURLToPath(new URL('./stage2Worker.ts', import.meta.url)), execArgv: ['--import', import.meta.resolve('tsx')] };
}

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (error: Error) => void;
}

export interface WorkerPoolOptions extends WorkerSetup {
  readonly workers: number;
  readonly model: LlavaModel;
  /** The training process's parameters, in InstructMicroStep's order (the workers use the same). */
  readonly params: readonly Parameter[];
}

export class Stage2WorkerPool {
  private closed = false;
  private readonly pending = new Map<ChildProcess, Pending>();
  /** Floats in all parameters together (the length of every gradient file). */
  private readonly total: number;

  private constructor(
    private readonly dir: string,
    private readonly children: ChildProcess[],
    private readonly params: readonly Parameter[],
  ) {
    this.total = params.reduce((sum, p) => sum + p.value.length, 0);
  }

  get size(): number { return this.children.length; }

  static async start(options: WorkerPoolOptions): Promise<Stage2WorkerPool> {
    if (!Number.isInteger(options.workers) || options.workers < 2) throw new Error(`a worker pool needs at least 2 workers, got ${options.workers}`);
    const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    const dir = mkdtempSync(join(base, 'yollava-stage2-'));
    const modelDir = join(dir, 'model');
    try {
      // The workers load the tower (frozen) and the starting weights through the normal loader.
      mkdirSync(modelDir);
      saveLlava(options.model, modelDir);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    // One core per worker unless there are more cores than workers.
    const threads = Math.max(1, Math.floor(availableParallelism() / options.workers));
    const entry = workerEntry();
    const children: ChildProcess[] = [];
    for (let w = 0; w < options.workers; w++) {
      children.push(fork(entry.file, [], {
        execArgv: entry.execArgv,
        env: { ...process.env, YOLLAVA_THREADS: String(threads) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'json',
      }));
    }
    const pool = new Stage2WorkerPool(dir, children, options.params);
    writeFloatArrays(join(dir, 'sum.f32'), options.params.map((p) => new Float32Array(p.value.length)));
    children.forEach((child, w) => pool.watch(child, w));
    try {
      await Promise.all(children.map((child, w) => pool.request(child, {
        type: 'init', modelDir, tokenizerDir: options.tokenizerDir, paramsPath: join(dir, 'params.f32'), gradsPath: join(dir, `grads-${w}.f32`),
        corpora: options.corpora, promptLoss: options.promptLoss,
      } satisfies WorkerInit)));
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  private watch(child: ChildProcess, w: number): void {
    child.on('message', (reply: WorkerReply) => {
      const pending = this.pending.get(child);
      if (!pending) return;
      this.pending.delete(child);
      if (reply.type === 'failed') pending.reject(new Error(`stage 2 worker ${w}: ${reply.message}`));
      else pending.resolve(reply);
    });
    child.on('exit', (code, signal) => {
      const pending = this.pending.get(child);
      this.pending.delete(child);
      if (!this.closed) this.close();
      pending?.reject(new Error(`stage 2 worker ${w} stopped (${signal ?? `exit code ${code}`})`));
    });
  }

  private request(child: ChildProcess, message: WorkerMessage): Promise<WorkerReply> {
    if (this.closed) return Promise.reject(new Error('the stage 2 worker pool is closed'));
    return new Promise((resolve, reject) => {
      this.pending.set(child, { resolve, reject });
      child.send(message);
    });
  }

  /**
   * Runs the step's micro-batches on the workers (round robin), on the parameters' current
   * values, and leaves the mean of their gradients over the micro-batches in the parameters' grad
   * buffers (overwritten). Returns the sum of the micro-batch losses and the decision tally.
   */
  async step(microBatches: SampleRef[][]): Promise<{ loss: number; tally: DecisionTally }> {
    writeFloatArrays(join(this.dir, 'params.f32'), this.params.map((p) => p.value));
    const shares = this.children.map((): SampleRef[][] => []);
    microBatches.forEach((batch, i) => shares[i % shares.length].push(batch));
    const busy = this.children.map((child, w) => ({ child, w })).filter(({ w }) => shares[w].length > 0);
    const replies = await Promise.all(busy.map(({ child, w }) => this.request(child, { type: 'step', microBatches: shares[w] })));
    let loss = 0;
    const tally = emptyTally();
    busy.forEach(({ w }, i) => {
      const reply = replies[i];
      if (reply.type !== 'done') throw new Error(`stage 2 worker ${w}: unexpected reply ${reply.type}`);
      loss += reply.loss;
      addTally(tally, reply.tally);
    });
    // The busy workers' gradients added up and divided by the micro-batches, one slice per worker.
    const files = busy.map(({ w }) => `grads-${w}.f32`);
    const slice = Math.ceil(this.total / this.children.length);
    await Promise.all(this.children.map((child, w) => this.request(child, {
      type: 'reduce', files, sumFile: 'sum.f32', begin: Math.min(this.total, w * slice), end: Math.min(this.total, (w + 1) * slice),
      scale: 1 / microBatches.length,
    })));
    readFloatArrays(join(this.dir, 'sum.f32'), this.params.map((p) => p.grad));
    return { loss, tally };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill();
    for (const [, pending] of this.pending) pending.reject(new Error('the stage 2 worker pool was closed'));
    this.pending.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
