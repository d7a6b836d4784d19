/**
 * A progress bar for the command line on stderr: redrawn in place on a terminal, a line every 10 % otherwise
 * (logs and pipes stay readable).
 */
export class ProgressBar {
  private lastDecile = -1;
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 30,
  ) {}

  update(done: number, label = ''): void {
    const frac = this.total === 0 ? 1 : Math.min(1, done / this.total);
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : 0;
    const filled = Math.round(frac * this.width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${done}/${this.total}`;
    const text = `${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${elapsed.toFixed(1)}s elapsed, ~${eta.toFixed(1)}s left${label ? ` ${label}` : ''}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${text}\x1b[K`);
      if (done >= this.total) this.stream.write('\n');
      return;
    }
    const decile = Math.floor(frac * 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      this.stream.write(`${text}\n`);
    }
  }

  /** Ends a bar that stopped early (error or cancel) so the next message starts on its own line. */
  abandon(): void {
    if (this.stream.isTTY && this.lastDecile !== 10) this.stream.write('\n');
  }
}
