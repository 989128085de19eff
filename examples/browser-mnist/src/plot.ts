export const LOSS_COLOR = '#2563eb';
export const ACCURACY_COLOR = '#ea580c';

/** Training loss (left axis) and test accuracy (right axis, 0 to 1) against the step, on a canvas. */
export class Plot {
  private losses: [number, number][] = [];
  private accuracies: [number, number][] = [];
  private queued = false;
  constructor(private readonly canvas: HTMLCanvasElement) {
    this.draw();
  }

  reset(): void {
    this.losses = [];
    this.accuracies = [];
    this.redraw();
  }
  addLoss(step: number, loss: number): void {
    this.losses.push([step, loss]);
    this.redraw();
  }
  addAccuracy(step: number, accuracy: number): void {
    this.accuracies.push([step, accuracy]);
    this.redraw();
  }

  private redraw(): void {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.draw();
    });
  }

  private draw(): void {
    const c = this.canvas.getContext('2d')!;
    const { width: w, height: h } = this.canvas;
    const pad = { l: 44, r: 44, t: 12, b: 28 };
    c.fillStyle = '#fff';
    c.fillRect(0, 0, w, h);
    const steps = Math.max(10, ...this.losses.map(([s]) => s), ...this.accuracies.map(([s]) => s));
    const maxLoss = Math.max(0.5, ...this.losses.map(([, l]) => (Number.isFinite(l) ? l : 0)));
    const x = (s: number) => pad.l + (s / steps) * (w - pad.l - pad.r);
    const yLoss = (l: number) => h - pad.b - (Math.min(l, maxLoss) / maxLoss) * (h - pad.t - pad.b);
    const yAcc = (a: number) => h - pad.b - a * (h - pad.t - pad.b);
    // axes and labels
    c.strokeStyle = '#9ca3af';
    c.lineWidth = 1;
    c.strokeRect(pad.l, pad.t, w - pad.l - pad.r, h - pad.t - pad.b);
    c.font = '11px system-ui, sans-serif';
    c.fillStyle = LOSS_COLOR;
    c.textAlign = 'right';
    for (const f of [0, 0.5, 1]) c.fillText((f * maxLoss).toFixed(2), pad.l - 4, yLoss(f * maxLoss) + 4);
    c.fillStyle = ACCURACY_COLOR;
    c.textAlign = 'left';
    for (const f of [0, 0.5, 1]) c.fillText(`${f * 100}%`, w - pad.r + 4, yAcc(f) + 4);
    c.fillStyle = '#374151';
    c.textAlign = 'center';
    c.fillText(`step (of ${steps})`, w / 2, h - 8);
    // the two series
    const line = (pts: [number, number][], y: (v: number) => number, color: string, dots: boolean) => {
      c.strokeStyle = color;
      c.fillStyle = color;
      c.lineWidth = 2;
      c.beginPath();
      pts.forEach(([s, v], i) => (i ? c.lineTo(x(s), y(v)) : c.moveTo(x(s), y(v))));
      c.stroke();
      if (dots) for (const [s, v] of pts) c.fillRect(x(s) - 2.5, y(v) - 2.5, 5, 5);
    };
    line(this.losses, yLoss, LOSS_COLOR, false);
    line(this.accuracies, yAcc, ACCURACY_COLOR, true);
  }
}
