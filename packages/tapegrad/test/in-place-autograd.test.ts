import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { nn, optim } from '../src/index.js';

// Issue 15, bug 2: in-place ops on tensors saved for backward gave wrong gradients. Tensors now
// carry torch's version counter (on the storage, so views share it): an in-place write bumps it,
// a saved tensor remembers it, and backward refuses a saved tensor written since. In-place ops
// that need recording are recorded (the tensor takes the result's place in the graph) or refused.

const f64 = { dtype: 'float64' as const };
const values = (t: tg.Tensor) => Array.from(t.dataSync());

describe('version counter', () => {
  it('every in-place write bumps it, views and detached tensors share it, out-of-place ops do not', () => {
    const x = tg.zeros([2, 3]);
    expect(x.version).toBe(0);
    x.add_(1);
    x.sub_(tg.ones([3]));
    x.mul_(2);
    x.div_(2);
    x.copy_(tg.ones([2, 3]));
    x.fill_(3);
    x.zero_();
    expect(x.version).toBe(7);
    const view = x.slice(0, 0, 1);
    view.mul_(2);
    expect(x.version).toBe(8);
    x.detach().add_(1);
    expect(view.version).toBe(9);
    x.add(1).mul(3).dispose();
    expect(x.version).toBe(9);
  });

  it('a fused optimizer step bumps the parameter and its state, not the gradient', () => {
    const p = tg.tensor([1, 2, 3]).requiresGrad_();
    p.mul(p).sum().backward();
    const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
    const [v0, g0] = [p.version, p.grad!.version];
    opt.step();
    expect(p.version).toBe(v0 + 1);
    expect(p.grad!.version).toBe(g0);
    expect(values(p)).toEqual([1 - 0.2, 2 - 0.4, 3 - 0.6].map(Math.fround));
  });
});

describe('backward refuses saved tensors written in place since', () => {
  it("the issue's reproduction: y saved by square, then y.mul_(10)", () => {
    const w = tg.tensor([1, 2]).requiresGrad_();
    const y = w.mul(1);
    const z = y.square();
    y.mul_(10);
    expect(() => z.sum().backward()).toThrow(/input 0 of 'square' \(float32 \[2\]\), saved for its gradient, was modified by an in-place operation: it is at version 1; expected version 0/);
    expect(w.grad).toBeNull();
  });

  it('a saved output (exp reuses its result) written in place', () => {
    const x = tg.tensor([0.5, 1]).requiresGrad_();
    const y = x.exp();
    noGradWrite(() => y.mul_(2));
    expect(() => y.sum().backward()).toThrow(/output 0 of 'exp'.*modified by an in-place operation/);
  });

  it('a parameter the optimizer stepped between forward and backward (the classic mistake)', () => {
    tg.manualSeed(3);
    const lin = new nn.Linear(4, 2);
    const opt = new optim.SGD(lin.parameters(), { lr: 0.1 });
    const x = tg.randn([3, 4]).requiresGrad_();
    const loss = lin.forward(x).square().sum();
    lin.weight.grad = tg.onesLike(lin.weight);
    lin.bias!.grad = tg.onesLike(lin.bias!);
    opt.step();
    expect(() => loss.backward()).toThrow(/'linear'.*modified by an in-place operation/);
  });

  it('only what the rule reads is checked, as torch saves only what a gradient needs', () => {
    // mul(y, c) with c constant: y's gradient needs c, not y, so writing y is fine ...
    const w = tg.tensor([1, 2], f64).requiresGrad_();
    const c = tg.tensor([3, 4], f64);
    const y = w.mul(1);
    const z = y.mul(c);
    noGradWrite(() => y.add_(100));
    z.sum().backward();
    expect(values(w.grad!)).toEqual([3, 4]);
    // ... but writing c is not
    const w2 = tg.tensor([1, 2], f64).requiresGrad_();
    const z2 = w2.mul(1).mul(c);
    c.add_(1);
    expect(() => z2.sum().backward()).toThrow(/input 1 of 'mul'/);
  });

  it('between two backward passes over a retained graph', () => {
    const w = tg.tensor([1, 2]).requiresGrad_();
    const y = w.mul(2);
    const z = y.square().sum();
    z.backward(undefined, { retainGraph: true });
    expect(values(w.grad!)).toEqual([8, 16]);
    noGradWrite(() => y.add_(1));
    expect(() => z.backward()).toThrow(/'square'.*in-place/);
  });

  it("a tensor a custom op saved (ctx.saveForBackward)", () => {
    const cube = tg.customOp({
      name: 'test_inplace_cube',
      forward: (ctx, x: tg.Tensor) => {
        ctx.saveForBackward(x);
        return x.mul(x).mul(x);
      },
      backward: (ctx, g) => {
        const [x] = ctx.savedTensors;
        return [g.mul(x!.square()).mul(3)];
      },
    });
    const w = tg.tensor([1, 2]).requiresGrad_();
    const x = w.mul(1);
    const out = cube(x);
    noGradWrite(() => x.mul_(5));
    expect(() => out.sum().backward()).toThrow(/test_inplace_cube.*modified by an in-place operation/);
  });
});

