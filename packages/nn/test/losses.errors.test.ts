import '@tapegrad/backend-cpu';
import { DTypeError, IndexError, ShapeError, ValueError, randn, setWarningHandler, tensor, zeros, type Tensor } from '@tapegrad/tensor';
import { describe, expect, it } from 'vitest';
import { functional as F, BCELoss, CrossEntropyLoss, NLLLoss } from '../src/index.js';

// Every bad input the losses reject, with a message naming the op, the argument, the value
// and where it was found.

const ints = (data: number[] | number, shape?: number[]) => tensor(Array.isArray(data) ? data : [data], { dtype: 'int32', shape: shape ?? (Array.isArray(data) ? [data.length] : []) });
const logits = (...shape: number[]) => randn(shape);
const classLosses = [
  ['crossEntropy', (x: Tensor, t: Tensor, o = {}) => F.crossEntropy(x, t, o)],
  ['nllLoss', (x: Tensor, t: Tensor, o = {}) => F.nllLoss(x, t, o)],
] as const;

describe('nllLoss and crossEntropy errors', () => {
  for (const [op, loss] of classLosses) {
    describe(op, () => {
      it('target out of [0, C) that is not ignoreIndex: names the value, the class count and where', () => {
        for (const reduction of ['none', 'mean', 'sum'] as const) {
          expect(() => loss(logits(3, 5), ints([0, 7, 1]), { reduction })).toThrow(IndexError);
          expect(() => loss(logits(3, 5), ints([0, 7, 1]), { reduction })).toThrow(
            `${op}: target 7 is out of range for 5 classes (at target index [1]); expected a class in [0, 5) or ignoreIndex (-100)`,
          );
        }
        expect(() => loss(logits(3, 5), ints([0, -1, 1]))).toThrow(/target -1 is out of range for 5 classes \(at target index \[1\]\)/);
        expect(() => loss(logits(2, 5, 2, 2), ints([0, 0, 0, 0, 0, 0, 0, 5], [2, 2, 2]))).toThrow(/target 5 .* \(at target index \[1, 1, 1\]\)/);
        expect(() => loss(logits(5), ints(5))).toThrow(/target 5 is out of range for 5 classes \(at target index \[\]\)/);
        // ignoreIndex is never range-checked, and may lie inside or outside [0, C)
        expect(() => loss(logits(3, 5), ints([0, 7, 1]), { ignoreIndex: 7 })).not.toThrow();
      });
      it('input/target shape mismatch', () => {
        expect(() => loss(logits(3, 5), ints([0, 1, 2, 3]))).toThrow(ShapeError);
        expect(() => loss(logits(3, 5), ints([0, 1, 2, 3]))).toThrow(
          `${op}: target batch size 4 does not match input batch size 3 (input [3, 5], target [4])`,
        );
        expect(() => loss(logits(2, 5, 3), ints([0, 1, 2, 3], [2, 2]))).toThrow(
          `${op}: target shape [2, 2] does not fit input [2, 5, 3]; expected [2, 3] (the input's shape without the class dim 1)`,
        );
        expect(() => loss(logits(5), ints([1]))).toThrow(`${op}: target must be 0-d for a 1-d input of shape [5]; got target shape [1]`);
        expect(() => loss(logits(3, 5), ints([0, 1, 2, 0, 1, 2], [3, 2]))).toThrow(/expected \[3\]/);
      });
      it('weight not of size C', () => {
        expect(() => loss(logits(3, 5), ints([0, 1, 2]), { weight: zeros([4]) })).toThrow(ShapeError);
        expect(() => loss(logits(3, 5), ints([0, 1, 2]), { weight: zeros([4]) })).toThrow(
          `${op}: weight must have shape [5] (one weight per class of input [3, 5]); got [4]`,
        );
        expect(() => loss(logits(3, 5), ints([0, 1, 2]), { weight: zeros([1, 5]) })).toThrow(/weight must have shape \[5\].*got \[1, 5\]/);
        expect(() => loss(logits(3, 5), ints([0, 1, 2]), { weight: zeros([5], { dtype: 'float64' }) })).toThrow(DTypeError);
      });
      it('a 0-d or integer input', () => {
        expect(() => loss(zeros([]), ints(0))).toThrow(`${op}: input must have 1 or more dims: (C), (N, C) or (N, C, d1, ..., dK); got a 0-d input (shape [])`);
        expect(() => loss(zeros([3, 5], { dtype: 'int32' }), ints([0, 1, 2]))).toThrow(`${op}: input must be floating point; got int32 input of shape [3, 5]`);
      });
      it('an empty batch where PyTorch errors: zero classes with a target', () => {
        expect(() => loss(zeros([0]), ints(0))).toThrow(`${op}: target 0 is out of range for 0 classes (at target index []); expected a class in [0, 0) or ignoreIndex (-100)`);
        expect(() => loss(zeros([3, 0]), ints([0, 0, 0]))).toThrow(/target 0 is out of range for 0 classes \(at target index \[0\]\)/);
      });
      it("an empty batch where PyTorch does not: 'mean' is NaN, 'sum' 0, 'none' empty", () => {
        const x = zeros([0, 5]);
        const t = ints([]);
        expect(loss(x, t).itemSync()).toBeNaN();
        expect(loss(x, t, { reduction: 'sum' }).itemSync()).toBe(0);
        expect(loss(x, t, { reduction: 'none' }).shape).toEqual([0]);
        expect(loss(zeros([0, 0]), t).itemSync()).toBeNaN();
      });
      it('bad reduction or ignoreIndex', () => {
        expect(() => loss(logits(3, 5), ints([0, 1, 2]), { reduction: 'avg' as never })).toThrow(ValueError);
        expect(() => loss(logits(3, 5), ints([0, 1, 2]), { reduction: 'avg' as never })).toThrow(`${op}: reduction must be 'none', 'mean', 'sum'; got "avg"`);
        expect(() => loss(logits(3, 5), ints([0, 1, 2]), { ignoreIndex: 1.5 })).toThrow(`${op}: ignoreIndex must be an integer; got 1.5`);
      });
    });
  }

  it('float targets to nllLoss', () => {
    expect(() => F.nllLoss(logits(3, 5), zeros([3]))).toThrow(DTypeError);
    expect(() => F.nllLoss(logits(3, 5), zeros([3]))).toThrow(
      'nllLoss: target must be int32 class indices; got a float32 target of shape [3] (nllLoss takes class indices only; for class probabilities use crossEntropy)',
    );
    expect(() => F.nllLoss(logits(3, 5), zeros([3, 5]))).toThrow(DTypeError);
    expect(() => F.nllLoss(logits(3, 5), zeros([3], { dtype: 'bool' }))).toThrow(/target must be int32 class indices; got a bool target/);
  });
  it('probability targets of the wrong shape or dtype', () => {
    expect(() => F.crossEntropy(logits(3, 5), zeros([3, 4]))).toThrow(ShapeError);
    expect(() => F.crossEntropy(logits(3, 5), zeros([3, 4]))).toThrow(
      "crossEntropy: class-probability target must have the input's shape [3, 5]; got [3, 4] (class-index targets must be int32)",
    );
    expect(() => F.crossEntropy(logits(3, 5), zeros([3]))).toThrow(/class-probability target must have the input's shape \[3, 5\]; got \[3\]/);
    expect(() => F.crossEntropy(logits(3, 5), zeros([3, 5], { dtype: 'int32' }))).toThrow(
      "crossEntropy: a target of the input's shape [3, 5] holds class probabilities and must be floating point; got int32",
    );
    expect(() => F.crossEntropy(logits(3, 5), zeros([3, 5]), { ignoreIndex: 0 })).toThrow(
      'crossEntropy: ignoreIndex 0 is not supported with class-probability targets (it must stay negative, e.g. the default -100)',
    );
  });
  it('int64 (BigInt) targets are converted to int32 with a range check', () => {
    const x = logits(3, 5);
    const t = tensor(BigInt64Array.from([0n, 4n, 2n]));
    expect(t.dtype).toBe('int32');
    expect(F.crossEntropy(x, t).itemSync()).toBeCloseTo(F.crossEntropy(x, ints([0, 4, 2])).itemSync(), 6);
    expect(() => tensor(BigInt64Array.from([0n, 2n ** 40n]))).toThrow(ValueError);
  });
  it('labelSmoothing outside [0, 1]', () => {
    for (const eps of [-0.1, 1.5, Number.NaN]) {
      for (const target of [ints([0, 1, 2]), zeros([3, 5])]) {
        expect(() => F.crossEntropy(logits(3, 5), target, { labelSmoothing: eps })).toThrow(ValueError);
        expect(() => F.crossEntropy(logits(3, 5), target, { labelSmoothing: eps })).toThrow(`crossEntropy: labelSmoothing must be a number in [0, 1]; got ${eps}`);
      }
    }
    expect(() => F.crossEntropy(logits(3, 5), ints([0, 1, 2]), { labelSmoothing: 1 })).not.toThrow();
  });
  it('weight that requires grad: not differentiable, as in PyTorch', () => {
    const w = zeros([5]).requiresGrad_();
    const x = logits(3, 5).requiresGrad_();
    expect(() => F.crossEntropy(x, ints([0, 1, 2]), { weight: w }).backward()).toThrow('crossEntropy: gradients with respect to weight are not supported');
    expect(() => F.nllLoss(x, ints([0, 1, 2]), { weight: w }).backward()).toThrow('nllLoss: gradients with respect to weight are not supported');
  });
  it('the module forms check the same way', () => {
    expect(() => new CrossEntropyLoss().forward(logits(3, 5), ints([0, 9, 1]))).toThrow(/crossEntropy: target 9/);
    expect(() => new NLLLoss({ weight: zeros([2]) }).forward(logits(3, 5), ints([0, 1, 1]))).toThrow(/nllLoss: weight must have shape \[5\]/);
  });
});

describe('errors of the other losses', () => {
  it('bad reduction names the op', () => {
    expect(() => F.mseLoss(zeros([3]), zeros([3]), { reduction: 'batchmean' as never })).toThrow(`mseLoss: reduction must be 'none', 'mean', 'sum'; got "batchmean"`);
    expect(() => F.klDiv(zeros([3]), zeros([3]), { reduction: 'avg' as never })).toThrow(`klDiv: reduction must be 'none', 'mean', 'sum', 'batchmean'; got "avg"`);
  });
  it('beta and delta', () => {
    expect(() => F.smoothL1Loss(zeros([3]), zeros([3]), { beta: -1 })).toThrow('smoothL1Loss: beta must be a non-negative number; got -1');
    expect(() => F.huberLoss(zeros([3]), zeros([3]), { delta: 0 })).toThrow('huberLoss: delta must be a positive number; got 0');
  });
  it('binary cross-entropies need the target shape to equal the input shape', () => {
    expect(() => F.binaryCrossEntropy(zeros([3, 4]), zeros([4]))).toThrow('binaryCrossEntropy: target shape [4] must equal input shape [3, 4]');
    expect(() => F.binaryCrossEntropyWithLogits(zeros([3, 4]), zeros([3]))).toThrow(ShapeError);
  });
  it('binaryCrossEntropy: input outside [0, 1] (NaN too, as PyTorch) names the value and where', () => {
    const probs = (data: number[], shape: number[]) => tensor(data, { shape });
    for (const reduction of ['none', 'mean', 'sum'] as const) {
      expect(() => F.binaryCrossEntropy(probs([0.5, 1.5, 0.2], [3]), zeros([3]), { reduction })).toThrow(ValueError);
      expect(() => F.binaryCrossEntropy(probs([0.5, 1.5, 0.2], [3]), zeros([3]), { reduction })).toThrow(
        'binaryCrossEntropy: all elements of input should be between 0 and 1; got 1.5 at index [1]',
      );
    }
    expect(() => F.binaryCrossEntropy(probs([0, 1, 0.5, -0.25, 2, 0.5], [2, 3]), zeros([2, 3]))).toThrow(/got -0.25 at index \[1, 0\]$/);
    expect(() => F.binaryCrossEntropy(probs([0.5, NaN], [2]), zeros([2]))).toThrow(/got NaN at index \[1\]$/);
    expect(() => F.binaryCrossEntropy(probs([Infinity], [1]), zeros([1]))).toThrow(/got Infinity at index \[0\]$/);
    expect(() => F.binaryCrossEntropy(probs([7], []), zeros([]))).toThrow(/got 7 at index \[\]$/);
    // a strided view: the index is the view's, not the storage's
    const t = probs([0.1, 0.2, 0.3, 1.01, 0.5, 0.6], [2, 3]).transpose(0, 1);
    expect(() => F.binaryCrossEntropy(t, zeros([3, 2]))).toThrow(/got 1.01 at index \[0, 1\]$/);
    // the ends of [0, 1] are fine: each log is clamped at -100
    expect(F.binaryCrossEntropy(probs([0, 1], [2]), tensor([1, 0])).itemSync()).toBe(100);
    expect(() => new BCELoss().forward(probs([0.5, -1], [2]), zeros([2]))).toThrow(/binaryCrossEntropy: all elements of input should be between 0 and 1; got -1/);
  });
  it('integer inputs', () => {
    const i = zeros([3], { dtype: 'int32' });
    expect(() => F.mseLoss(i, zeros([3]))).toThrow('mseLoss: input must be floating point; got int32');
    expect(() => F.l1Loss(zeros([3]), i)).toThrow('l1Loss: target must be floating point; got int32');
    expect(() => F.binaryCrossEntropyWithLogits(zeros([3]), zeros([3]), { posWeight: i })).toThrow('binaryCrossEntropyWithLogits: posWeight must be floating point; got int32');
    expect(() => F.klDiv(i, zeros([3]))).toThrow('klDiv: input must be floating point; got int32');
  });
});

// Pointwise losses broadcast input against target as PyTorch does, and warn as it does when
// their shapes differ: a [N, 1] prediction against an [N] target is an [N, N] loss, silently.
describe('losses whose target broadcasts against the input', () => {
  const captured = (fn: () => unknown): string[] => {
    const messages: string[] = [];
    const previous = setWarningHandler((m) => messages.push(m));
    try {
      fn();
    } finally {
      setWarningHandler(previous);
    }
    return messages;
  };
  const pointwise = [
    ['mseLoss', F.mseLoss], ['l1Loss', F.l1Loss], ['smoothL1Loss', F.smoothL1Loss], ['huberLoss', F.huberLoss], ['klDiv', F.klDiv],
  ] as const;
  it('warn once per shapes with PyTorch\'s message ("Using a target size ... different to the input size"), and compute its result', () => {
    pointwise.forEach(([op, loss], k) => {
      // shapes no other test uses, so no earlier call has spent the warning
      const input = tensor([[0.5], [1.5], [-1], [2]]).expand(4, 1).add(k), target = tensor([0.25, 1, 0, 3]);
      expect(captured(() => loss(input, target))).toEqual([
        `${op}: using a target size [4] that is different to the input size [4, 1]; this will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.`,
      ]);
      expect(captured(() => loss(input, target))).toEqual([]);
      expect(loss(input, target, { reduction: 'none' }).shape).toEqual([4, 4]);
    });
    // torch: F.mse_loss(torch.tensor([[0.5], [1.5], [-1], [2]]), torch.tensor([0.25, 1, 0, 3])) is 2.796875
    expect(F.mseLoss(tensor([[0.5], [1.5], [-1], [2]]), tensor([0.25, 1, 0, 3])).itemSync()).toBe(2.796875);
    expect(captured(() => F.smoothL1Loss(zeros([5, 1]), zeros([5]), { beta: 0 }))).toHaveLength(1); // l1Loss inside: one warning
  });
  it('same shapes do not warn; shapes that cannot broadcast are an error naming the loss', () => {
    for (const [, loss] of pointwise) expect(captured(() => loss(zeros([6, 2]), zeros([6, 2])))).toEqual([]);
    expect(() => F.mseLoss(zeros([4]), zeros([3]))).toThrow(new ShapeError('mseLoss: shapes [4] and [3] cannot be broadcast (dim -1: 4 vs 3)'));
  });
  it('BCE weights broadcast to the input, never enlarge it (torch: "output with shape [4] doesn\'t match the broadcast shape [4, 4]")', () => {
    const p = tensor([0.2, 0.4, 0.6, 0.8]);
    expect(() => F.binaryCrossEntropy(p, p, { weight: zeros([4, 1]) })).toThrow(
      new ShapeError("binaryCrossEntropy: weight of shape [4, 1] must broadcast to the input's shape [4]; together they broadcast to [4, 4]"),
    );
    expect(() => F.binaryCrossEntropyWithLogits(p, p, { posWeight: zeros([4, 1]) })).toThrow(/^binaryCrossEntropyWithLogits: posWeight of shape \[4, 1\] must broadcast/);
    expect(() => F.binaryCrossEntropyWithLogits(p, p, { weight: zeros([2, 4]) })).toThrow(/^binaryCrossEntropyWithLogits: weight of shape \[2, 4\]/);
    expect(F.binaryCrossEntropyWithLogits(zeros([4, 3]), zeros([4, 3]), { posWeight: tensor([1, 2, 3]) }).shape).toEqual([]);
  });
});
