/**
 * Progress on stderr: one line rewritten in place on a terminal; otherwise a line at most
 * every few seconds (logs and CI stay readable).
 */
export class ProgressLine {
  private lastPrinted = 0;
  private active = false;

  constructor(private readonly intervalMs = process.stderr.isTTY ? 100 : 5000) {}

  update(text: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPrinted < this.intervalMs) return;
    this.lastPrinted = now;
    if (process.stderr.isTTY) {
      process.stderr.write(`\r\x1b[K${text}`);
      this.active = true;
    } else {
      process.stderr.write(text + '\n');
    }
  }

  /** Ends the in-place line and prints `text` on its own line. */
  done(text?: string): void {
    if (this.active) process.stderr.write('\r\x1b[K');
    this.active = false;
    if (text) process.stderr.write(text + '\n');
  }
}

export function formatSeconds(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const whole = Math.round(seconds); // rounded once, so that 59.6 s never reads "60 s"
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60);
  return minutes < 60 ? `${minutes} min ${whole % 60} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
