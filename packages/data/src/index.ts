/**
 * Feeding data to a model: map-style datasets and a batching DataLoader (after torch.utils.data),
 * the IDX format and the MNIST loader, and safetensors files for saving and loading weights.
 * @packageDocumentation
 * @module @tapegrad/data
 */
export { FormatError } from './errors.js';
export { readIdx, writeIdx, idxToTensor, type IdxData, type IdxDType, type IdxArray } from './idx.js';
export { loadMnist, MNIST_MEAN, MNIST_STD, type Mnist, type MnistOptions } from './mnist.js';
export { Dataset, TensorDataset, collate, disposeAll, type Sample, type Collated } from './dataset.js';
export { DataLoader, type DataLoaderOptions, type Batch, type BatchSource } from './dataloader.js';
// issue 16 (data): subsets, concatenation, random splits
export { Subset, ConcatDataset, randomSplit, type RandomSplitOptions } from './split.js';
export {
  save,
  load,
  serializeSafetensors,
  parseSafetensors,
  parseSafetensorsHeader,
  type SafetensorsDType,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type SaveOptions,
  type LoadOptions,
} from './safetensors.js';
