// The bundle-size suite's TensorFlow.js entry (the @tensorflow/tfjs umbrella, as its README
// installs it): the same 2-16-1 MLP, trained with Adam through tfjs-layers.
import * as tf from '@tensorflow/tfjs';

export async function train(epochs = 100) {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 16, activation: 'relu' }), tf.layers.dense({ units: 1 })] });
  model.compile({ optimizer: tf.train.adam(0.02), loss: 'meanSquaredError' });
  const x = tf.randomUniform([64, 2]);
  const y = x.slice([0, 0], [64, 1]).mul(x.slice([0, 1], [64, 1]));
  await model.fit(x, y, { epochs, batchSize: 64, verbose: 0 });
  return model.predict(x).data();
}
