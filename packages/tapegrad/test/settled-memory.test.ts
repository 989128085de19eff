// The suite's setup (vitest.settle.ts) lets the collector finish before each test, so a test that
// reads memory() across an `await` counts only its own tensors. These two tests fail without it:
// the first leaves garbage, the second watches the finalizers of that garbage run.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import * as tg from 'tapegrad';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

it('leaves 100 tensors to the collector', () => {
  const before = tg.memory().tensors;
  for (let i = 0; i < 100; i++) tg.ones([4]); // dropped, never disposed
  expect(tg.memory().tensors).toBe(before + 100);
});

it('starts with nothing of the earlier test left to be finalized', async () => {
  const before = tg.memory();
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 1));
  }
  expect([tg.memory().tensors, tg.memory().bytes]).toEqual([before.tensors, before.bytes]);
});

it('settleMemory returns only after the finalizers of garbage made just before it have run', async () => {
  const { settleMemory } = await import('../../../vitest.settle.js');
  await settleMemory();
  const before = tg.memory();
  const drop = () => {
    for (let i = 0; i < 50; i++) tg.ones([3]);
  };
  drop();
  expect(tg.memory().tensors).toBe(before.tensors + 50);
  await settleMemory();
  expect([tg.memory().tensors, tg.memory().bytes]).toEqual([before.tensors, before.bytes]);
});
