import { autocastActive, autocastOp } from '../autocast-region.js';
import { ShapeError, ValueError } from '../errors.js';
import { fmt, numel } from '../shape.js';
import { tidy } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { matmul } from './matmul.js';
import { sum } from './reduce.js';
import { diagonal, permute, reshape, squeeze } from './view.js';

// einsum as a composite, as torch computes it: repeated labels in one operand take diagonals,
// labels nothing else needs are summed out as early as possible, and the operands are contracted
// left to right, each pair as one batched matmul ([batch, kept by the left, contracted] times
// [batch, contracted, kept by the right]). Its gradient is that of the ops it runs.

/** One operand as einsum sees it: the tensor and a label per dim ('a'..'Z', or '.k' for the k-th ellipsis dim). */
interface Term {
  t: Tensor;
  labels: string[];
}

/** A malformed equation is a ValueError; operands that do not fit it, a ShapeError. */
function fail(equation: string, why: string, type: typeof ValueError | typeof ShapeError = ValueError): never {
  throw new type(`einsum: ${why} (equation '${equation}')`);
}

/** The letters and ellipsis of one term, as labels; the ellipsis as the single token '...'. */
function tokens(equation: string, term: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < term.length; i++) {
    const c = term[i]!;
    if (/[a-zA-Z]/.test(c)) out.push(c);
    else if (term.startsWith('...', i)) {
      if (out.includes('...')) fail(equation, `'${term}' has more than one ellipsis`);
      out.push('...');
      i += 2;
    } else fail(equation, `invalid character '${c}' in '${term}'; subscripts are letters a-z, A-Z and '...'`);
  }
  return out;
}

/**
 * Einstein summation, torch.einsum: `einsum('ij,jk->ik', a, b)` is a matrix product. Each operand
 * gets a term of letters, one per dim; '...' stands for any number of dims (broadcast between
 * operands, right-aligned). Labels missing from the output (after '->') are summed over; without
 * '->' the output is the ellipsis dims, then the labels used exactly once, in alphabetical order
 * (uppercase first). A label repeated within an operand takes its diagonal ('ii->i', 'ii' for the
 * trace). Dims with one label must have one size, or size 1 (broadcast). Contracts the operands
 * left to right, a batched matmul per pair.
 */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  if (autocastActive()) return autocastOp('einsum', operands, (ops) => einsum(equation, ...ops));
  if (typeof equation !== 'string') throw new ValueError(`einsum: the first argument must be the equation string; got ${typeof equation}`);
  const spec = equation.replace(/\s+/g, '');
  const arrow = spec.split('->');
  if (arrow.length > 2) fail(equation, "'->' appears more than once");
  const terms = arrow[0]!.split(',');
  if (terms.length !== operands.length) {
    fail(equation, `${terms.length} operand term${terms.length === 1 ? '' : 's'} but ${operands.length} tensor${operands.length === 1 ? '' : 's'} given`);
  }

  // labels per operand, the ellipsis expanded into right-aligned '.k' labels
  const parsed = terms.map((term) => tokens(equation, term));
  const ellipsisDims = parsed.map((tok, i) => {
    const named = tok.filter((l) => l !== '...').length;
    const rank = operands[i]!.ndim;
    if (tok.includes('...') ? rank < named : rank !== named) {
      fail(equation, `operand ${i} has ${rank} dims (shape ${fmt(operands[i]!.shape)}) but its term '${terms[i]}' names ${named}${tok.includes('...') ? ' or more' : ''}`, ShapeError);
    }
    return rank - named;
  });
  const E = Math.max(0, ...ellipsisDims);
  const ellipsis = (e: number) => Array.from({ length: e }, (_, k) => `.${E - e + k}`);
  const inputs: Term[] = parsed.map((tok, i) => ({ t: operands[i]!, labels: tok.flatMap((l) => (l === '...' ? ellipsis(ellipsisDims[i]!) : [l])) }));

  let output: string[];
  if (arrow.length === 2) {
    const out = tokens(equation, arrow[1]!);
    out.forEach((l, i) => {
      if (l !== '...' && out.indexOf(l) !== i) fail(equation, `output label '${l}' appears more than once`);
      if (l !== '...' && !inputs.some((x) => x.labels.includes(l))) fail(equation, `output label '${l}' does not appear in any operand`);
    });
    output = out.flatMap((l) => (l === '...' ? ellipsis(E) : [l]));
  } else {
    const count = new Map<string, number>();
    for (const x of inputs) for (const l of x.labels) if (!l.startsWith('.')) count.set(l, (count.get(l) ?? 0) + 1);
    const once = [...count].filter(([, n]) => n === 1).map(([l]) => l).sort();
    output = [...ellipsis(E), ...once];
  }

  // one size per label: equal wherever it appears, or 1 (broadcast) between operands
  const sizes = new Map<string, [size: number, operand: number]>();
  inputs.forEach((x, i) => {
    x.labels.forEach((l, d) => {
      const n = x.t.shape[d]!;
      const what = l.startsWith('.') ? `ellipsis dim ${l.slice(1)}` : `label '${l}'`;
      const first = x.labels.indexOf(l);
      if (first !== d && x.t.shape[first] !== n) {
        fail(equation, `${what} is repeated in operand ${i} (shape ${fmt(x.t.shape)}) over dims of sizes ${x.t.shape[first]} and ${n}; they must be equal`, ShapeError);
      }
      const seen = sizes.get(l);
      if (n === 1 || seen?.[1] === i) return;
      if (!seen) sizes.set(l, [n, i]);
      else if (seen[0] !== n) fail(equation, `${what} has size ${seen[0]} in operand ${seen[1]} but ${n} in operand ${i} (shape ${fmt(x.t.shape)}); they must match or be 1`, ShapeError);
    });
  });

  return tidy(() => {
    const ops = inputs.map(diagonals);
    const needed = (from: number) => new Set([...output, ...ops.slice(from).flatMap((x) => x.labels)]);
    let cur = sumOut(ops[0]!, needed(1));
    for (let i = 1; i < ops.length; i++) {
      let next = ops[i]!;
      [cur, next] = broadcast(cur, next);
      const later = needed(i + 1);
      cur = sumOut(cur, new Set([...later, ...next.labels]));
      next = sumOut(next, new Set([...later, ...cur.labels]));
      cur = contract(cur, next, later);
    }
    cur = sumOut(cur, new Set(output));
    return permute(cur.t, output.map((l) => cur.labels.indexOf(l)));
  });
}

