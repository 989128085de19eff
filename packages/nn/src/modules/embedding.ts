import { ValueError, tidy, zeros, type Tensor } from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';
import { embedding } from '../ops/embedding.js';
import { normal } from '../init.js';
import { Module, parameter } from './module.js';
import { checkSize, type FactoryOptions } from './linear.js';

/** A lookup table of numEmbeddings vectors, initialised from N(0, 1) (the padding row zero). */
export class Embedding extends Module {
  /** The learned table, shape [numEmbeddings, embeddingDim]. */
  weight: Tensor;
  /** The row that stays zero and gets no gradient (made non-negative), if any. */
  readonly paddingIdx: number | undefined;
  /**
   * @param numEmbeddings - Rows of the table (a positive integer, else a ValueError).
   * @param embeddingDim - Size of each vector (a positive integer, else a ValueError).
   * @param options - dtype and device of the table; `paddingIdx`, a row in [-numEmbeddings,
   * numEmbeddings) (else a ValueError) that is zeroed and gets no gradient.
   */
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, options: FactoryOptions & { paddingIdx?: number } = {}) {
    super();
    checkSize('Embedding', 'numEmbeddings', numEmbeddings);
    checkSize('Embedding', 'embeddingDim', embeddingDim);
    let pad = options.paddingIdx;
    if (pad !== undefined) {
      if (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings) {
        throw new ValueError(`Embedding: paddingIdx ${pad} is out of range for ${numEmbeddings} embeddings`);
      }
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.weight = parameter(normal(zeros([numEmbeddings, embeddingDim], { dtype: options.dtype, device: options.device })));
    if (pad !== undefined) noGrad(() => tidy(() => void this.weight.narrow(0, pad!, 1).fill_(0)));
  }
  /** int32 indices of any shape to [...indices.shape, embeddingDim]; see {@link embedding}. */
  forward(indices: Tensor): Tensor {
    return embedding(indices, this.weight, { paddingIdx: this.paddingIdx });
  }
  protected override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}
