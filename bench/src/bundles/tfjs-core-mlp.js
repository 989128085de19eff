// The bundle-size suite's smallest TensorFlow.js that trains the MLP: tfjs-core and its CPU
// backend, the model written with core ops and an Adam optimizer (no tfjs-layers, no WebGL).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

export async function train(steps = 100) {
  const w1 = tf.variable(tf.randomNormal([2, 16], 0, 0.5)), b1 = tf.variable(tf.zeros([16]));
  const w2 = tf.variable(tf.randomNormal([16, 1], 0, 0.5)), b2 = tf.variable(tf.zeros([1]));
  const opt = tf.train.adam(0.02);
  const x = tf.randomUniform([64, 2]);
  const y = x.slice([0, 0], [64, 1]).mul(x.slice([0, 1], [64, 1]));
  const forward = () => x.matMul(w1).add(b1).relu().matMul(w2).add(b2);
  for (let step = 0; step < steps; step++) opt.minimize(() => tf.losses.meanSquaredError(y, forward()));
  return forward().data();
}
