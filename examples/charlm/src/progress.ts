/** Progress of training: a redrawn bar on a terminal, plain lines (every ~10%) otherwise. */
export class Progress {
  private lastTenth = -1;
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tty = out.isTTY === true,
  ) {}

  update(step: number, steps: number, loss: number, tokensPerSecond: number, etaSeconds: number): void {
    const pct = steps ? step / steps : 1;
    const stats = `loss ${loss.toFixed(3)}  ${Math.round(tokensPerSecond).toLocaleString('en-US')} tokens/s  ETA ${formatSeconds(etaSeconds)}`;
    if (this.tty) {
      const width = 30;
      const filled = Math.round(pct * width);
      this.out.write(`\rstep ${String(step).padStart(String(steps).length)}/${steps} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(pct * 100)).padStart(3)}%  ${stats}\x1b[K`);
      return;
    }
    const tenth = Math.floor(pct * 10);
    if (tenth > this.lastTenth) {
      this.lastTenth = tenth;
      this.out.write(`step ${step}/${steps} (${Math.round(pct * 100)}%)  ${stats}\n`);
    }
  }
  /** A line of its own under the bar (a validation result), then the bar goes on below it. */
  log(line: string): void {
    this.out.write(this.tty ? `\r${line}\x1b[K\n` : `${line}\n`);
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
