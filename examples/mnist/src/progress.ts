/** Progress of one epoch: a redrawn bar on a terminal, plain lines (every ~10%) otherwise. */
export class Progress {
  private lastTenth = -1;
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly label: string,
    private readonly tty = out.isTTY === true,
  ) {}

  update(done: number, total: number, loss: number, samplesPerSecond: number, etaSeconds: number): void {
    const pct = total ? done / total : 1;
    const stats = `loss ${loss.toFixed(4)}  ${Math.round(samplesPerSecond).toLocaleString('en-US')} samples/s  ETA ${formatSeconds(etaSeconds)}`;
    if (this.tty) {
      const width = 30;
      const filled = Math.round(pct * width);
      this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(pct * 100)).padStart(3)}%  ${stats}\x1b[K`);
      return;
    }
    const tenth = Math.floor(pct * 10);
    if (tenth > this.lastTenth) {
      this.lastTenth = tenth;
      this.out.write(`${this.label} ${done}/${total} steps (${Math.round(pct * 100)}%)  ${stats}\n`);
    }
  }
  /** End the bar's line (terminal only). */
  finish(): void {
    if (this.tty) this.out.write('\n');
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.max(0, Math.round(s));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