describe('in-place ops that need recording', () => {
  it('are recorded on non-leaf tensors, with the gradients of the out-of-place program (gradcheck)', () => {
    tg.manualSeed(7);
    const a = tg.randn([3, 4], f64).requiresGrad_();
    const b = tg.randn([4], f64).requiresGrad_();
    const c = tg.rand([3, 1], f64).add(0.5).detach().requiresGrad_();
    const program = (a: tg.Tensor, b: tg.Tensor, c: tg.Tensor) => {
      const y = a.mul(2);
      y.add_(b);
      y.mul_(c); // c needs a gradient: mul_ keeps y's old value for it
      y.sub_(a.square());
      y.div_(c);
      const z = b.mul(1);
      z.copy_(a.sum(0)); // z's old value gets a zero gradient
      return y.tanh().sum().add(z.square().sum());
    };
    expect(tg.gradcheck(program, [a, b, c])).toBe(true);
  });

  it('turn a tensor that did not require grad into one that does (buf.add_(w))', () => {
    const w = tg.tensor([1, 2]).requiresGrad_();
    const buf = tg.zeros([2]);
    buf.add_(w.square());
    expect(buf.requiresGrad).toBe(true);
    expect(buf.isLeaf).toBe(false);
    buf.sum().backward();
    expect(values(w.grad!)).toEqual([2, 4]);
  });

  it('are refused on a leaf that requires grad, outside noGrad', () => {
    const w = tg.tensor([1, 2]).requiresGrad_();
    for (const f of [() => w.add_(1), () => w.mul_(2), () => w.copy_(tg.zeros([2])), () => w.zero_(), () => w.fill_(1)]) {
      expect(f).toThrow(/_: a leaf tensor that requires grad \(shape \[2\]\) cannot be modified in place while grad mode is on/);
    }
    expect(values(w)).toEqual([1, 2]);
    tg.noGrad(() => w.mul_(3));
    expect(values(w)).toEqual([3, 6]);
  });

  it('are refused on storage a view shares, where the other views would go stale', () => {
    const w = tg.tensor([1, 2, 3, 4]).requiresGrad_();
    const y = w.mul(1);
    const rows = y.reshape([2, 2]);
    expect(() => y.add_(1)).toThrow(/add_: cannot record an in-place op on a tensor \(shape \[4\]\) whose storage a view shares/);
    expect(() => rows.narrow(0, 0, 1).mul_(10)).toThrow(/mul_: cannot record/);
    expect(values(y)).toEqual([1, 2, 3, 4]);
  });
});

function noGradWrite(f: () => unknown): void {
  tg.noGrad(() => void f());
}
