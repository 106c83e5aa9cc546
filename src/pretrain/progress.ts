/** Progress lines on stderr and the JSONL training log. */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export class TrainingLog {
  constructor(readonly file: string | null) {
    if (file) mkdirSync(dirname(file), { recursive: true });
  }

  /** One JSON line with a timestamp. */
  record(entry: Record<string, unknown>): void {
    if (this.file) appendFileSync(this.file, JSON.stringify({ time: new Date().toISOString(), ...entry }) + '\n');
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Seconds until a stage ends: the rest of its schedule at the rate so far, or the sitting's deadline if sooner. */
export function secondsLeft(stepsLeft: number, stepsPerSecond: number, deadlineMs: number): number {
  return Math.min(stepsLeft / stepsPerSecond, (deadlineMs - Date.now()) / 1000);
}

/** "[stage 1] step 120/2000  loss 1.234  95.1 img/s  left 12m03s" on stderr (quiet: nothing). */
export function progressLine(quiet: boolean, text: string): void {
  if (!quiet) process.stderr.write(`${text}\n`);
}

/** Exponential moving average, for a readable loss. */
export class Smoothed {
  private value: number | null = null;
  constructor(private readonly keep = 0.9) {}
  add(x: number): number {
    this.value = this.value === null ? x : this.keep * this.value + (1 - this.keep) * x;
    return this.value;
  }
  get current(): number { return this.value ?? NaN; }
}
