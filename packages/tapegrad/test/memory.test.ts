// A loop that never disposes must stay bounded, and be told so (issue 15, item 6).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('a loop that never disposes and awaits each loss lets the finalizers run, and is warned once', () => {
  const r = spawnSync(process.execPath, ['--expose-gc', '--conditions=@tapegrad/source', '--import', 'tsx', 'test/fixtures/undisposed-loop.ts'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const { steps, gcEvery, perStep, peakSteps } = JSON.parse(r.stdout) as { steps: number; gcEvery: number; perStep: number; peakSteps: number };
  expect(perStep).toBeGreaterThan(0); // each step leaves its tensors to the collector
  // Without finalizers getting a turn, the storage of every step stays: `steps` steps' worth at
  // the end. With a turn at a read every 1000 tensors left to the collector, what a collection
  // found is freed within 1000 tensors' worth of steps (each step leaves at least one), so the
  // peak stays under a collection period plus 1000 steps: half of `steps` at most.
  expect(steps).toBeGreaterThanOrEqual(2 * (gcEvery + 1000));
  expect(peakSteps).toBeLessThan(gcEvery + 1000);
  // told once, at 10,000 tensors left to the collector (step 2500 here), what happens and what to do
  const warnings = r.stderr.match(/tapegrad: \d+ tensors were left to the garbage collector: made outside every tidy\(\) and scope/g) ?? [];
  expect(warnings).toHaveLength(1);
  expect(r.stderr).toMatch(/\(\d+ tensors are alive now, says memory\(\)\.tensors\)\. .* Run each step in tidy\(\(\) => \.\.\.\) or `await withScope/);
});
