import type { History } from './train.js';

/** An SVG with the training loss by step (left) and the test accuracy by epoch (right). */
export function plotSvg(history: History, title: string): string {
  const W = 360, H = 240, M = { l: 52, r: 16, t: 34, b: 40 };
  const panel = (x0: number, name: string, pts: [number, number][], xLabel: string, yFmt: (v: number) => string, color: string) => {
    if (!pts.length) return '';
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    let [x1, x2] = [Math.min(...xs), Math.max(...xs)];
    let [y1, y2] = [Math.min(...ys), Math.max(...ys)];
    if (x1 === x2) [x1, x2] = [x1 - 1, x2 + 1];
    if (y1 === y2) [y1, y2] = [y1 - 0.01, y2 + 0.01];
    const pad = (y2 - y1) * 0.05;
    [y1, y2] = [y1 - pad, y2 + pad];
    const px = (x: number) => x0 + M.l + ((x - x1) / (x2 - x1)) * (W - M.l - M.r);
    const py = (y: number) => M.t + (1 - (y - y1) / (y2 - y1)) * (H - M.t - M.b);
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => y1 + f * (y2 - y1));
    return [
      `<text x="${x0 + W / 2}" y="20" text-anchor="middle" font-weight="bold">${name}</text>`,
      `<rect x="${x0 + M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#999"/>`,
      ...ticks.map((v) => `<text x="${x0 + M.l - 4}" y="${py(v) + 4}" text-anchor="end">${yFmt(v)}</text>`),
      `<text x="${x0 + M.l}" y="${H - M.b + 16}">${x1}</text><text x="${x0 + W - M.r}" y="${H - M.b + 16}" text-anchor="end">${x2}</text>`,
      `<text x="${x0 + (W + M.l - M.r) / 2}" y="${H - 8}" text-anchor="middle">${xLabel}</text>`,
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
      ...(pts.length <= 50 ? pts.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`) : []),
    ].join('\n');
  };
  const body = [
    panel(0, 'training loss', history.losses, 'step', (v) => v.toFixed(2), '#1f77b4'),
    panel(W, 'test accuracy', history.epochs.map((e) => [e.epoch, e.testAccuracy * 100]), 'epoch', (v) => `${v.toFixed(1)}%`, '#d62728'),
  ].join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 20}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${body}
<text x="${W}" y="${H + 14}" text-anchor="middle" fill="#555">${title.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>
</svg>
`;
}
