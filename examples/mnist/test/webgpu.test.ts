import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { data, initWebGPU, toAsync } from 'tapegrad';
import { train, type Split } from '../src/train.js';

// The MLP trains on WebGPU exactly as on the CPU (same seed, same batches). Without an adapter
// this skips, unless TAPEGRAD_REQUIRE_WEBGPU=1 (CI), where that is a failure.
let why = '';
const ok = await initWebGPU().then(() => true, (e: Error) => ((why = e.message), false));
if (!ok && process.env.TAPEGRAD_REQUIRE_WEBGPU === '1') it('has a WebGPU adapter (TAPEGRAD_REQUIRE_WEBGPU=1)', () => expect.fail(why));

// Each test trains several small models on the software adapter (the CPU runs the shaders): a
// minute alone, more while other packages' tests share the two cores, as in CI.
(ok ? describe : describe.skip)('training on WebGPU', { timeout: 300_000 }, () => {
  it('gives the CPU losses and accuracy', async () => {
    const cpuTrain = await data.loadMnist({ split: 'train', normalize: true, limit: 320 });
    const cpuTest = await data.loadMnist({ split: 'test', normalize: true, limit: 200 });
    const gpu = async (s: Split): Promise<Split> => ({ images: await toAsync(s.images, 'webgpu'), labels: await toAsync(s.labels, 'webgpu') });
    const opts = { model: 'mlp', optimizer: 'adam', lr: 0.002, epochs: 1, batchSize: 32, seed: 3, lossEvery: 2 } as const;
    const a = await train({ ...opts, train: cpuTrain, test: cpuTest });
    const b = await train({ ...opts, device: 'webgpu', train: await gpu(cpuTrain), test: await gpu(cpuTest) });
    expect(b.model.parameters()[0]!.device).toBe('webgpu');
    b.history.losses.forEach(([, l], i) => expect(l).toBeCloseTo(a.history.losses[i]![1], 3));
    expect(b.history.epochs[0]!.testAccuracy).toBeCloseTo(a.history.epochs[0]!.testAccuracy, 2);
  });

  it('--compile on WebGPU trains to eager WebGPU\'s losses and accuracy, bit for bit (its replayer: one command buffer a step)', async () => {
    const gpu = async (s: Split): Promise<Split> => ({ images: await toAsync(s.images, 'webgpu'), labels: await toAsync(s.labels, 'webgpu') });
    const trainSet = await gpu(await data.loadMnist({ split: 'train', normalize: true, limit: 320 }));
    const testSet = await gpu(await data.loadMnist({ split: 'test', normalize: true, limit: 200 }));
    for (const [model, optimizer] of [['mlp', 'adam'], ['cnn', 'sgd']] as const) {
      const run = (compile: boolean) => train({ model, optimizer, lr: 0.01, epochs: 1, batchSize: 32, seed: 2, lossEvery: 1, compile, device: 'webgpu', train: trainSet, test: testSet });
      const eager = await run(false);
      const compiled = await run(true);
      expect(compiled.history.losses.length).toBe(10);
      expect(compiled.history.losses).toEqual(eager.history.losses);
      expect(compiled.history.epochs[0]!.testAccuracy).toBe(eager.history.epochs[0]!.testAccuracy);
      // the first step makes the optimizer's state, the second traces the step: the rest replay
      expect([compiled.compiled!.traces, compiled.compiled!.replays]).toEqual([2, 8]);
      eager.model.dispose();
      compiled.model.dispose();
    }
  });

  it('--amp (autocast float16 + GradScaler.stepAsync) on WebGPU learns as float32 does; --compile gives the same losses bit for bit', async () => {
    const gpu = async (s: Split): Promise<Split> => ({ images: await toAsync(s.images, 'webgpu'), labels: await toAsync(s.labels, 'webgpu') });
    const trainSet = await gpu(await data.loadMnist({ split: 'train', normalize: true, limit: 600 }));
    const testSet = await gpu(await data.loadMnist({ split: 'test', normalize: true, limit: 500 }));
    for (const model of ['mlp', 'cnn'] as const) {
      const run = (amp: boolean, compile = false) =>
        train({ model, optimizer: 'adam', lr: 0.002, epochs: 1, batchSize: 32, seed: 3, lossEvery: 1, amp, compile, device: 'webgpu', train: trainSet, test: testSet });
      const f32 = await run(false);
      const amp = await run(true);
      const ampCompiled = await run(true, true);
      const losses = amp.history.losses.map(([, l]) => l);
      // float16 rounding moves the losses off float32's, a little; they fall as float32's do
      expect(losses).not.toEqual(f32.history.losses.map(([, l]) => l));
      f32.history.losses.forEach(([, l], i) => expect(Math.abs(losses[i]! - l), `${model} step ${i}`).toBeLessThan(0.01 + 0.01 * l));
      const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
      expect(mean(losses.slice(-4))).toBeLessThan(0.85 * losses[0]!);
      // the margin: 3 points of accuracy (15 of the 500 test images)
      expect(Math.abs(amp.history.epochs[0]!.testAccuracy - f32.history.epochs[0]!.testAccuracy), model).toBeLessThan(0.03);
      // a scaled float16 gradient that overflowed halves the scale and skips that step; none need to here
      expect(amp.scale).toBe(65536);
      expect(ampCompiled.history.losses).toEqual(amp.history.losses);
      expect(ampCompiled.compiled!.replays).toBeGreaterThan(10);
      for (const r of [f32, amp, ampCompiled]) {
        for (const p of r.model.parameters()) expect([p.device, p.dtype]).toEqual(['webgpu', 'float32']);
        r.model.dispose();
      }
    }
  });

  it('a split kept on the CPU, each batch moved to WebGPU as it is used, trains to the on-device split\'s losses and accuracy bit for bit (eager, --compile, --amp)', async () => {
    const cpuTrain = await data.loadMnist({ split: 'train', normalize: true, limit: 320, device: 'cpu' });
    const cpuTest = await data.loadMnist({ split: 'test', normalize: true, limit: 200, device: 'cpu' });
    const gpuTrain: Split = { images: await toAsync(cpuTrain.images, 'webgpu'), labels: await toAsync(cpuTrain.labels, 'webgpu') };
    const gpuTest: Split = { images: await toAsync(cpuTest.images, 'webgpu'), labels: await toAsync(cpuTest.labels, 'webgpu') };
    for (const [model, compile, amp] of [['mlp', false, false], ['mlp', true, false], ['mlp', false, true], ['cnn', true, true]] as const) {
      const run = (train_: Split, test: Split) =>
        train({ model, optimizer: 'adam', lr: 0.002, epochs: 1, batchSize: 32, seed: 5, lossEvery: 1, compile, amp, device: 'webgpu', train: train_, test });
      const onDevice = await run(gpuTrain, gpuTest);
      const moved = await run(cpuTrain, cpuTest);
      const what = `${model}${compile ? ' compile' : ''}${amp ? ' amp' : ''}`;
      expect(moved.history.losses.length, what).toBe(10);
      expect(moved.history.losses, what).toEqual(onDevice.history.losses);
      expect(moved.history.epochs[0]!.testAccuracy, what).toBe(onDevice.history.epochs[0]!.testAccuracy);
      if (compile) expect(moved.compiled!.replays, what).toBeGreaterThan(5);
      for (const p of moved.model.parameters()) expect(p.device).toBe('webgpu');
      onDevice.model.dispose();
      moved.model.dispose();
    }
    expect([cpuTrain.images.device, cpuTest.labels.device]).toEqual(['cpu', 'cpu']);
  });

  it('TAPEGRAD_DEVICE=webgpu pnpm mnist trains on WebGPU (the splits kept on the CPU, each batch moved), with --amp too', () => {
    for (const extra of [[], ['--amp']]) {
      const out = mkdtempSync(join(tmpdir(), 'tapegrad-mnist-'));
      try {
        const r = spawnSync(process.execPath, ['--conditions=@tapegrad/source', '--import', 'tsx', 'src/main.ts', '--limit', '128', '--epochs', '1', '--out', out, ...extra], {
          cwd: fileURLToPath(new URL('..', import.meta.url)),
          env: { ...process.env, TAPEGRAD_DEVICE: 'webgpu' },
          encoding: 'utf8',
        });
        expect(r.stderr).not.toMatch(/^mnist:/m);
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/epoch\(s\) of 128 images on webgpu/);
        if (extra.length) expect(r.stdout).toMatch(/amp \(autocast float16 \+ GradScaler\)[\s\S]*GradScaler: final scale \d+/);
        expect(r.stdout).toMatch(/test accuracy \d+\.\d+% in/);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    }
  });
});
