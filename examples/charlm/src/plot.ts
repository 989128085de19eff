import type { History } from './train.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** An SVG of the training and validation loss by step, with the unigram baseline as a dashed line. */
export function plotSvg(history: History, baseline: number, title: string): string {
  const W = 640, H = 360, M = { l: 56, r: 140, t: 36, b: 44 };
  const all = [...history.train, ...history.val];
  let [x1, x2] = [0, Math.max(1, ...all.map(([s]) => s))];
  const ys = [...all.map(([, l]) => l), baseline];
  let [y1, y2] = [Math.min(...ys), Math.max(...ys)];
  if (y1 === y2) [y1, y2] = [y1 - 0.1, y2 + 0.1];
  const pad = (y2 - y1) * 0.05;
  [y1, y2] = [y1 - pad, y2 + pad];
  if (x1 === x2) x2 = x1 + 1;
  const px = (x: number) => M.l + ((x - x1) / (x2 - x1)) * (W - M.l - M.r);
  const py = (y: number) => M.t + (1 - (y - y1) / (y2 - y1)) * (H - M.t - M.b);
  const line = (pts: [number, number][], color: string, extra = '') =>
    `<polyline fill="none" stroke="${color}" stroke-width="1.5"${extra} points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => y1 + f * (y2 - y1));
  const legend: [string, string, string][] = [['training loss', '#1f77b4', ''], ['validation loss', '#d62728', ''], ['unigram baseline', '#555', ' stroke-dasharray="5 4"']];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="${(W - M.r + M.l) / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(title)}</text>
<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#999"/>
${ticks.map((v) => `<text x="${M.l - 4}" y="${py(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`).join('\n')}
<text x="${M.l}" y="${H - M.b + 16}">${x1}</text><text x="${W - M.r}" y="${H - M.b + 16}" text-anchor="end">${x2}</text>
<text x="${(W + M.l - M.r) / 2}" y="${H - 10}" text-anchor="middle">step</text>
<text x="14" y="${(H - M.b + M.t) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(H - M.b + M.t) / 2})">nats per character</text>
${line([[x1, baseline], [x2, baseline]], '#555', ' stroke-dasharray="5 4"')}
${history.train.length ? line(history.train, '#1f77b4') : ''}
${history.val.length ? line(history.val, '#d62728') : ''}
${history.val.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="#d62728"/>`).join('\n')}
${legend.map(([name, color, dash], i) => `<line x1="${W - M.r + 12}" x2="${W - M.r + 36}" y1="${M.t + 10 + 18 * i}" y2="${M.t + 10 + 18 * i}" stroke="${color}" stroke-width="2"${dash}/><text x="${W - M.r + 42}" y="${M.t + 14 + 18 * i}">${name}</text>`).join('\n')}
</svg>
`;
}
