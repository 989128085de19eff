import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import * as tg from '../src/index.js';

it('re-exports save/load and the data namespace', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'tapegrad-umbrella-')), 'w.safetensors');
  await tg.save({ w: tg.tensor([[1, 2]]) }, path);
  expect((await tg.load(path)).w!.arraySync()).toEqual([[1, 2]]);
  const loader = new tg.data.DataLoader(new tg.data.TensorDataset(tg.arange(5)), { batchSize: 2 });
  expect([...loader].map(([x]) => x.arraySync())).toEqual([[0, 1], [2, 3], [4]]);
  expect(() => tg.parseSafetensors(new Uint8Array(3))).toThrow(tg.FormatError);
});
