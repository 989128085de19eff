import { expect, it } from 'vitest';
import { trainXor } from '../src/train.js';

it('learns XOR: the loss falls below 0.05', () => {
  const losses = trainXor({ steps: 500 });
  expect(losses[0]!).toBeGreaterThan(0.5);
  expect(losses[losses.length - 1]!).toBeLessThan(0.05);
});