/** Take the diagonal for each label repeated within one operand (their sizes were checked). */
function diagonals(x: Term): Term {
  let { t, labels } = x;
  for (let d2 = labels.length - 1; d2 > 0; d2--) {
    const d1 = labels.indexOf(labels[d2]!);
    if (d1 === d2) continue;
    t = diagonal(t, 0, d1, d2);
    labels = [...labels.filter((_, d) => d !== d1 && d !== d2), labels[d1]!];
    d2 = labels.length; // start over: the order changed
  }
  return { t, labels };
}

/** Sum out the dims whose labels are not in `keep`. */
function sumOut(x: Term, keep: Set<string>): Term {
  const dims = x.labels.flatMap((l, d) => (keep.has(l) ? [] : [d]));
  if (dims.length === 0) return x;
  return { t: sum(x.t, dims), labels: x.labels.filter((l) => keep.has(l)) };
}

/** A label of size 1 on one side and n on the other broadcasts: drop it from the size-1 side. */
function broadcast(a: Term, b: Term): [Term, Term] {
  const drop = (x: Term, l: string): Term => {
    const d = x.labels.indexOf(l);
    return { t: squeeze(x.t, d), labels: x.labels.filter((_, k) => k !== d) };
  };
  for (const l of a.labels.filter((l) => b.labels.includes(l))) {
    const na = a.t.shape[a.labels.indexOf(l)]!, nb = b.t.shape[b.labels.indexOf(l)]!;
    if (na === 1 && nb !== 1) a = drop(a, l);
    else if (nb === 1 && na !== 1) b = drop(b, l);
  }
  return [a, b];
}
/** Contract two operands in one batched matmul: shared labels still needed are batch dims, the others are summed. */
function contract(a: Term, b: Term, later: Set<string>): Term {
  const shared = a.labels.filter((l) => b.labels.includes(l));
  const batch = shared.filter((l) => later.has(l));
  const summed = shared.filter((l) => !later.has(l));
  const left = a.labels.filter((l) => !shared.includes(l));
  const right = b.labels.filter((l) => !shared.includes(l));
  const size = (x: Term, ls: string[]) => ls.map((l) => x.t.shape[x.labels.indexOf(l)]!);
  const arrange = (x: Term, ls: string[], rows: string[], cols: string[]) =>
    reshape(permute(x.t, ls.map((l) => x.labels.indexOf(l))), [numel(size(x, batch)), numel(size(x, rows)), numel(size(x, cols))]);
  const product = matmul(arrange(a, [...batch, ...left, ...summed], left, summed), arrange(b, [...batch, ...summed, ...right], summed, right));
  return { t: reshape(product, [...size(a, batch), ...size(a, left), ...size(b, right)]), labels: [...batch, ...left, ...right] };
}
