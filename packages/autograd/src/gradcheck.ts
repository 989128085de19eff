import { fmt, scope, TapegradError, tensor, tidy, unravelIndex as unravel, zeros, type Tensor } from '@tapegrad/tensor';
import { noGrad, releaseGraph } from './tape.js';

/** Options of gradcheck. */
export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3). */
  rtol?: number;
}
export class GradcheckError extends TapegradError {
  override name = 'GradcheckError';
}

/**
 * Compare the gradients backward() computes for fn with central finite differences, for every
 * element of every input that requires grad and every element of every output. Inputs must
 * be float64 CPU tensors (float32 differences are too coarse). Returns true, or throws a
 * GradcheckError naming the worst element.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor | Tensor[], inputs: Tensor[], options: GradcheckOptions = {}): true {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3 } = options;
  const wrt = inputs.filter((t) => t.requiresGrad);
  if (wrt.length === 0) throw new GradcheckError('gradcheck: no input requires grad');
  for (const t of wrt) {
    if (t.dtype !== 'float64' || t.device !== 'cpu') {
      throw new GradcheckError(`gradcheck: inputs that require grad must be float64 CPU tensors; got ${t.dtype} on '${t.device}' (shape ${fmt(t.shape)})`);
    }
    if (!t.isLeaf) throw new GradcheckError('gradcheck: inputs must be leaf tensors');
  }
  const asList = (r: Tensor | Tensor[]) => (Array.isArray(r) ? r : [r]);
  const evaluate = (): Float64Array[] => noGrad(() => tidy(() => asList(fn(...inputs)).map((o) => Float64Array.from(o.dataSync()))));
  const base = evaluate();
  const savedGrads = wrt.map((t) => t.grad);
  for (const t of wrt) t.grad = null;

  // numerical[k][o][i][j] = d out_o[j] / d input_k[i]
  const numerical = wrt.map((t) => {
    const data = t.kernelView().handle as Float64Array;
    const perInput: Float64Array[][] = base.map((b) => Array.from({ length: t.size }, () => new Float64Array(b.length)));
    for (let i = 0; i < t.size; i++) {
      const pos = t.offset + unravel(i, t.shape).reduce((acc, idx, d) => acc + idx * t.strides[d]!, 0);
      const orig = data[pos]!;
      data[pos] = orig + eps;
      const plus = evaluate();
      data[pos] = orig - eps;
      const minus = evaluate();
      data[pos] = orig;
      base.forEach((_, o) => {
        for (let j = 0; j < base[o]!.length; j++) perInput[o]![i]![j] = (plus[o]![j]! - minus[o]![j]!) / (2 * eps);
      });
    }
    return perInput;
  });

  let worst: { excess: number; message: string } | undefined;
  const intermediates = scope();
  const outputs = asList(fn(...inputs));
  try {
    outputs.forEach((out, o) => {
      if (!out.requiresGrad) return;
      for (let j = 0; j < out.size; j++) {
        tidy(() => {
          const seed = new Float64Array(out.size);
          seed[j] = 1;
          for (const t of wrt) {
            t.grad?.dispose();
            t.grad = null;
          }
          out.backward(tensor(seed, { dtype: out.dtype, shape: out.shape }), { retainGraph: true });
          wrt.forEach((t, k) => {
            const analytic = t.grad ? t.grad.dataSync() : zeros(t.shape, { dtype: 'float64' }).dataSync();
            for (let i = 0; i < t.size; i++) {
              const n = numerical[k]![o]![i]![j]!;
              const a = analytic[i]!;
              const excess = Math.abs(a - n) - (atol + rtol * Math.abs(n));
              if ((excess > 0 || Number.isNaN(a) !== Number.isNaN(n)) && (!worst || excess > worst.excess || Number.isNaN(excess))) {
                worst = {
                  excess: Number.isNaN(excess) ? Infinity : excess,
                  message:
                    `gradcheck: gradient of output ${o} at [${unravel(j, out.shape).join(', ')}] with respect to input ${inputs.indexOf(t)} ` +
                    `at [${unravel(i, t.shape).join(', ')}]: analytical ${a} vs numerical ${n} (|diff| ${Math.abs(a - n).toExponential(3)} > atol ${atol} + rtol ${rtol} * |numerical|)`,
                };
              }
            }
          });
        });
      }
    });
  } finally {
    for (const o of outputs) releaseGraph(o);
    intermediates[Symbol.dispose]();
    wrt.forEach((t, k) => {
      t.grad?.dispose();
      t.grad = savedGrads[k]!;
    });
  }
  if (worst) throw new GradcheckError(worst.message);
  return true;
}
