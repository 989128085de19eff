// `pnpm --filter @tapegrad/data bench`: what loading MNIST and one epoch of batches cost.
import { bench, describe } from 'vitest';
import '@tapegrad/backend-cpu';
import { DataLoader, TensorDataset, loadMnist, parseSafetensors, serializeSafetensors } from '../src/index.js';
import { randn } from '@tapegrad/tensor';

const { images, labels } = await loadMnist({ normalize: true, flatten: true });
const loader = new DataLoader(new TensorDataset(images, labels), { batchSize: 64, shuffle: true, seed: 0 });
const weights = { w1: randn([784, 128]), b1: randn([128]), w2: randn([128, 10]), b2: randn([10]) };

describe('data', () => {
  bench('loadMnist train (60000 images, normalized)', async () => {
    const m = await loadMnist({ normalize: true });
    m.images.dispose();
    m.labels.dispose();
  }, { iterations: 3 });
  bench('DataLoader epoch over MNIST train, batch 64, shuffled', () => {
    for (using batch of loader) void batch;
  }, { iterations: 3 });
  bench('safetensors serialize + parse of an MLP 784-128-10', async () => {
    for (const t of Object.values(parseSafetensors(await serializeSafetensors(weights)))) t.dispose();
  });
});
