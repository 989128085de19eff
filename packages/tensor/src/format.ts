import { isFloating, type TypedArray } from './dtype.js';
import type { Tensor } from './tensor.js';

/**
 * Node's `util.inspect.custom`, which console.log and util.inspect call: a method under this key
 * decides what they print. Reached through Symbol.for, so browsers (which lack node:util) load
 * the package unchanged.
 */
export const inspectCustom: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never;

// torch's _tensor_str: integral floats print as `1.`, others with 4 decimals, scientific
// notation when the magnitudes span too much; long dims are summarised with `...`.
const EDGE = 3;
const THRESHOLD = 1000;

function formatter(values: number[], floating: boolean): (v: number) => string {
  if (!floating) return (v) => String(v);
  const finite = values.filter(Number.isFinite).map(Math.abs);
  const intMode = finite.every(Number.isInteger);
  const nz = finite.filter((v) => v !== 0);
  const maxA = nz.length ? Math.max(...nz) : 0;
  const minA = nz.length ? Math.min(...nz) : 0;
  const special = (v: number) => (Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf');
  if (intMode) {
    if (maxA > 1e8) return (v) => (Number.isFinite(v) ? v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2') : special(v));
    return (v) => (Number.isFinite(v) ? `${v.toFixed(0)}.` : special(v));
  }
  if (maxA / minA > 1000 || maxA > 1e8 || minA < 1e-4) {
    return (v) => (Number.isFinite(v) ? v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2') : special(v));
  }
  return (v) => (Number.isFinite(v) ? v.toFixed(4) : special(v));
}

export function formatTensor(t: Tensor, values: TypedArray | undefined): string {
  const extras: string[] = [];
  if (t.dtype !== 'float32') extras.push(`dtype=${t.dtype}`);
  if (t.device !== 'cpu') extras.push(`device='${t.device}'`);
  if (t.gradFn) extras.push(`gradFn=<${t.gradFn.op}>`);
  else if (t.requiresGrad) extras.push('requiresGrad=true');
  if (!values) return `tensor(<${t.shape.join('x') || 'scalar'} on ${t.device}: await data() to read>${extras.map((e) => ', ' + e).join('')})`;
  const summarize = t.size > THRESHOLD;
  const shown: number[] = [];
  const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const isBool = t.dtype === 'bool';
  const walk = (d: number, base: number, visit: (i: number) => void) => {
    if (d === t.ndim) return visit(base);
    const n = t.shape[d]!;
    for (let i = 0; i < n; i++) {
      if (summarize && n > 2 * EDGE && i === EDGE) i = n - EDGE;
      walk(d + 1, base + i * strides[d]!, visit);
    }
  };
  walk(0, 0, (i) => shown.push(values[i]!));
  const f = isBool ? (v: number) => (v ? 'True' : 'False') : formatter(shown, isFloating(t.dtype));
  const width = Math.max(0, ...shown.map((v) => f(v).length));
  const indent = 'tensor('.length;
  const render = (d: number, base: number): string => {
    if (d === t.ndim) return f(values[base]!).padStart(width);
    const n = t.shape[d]!;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      if (summarize && n > 2 * EDGE && i === EDGE) {
        parts.push(d === t.ndim - 1 ? ' ...' : '...'); // torch's spacing
        i = n - EDGE;
      }
      parts.push(render(d + 1, base + i * strides[d]!));
    }
    const sep = d === t.ndim - 1 ? ', ' : ',' + '\n'.repeat(t.ndim - d - 1) + ' '.repeat(indent + d + 1);
    return `[${parts.join(sep)}]`;
  };
  const body = t.size === 0 ? `[]` : render(0, 0);
  return `tensor(${body}${extras.map((e) => ', ' + e).join('')})`;
}
