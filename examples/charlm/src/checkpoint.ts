import { readFile } from 'node:fs/promises';
import { data, save, type Device } from 'tapegrad';
import { Vocab } from './corpus.js';
import { makeModel, type CharModel, type ModelConfig } from './models.js';

// A checkpoint is one safetensors file: the model's state dict, and in the header's metadata the
// config that rebuilds the model and the vocabulary that reads and writes its characters.

export async function saveCheckpoint(path: string, model: CharModel, vocab: Vocab, extra: Record<string, string> = {}): Promise<void> {
  await save(model.stateDict(), path, { metadata: { ...extra, config: JSON.stringify(model.config), vocab: JSON.stringify(vocab.chars) } });
}

export async function loadCheckpoint(path: string, device: Device = 'cpu'): Promise<{ model: CharModel; vocab: Vocab; metadata: Record<string, string> }> {
  const bytes = await readFile(path);
  const { metadata } = data.parseSafetensorsHeader(bytes, path);
  if (!metadata.config || !metadata.vocab) throw new Error(`${path}: not a charlm checkpoint (its metadata has no config and vocab)`);
  const config = JSON.parse(metadata.config) as ModelConfig;
  const vocab = new Vocab(JSON.parse(metadata.vocab) as string[]);
  const model = makeModel(config).to(device);
  const state = data.parseSafetensors(bytes, { device, name: path });
  model.loadStateDict(state);
  for (const t of Object.values(state)) t.dispose();
  return { model, vocab, metadata };
}
