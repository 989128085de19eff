import { Generator, multinomial, noGrad, tensor, tidy, topk, type Tensor } from 'tapegrad';
import type { Vocab } from './corpus.js';
import { CharLSTM, type CharModel } from './models.js';

export interface SampleOptions {
  /** Text the sample continues (at least one character; default a newline: a new paragraph). */
  prompt?: string;
  /** Characters to generate. */
  length: number;
  /** Divides the logits: below 1 sharpens the distribution, above 1 flattens it (default 1). */
  temperature?: number;
  /** Draw among the k likeliest characters only (default: all); 1 is greedy decoding. */
  topK?: number;
  /** Seeds the draws: the same seed gives the same text. */
  seed?: number;
}

/**
 * The index of the next character, drawn from logits [vocab] after temperature and top-k, with
 * the framework's topk and multinomial (so the draw runs where the logits are).
 */
export function pick(logits: Tensor, temperature: number, topK: number | undefined, generator: Generator): Tensor {
  return tidy(() => {
    const scaled = logits.div(temperature);
    if (topK === undefined || topK >= scaled.shape[0]!) return multinomial(scaled.softmax(0), 1, { generator });
    const { values, indices } = topk(scaled, topK);
    return indices.gather(0, multinomial(values.softmax(0), 1, { generator }));
  });
}

/**
 * `length` characters continuing `prompt`, one at a time. The LSTM carries its state from step
 * to step; the transformer re-reads the last `context` characters.
 */
export async function sample(model: CharModel, vocab: Vocab, o: SampleOptions): Promise<string> {
  const { prompt = '\n', length, temperature = 1, topK, seed = 0 } = o;
  if (!(temperature > 0)) throw new Error(`sample: temperature must be > 0; got ${temperature}`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1)) throw new Error(`sample: topK must be an integer >= 1; got ${topK}`);
  if (prompt.length === 0) throw new Error('sample: the prompt must hold at least one character');
  const generator = new Generator(seed);
  const device = model.parameters()[0]!.device;
  const ids = Array.from(vocab.encode(prompt));
  const wasTraining = model.training;
  model.eval();
  let state: [Tensor, Tensor] | null = null;
  let fresh = ids.slice(); // what the LSTM has not read yet
  try {
    for (let i = 0; i < length; i++) {
      // the LSTM's new state is returned from the tidy with the pick, so that it outlives the step
      const [next, newState] = noGrad(() =>
        tidy((): [Tensor, [Tensor, Tensor] | null] => {
          if (model instanceof CharLSTM) {
            const [logits, s] = model.withState(tensor([fresh], { dtype: 'int32', device }), state);
            return [pick(logits.select(0, 0).select(0, -1), temperature, topK, generator), s];
          }
          const logits = model.forward(tensor([ids.slice(-model.config.context)], { dtype: 'int32', device }));
          return [pick(logits.select(0, 0).select(0, -1), temperature, topK, generator), null];
        }),
      );
      state?.forEach((t) => t.dispose());
      state = newState;
      const id = await next.item();
      next.dispose();
      ids.push(id);
      fresh = [id];
    }
  } finally {
    (state as [Tensor, Tensor] | null)?.forEach((t) => t.dispose());
    model.train(wasTraining);
  }
  return vocab.decode(ids.slice(ids.length - length));
}
