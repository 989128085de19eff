import {
  add, cos, div, eq, exp, ge, gt, le, log, lt, mul, neg, pow, run, sign, sin, square, sub, where, zerosLike, type ClampAttrs, type Tensor,
  type TriangleAttrs,
} from '@tapegrad/tensor';
import { registerGradient, type GradContext } from '../tape.js';
import { sumToShape } from './util.js';

// Gradients of the elementwise ops (definitions: packages/tensor/src/ops/elementwise.ts).
// Binary rules reduce broadcast gradients back to each input's shape.

function binary(op: string, save: boolean, da: (c: GradContext, g: Tensor) => Tensor, db: (c: GradContext, g: Tensor) => Tensor): void {
  registerGradient(op, {
    saveInputs: save,
    backward: (c, [g]) => [
      c.needsGrad[0] ? sumToShape(da(c, g!), c.inputShapes[0]!) : null,
      c.needsGrad[1] ? sumToShape(db(c, g!), c.inputShapes[1]!) : null,
    ],
  });
}
const A = (c: GradContext) => c.inputs[0]!;
const B = (c: GradContext) => c.inputs[1]!;

binary('add', false, (_, g) => g, (_, g) => g);
binary('sub', false, (_, g) => g, (_, g) => neg(g));
binary('mul', true, (c, g) => mul(g, B(c)), (c, g) => mul(g, A(c)));
binary('div', true, (c, g) => div(g, B(c)), (c, g) => neg(div(mul(g, A(c)), mul(B(c), B(c)))));
// d/da a^b = b a^(b-1) (0 where b == 0); d/db a^b = a^b log(a) (0 where a == 0 and b >= 0), as torch.
binary('pow', true,
  (c, g) => where(eq(B(c), 0), 0, mul(g, mul(B(c), pow(A(c), sub(B(c), 1))))),
  (c, g) => where(mul(eq(A(c), 0), ge(B(c), 0)), 0, mul(g, mul(pow(A(c), B(c)), log(A(c))))));
// ties share the gradient equally, as torch.maximum/minimum
const tieSplit = (win: (a: Tensor, b: Tensor) => Tensor) => (c: GradContext, g: Tensor, self: Tensor, other: Tensor) =>
  where(eq(self, other), div(g, 2), where(win(self, other), g, 0));
const maxSplit = tieSplit(gt);
const minSplit = tieSplit(lt);
binary('maximum', true, (c, g) => maxSplit(c, g, A(c), B(c)), (c, g) => maxSplit(c, g, B(c), A(c)));
binary('minimum', true, (c, g) => minSplit(c, g, A(c), B(c)), (c, g) => minSplit(c, g, B(c), A(c)));
// issue 16: d/da atan2(a, b) = b / (a² + b²), d/db = −a / (a² + b²), as torch
const atan2Scale = (c: GradContext, g: Tensor) => div(g, add(square(A(c)), square(B(c))));
binary('atan2', true, (c, g) => mul(atan2Scale(c, g), B(c)), (c, g) => neg(mul(atan2Scale(c, g), A(c))));

function unary(op: string, save: 'input' | 'output', dx: (x: Tensor, g: Tensor, attrs: any) => Tensor): void {
  registerGradient(op, {
    saveInputs: save === 'input',
    saveOutputs: save === 'output',
    backward: (c, [g]) => [dx(save === 'input' ? c.inputs[0]! : c.outputs[0]!, g!, c.attrs)],
  });
}
registerGradient('neg', { backward: (_, [g]) => [neg(g!)] });
unary('abs', 'input', (x, g) => mul(g, sign(x)));
unary('exp', 'output', (y, g) => mul(g, y));
unary('log', 'input', (x, g) => div(g, x));
unary('sqrt', 'output', (y, g) => div(g, mul(y, 2)));
unary('tanh', 'output', (y, g) => mul(g, sub(1, mul(y, y))));
unary('sigmoid', 'output', (y, g) => mul(g, mul(y, sub(1, y))));
unary('relu', 'output', (y, g) => run('reluBackward', [g, y]));
unary('square', 'input', (x, g) => mul(g, mul(x, 2)));
unary('sign', 'input', (x) => zerosLike(x));
// issue 16
unary('sin', 'input', (x, g) => mul(g, cos(x)));
unary('cos', 'input', (x, g) => neg(mul(g, sin(x))));
unary('erf', 'input', (x, g) => mul(g, mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI))));
unary('log1p', 'input', (x, g) => div(g, add(x, 1)));
unary('expm1', 'output', (y, g) => mul(g, add(y, 1)));
// piecewise constant: zero gradients, as torch
for (const op of ['floor', 'ceil', 'round']) registerGradient(op, { backward: (_, [g]) => [zerosLike(g!)] });
for (const op of ['tril', 'triu']) {
  registerGradient<TriangleAttrs>(op, { backward: (c, [g]) => [run(op, [g!], { diagonal: c.attrs.diagonal })] });
}
unary('clamp', 'input', (x, g, { min, max }: ClampAttrs) => where(mul(ge(x, min), le(x, max)), g, 0));

registerGradient('where', {
  saveInputs: [0],
  backward: (c, [g]) => {
    const cond = c.inputs[0]!;
    return [
      null,
      c.needsGrad[1] ? sumToShape(where(cond, g!, 0), c.inputShapes[1]!) : null,
      c.needsGrad[2] ? sumToShape(where(cond, 0, g!), c.inputShapes[2]!) : null,
    ];
  },
});

// copy covers contiguous, clone and cast: the gradient flows back unchanged (cast back by the tape).
registerGradient('copy', { backward: (_, [g]) => [g!] });
