// The bundle-size suite's jax-js entry: the same 2-16-1 MLP, its gradient by valueAndGrad and an
// Adam update written out (jax-js keeps optimizers in @jax-js/optax); WebGPU when init() finds it.
import { defaultDevice, init, nn, numpy as np, random, tree, valueAndGrad } from '@jax-js/jax';

export async function train(steps = 100, lr = 0.02) {
  if ((await init()).includes('webgpu')) defaultDevice('webgpu');
  const [k1, k2, k3] = [random.key(1), random.key(2), random.key(3)];
  let params = { w1: random.normal(k1, [2, 16]).mul(0.5), b1: np.zeros([16]), w2: random.normal(k2, [16, 1]).mul(0.5), b2: np.zeros([1]) };
  const x = random.uniform(k3, [64, 2]);
  const y = x.ref.slice([], [0, 1]).mul(x.ref.slice([], [1, 2]));
  const loss = (p, x, y) => np.square(np.matmul(nn.relu(np.matmul(x, p.w1).add(p.b1)), p.w2).add(p.b2).sub(y)).mean();
  let m = tree.map((p) => np.zerosLike(p.ref), params), v = tree.map((p) => np.zerosLike(p.ref), params);
  for (let t = 1; t <= steps; t++) {
    const [, g] = valueAndGrad(loss)(tree.ref(params), x.ref, y.ref);
    m = tree.map((m, g) => m.mul(0.9).add(g.mul(0.1)), m, tree.ref(g));
    v = tree.map((v, g) => v.mul(0.999).add(np.square(g).mul(0.001)), v, g);
    params = tree.map((p, m, v) => p.sub(m.mul(lr / (1 - 0.9 ** t)).div(np.sqrt(v.div(1 - 0.999 ** t)).add(1e-8))), params, tree.ref(m), tree.ref(v));
  }
  return loss(params, x, y).data();
}
