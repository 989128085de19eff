import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { nn, type Tensor } from '../src/index.js';
import { expectClose } from './helpers.js';

// State dicts written by PyTorch load into the same models built with tapegrad, and the models
// then compute what PyTorch computed. fixtures/gen_pytorch-state-dict.py (torch 1.13) wrote the
// safetensors files (each model's state_dict()) and pytorch-state-dict.json (the inputs, PyTorch's
// outputs and its state-dict keys); docs/saving-loading.md points here.

interface Encoded { shape: number[]; data: number[] }
const ref: {
  charlm: { keys: string[]; input: number[]; inputShape: number[]; logits: Encoded; h: Encoded; c: Encoded };
  convnet: { keys: string[]; input: Encoded; output: Encoded; numBatchesTracked: number };
  encoder: { keys: string[]; input: Encoded; output: Encoded };
} = JSON.parse(readFileSync(new URL('./fixtures/pytorch-state-dict.json', import.meta.url), 'utf8'));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const t = (e: Encoded) => tg.tensor(e.data, { shape: e.shape });

// The tensors a file holds belong to whoever loaded them: loadStateDict copies, so they go after.
async function loadInto(model: nn.Module, file: string): Promise<void> {
  const state = await tg.load(fixture(file));
  try {
    model.loadStateDict(state);
  } finally {
    for (const v of Object.values(state)) v.dispose();
  }
}

class CharLM extends nn.Module {
  embed = new nn.Embedding(12, 8);
  lstm = new nn.LSTM(8, 16, { numLayers: 2, batchFirst: true });
  norm = new nn.LayerNorm(16);
  head = new nn.Linear(16, 12);
  forward(ids: Tensor): [Tensor, Tensor, Tensor] {
    const [out, [h, c]] = this.lstm.call(this.embed.call(ids));
    return [this.head.call(this.norm.call(out)), h, c];
  }
}

const convnet = () =>
  new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(4 * 3 * 3, 3));

describe('a state dict written by PyTorch', () => {
  it('an Embedding, 2-layer LSTM, LayerNorm and Linear language model: same keys, same logits and final state', async () => {
    const model = new CharLM().eval();
    expect(Object.keys(model.stateDict())).toEqual(ref.charlm.keys);
    await loadInto(model, 'pytorch-charlm.safetensors');
    tg.tidy(() => {
      const [logits, h, c] = model.call(tg.tensor(ref.charlm.input, { shape: ref.charlm.inputShape, dtype: 'int32' }));
      expect(logits.shape).toEqual(ref.charlm.logits.shape);
      expectClose(logits.dataSync(), ref.charlm.logits.data, 1e-5, 1e-4, 'logits');
      expectClose(h.dataSync(), ref.charlm.h.data, 1e-6, 1e-4, 'h');
      expectClose(c.dataSync(), ref.charlm.c.data, 1e-6, 1e-4, 'c');
    });
    model.dispose();
  });

  it('a conv net with BatchNorm: trained running statistics and the int64 step count load, eval output matches', async () => {
    const model = convnet();
    expect(Object.keys(model.stateDict())).toEqual(ref.convnet.keys);
    await loadInto(model, 'pytorch-convnet.safetensors');
    const bn = model.at(1) as nn.BatchNorm2d;
    // PyTorch's num_batches_tracked is int64; it loads as tapegrad's int32
    expect(bn.numBatchesTracked!.dtype).toBe('int32');
    expect(bn.numBatchesTracked!.itemSync()).toBe(ref.convnet.numBatchesTracked);
    model.eval();
    tg.tidy(() => expectClose(model.call(t(ref.convnet.input)).dataSync(), ref.convnet.output.data, 1e-5, 1e-4, 'output'));
    model.dispose();
  });

  it('a TransformerEncoderLayer (fused in_proj of attention): same keys, same output', async () => {
    const model = new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32, dropout: 0, batchFirst: true }).eval();
    expect(Object.keys(model.stateDict())).toEqual(ref.encoder.keys);
    await loadInto(model, 'pytorch-encoder.safetensors');
    tg.tidy(() => expectClose(model.call(t(ref.encoder.input)).dataSync(), ref.encoder.output.data, 1e-5, 1e-4, 'output'));
    model.dispose();
  });

  it('into a model that differs, is an error naming every key and shape that does not fit', async () => {
    const wrong = new nn.Sequential(new nn.Conv2d(1, 4, 3), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(4 * 2 * 2, 3));
    const state = await tg.load(fixture('pytorch-convnet.safetensors'));
    expect(() => wrong.loadStateDict(state)).toThrow(/5\.weight: shape \[3, 36\] in the state dict, \[3, 16\] in the module/);
    const partial = new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4));
    expect(() => partial.loadStateDict(state)).toThrow(/unexpected keys: 5\.weight, 5\.bias/);
    // strict: false loads what matches and reports the rest
    expect(partial.loadStateDict(state, { strict: false })).toEqual({ missingKeys: [], unexpectedKeys: ['5.weight', '5.bias'] });
    expect(Array.from(partial.at(0)!.stateDict()['weight']!.dataSync())).toEqual(Array.from(state['0.weight']!.dataSync()));
    for (const v of Object.values(state)) v.dispose();
    wrong.dispose();
    partial.dispose();
  });
});
