/** Download progress for a terminal: one rewritten line on a TTY, a line per 10 % otherwise. */

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export class ProgressLine {
  private lastKey = '';
  private lastDecile = -1;
  private lastDraw = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(model: string, file: string, received: number, total: number): void {
    const key = `${model}/${file}`;
    if (key !== this.lastKey) {
      if (this.lastKey && this.out.isTTY) this.out.write('\n');
      this.lastKey = key;
      this.lastDecile = -1;
    }
    const pct = total > 0 ? Math.floor((received / total) * 100) : 100;
    const line = `${model}  ${file}  ${pct}%  ${mb(received)} / ${mb(total)}`;
    if (this.out.isTTY) {
      const now = Date.now();
      if (now - this.lastDraw < 100 && received !== total) return;
      this.lastDraw = now;
      this.out.write(`\r${line}\x1b[K`);
    } else if (Math.floor(pct / 10) !== this.lastDecile) {
      this.lastDecile = Math.floor(pct / 10);
      this.out.write(`${line}\n`);
    }
  }

  end(): void {
    if (this.lastKey && this.out.isTTY) this.out.write('\n');
    this.lastKey = '';
  }
}
