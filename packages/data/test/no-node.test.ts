import { expect, it, vi } from 'vitest';
import '@tapegrad/backend-cpu';
import { TapegradError, tensor } from '@tapegrad/tensor';
import { load, loadMnist, parseSafetensors, save, serializeSafetensors } from '../src/index.js';

// What a browser bundle gets: package.json's `#node` import without the `node` condition.
vi.mock('#node', () => import('../src/no-node.js'));

it('outside Node, the functions that touch files say so and name what to use instead', async () => {
  const err = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
  const saved = await err(save({ w: tensor([1]) }, 'w.safetensors'));
  expect(saved).toBeInstanceOf(TapegradError);
  expect((saved as Error).message).toBe('save: reading and writing files needs Node (there is no file system here); elsewhere, serializeSafetensors(tensors) gives the bytes to download or store');
  await expect(load('w.safetensors')).rejects.toThrow(/^load: reading and writing files needs Node .*parseSafetensors/);
  await expect(loadMnist({ split: 'test' })).rejects.toThrow(/^loadMnist: reading and writing files needs Node .*readIdx and idxToTensor/);
  // the checks that need no file still come first
  await expect(loadMnist({ split: 'dev' as 'test' })).rejects.toThrow(/split must be 'train' or 'test'/);
});

it('outside Node, safetensors bytes still round-trip in memory', async () => {
  const back = parseSafetensors(await serializeSafetensors({ w: tensor([1, 2]) }));
  expect(await back.w!.toArray()).toEqual([1, 2]);
});
