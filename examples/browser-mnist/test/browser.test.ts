import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoState } from '../src/main.ts';
import { ACCURACY_COLOR, LOSS_COLOR } from '../src/plot.ts';
import { serve } from './server.ts';

// The example, built and trained in a real browser: Debian's Chromium (never a downloaded one),
// headless, driven by playwright-core. The page is served twice, without and with the headers
// that make it cross-origin isolated: without them there is no SharedArrayBuffer and the CPU
// backend runs on one thread; with them on Web Workers that share its memory. A second browser
// with --enable-unsafe-webgpu trains on WebGPU (SwiftShader's adapter, as headless Chromium
// gives it), on the page without isolation. Each scenario trains through the page's own controls, checks the loss falls, the
// accuracy rises, live tensors stay flat and the plot is drawn, and saves a screenshot.

const here = fileURLToPath(new URL('..', import.meta.url));
const out = join(here, 'test-output');
const chromiumPath = process.env.TAPEGRAD_CHROMIUM ?? '/usr/bin/chromium';
const required = process.env.TAPEGRAD_REQUIRE_BROWSER === '1';
const haveChromium = existsSync(chromiumPath);
if (!haveChromium) {
  const why = `no Chromium at ${chromiumPath} (on Debian: apt-get install chromium; or point TAPEGRAD_CHROMIUM at one)`;
  if (required) it('has Chromium (TAPEGRAD_REQUIRE_BROWSER=1)', () => expect.fail(why));
  else console.warn(`browser tests skipped: ${why}\n(set TAPEGRAD_REQUIRE_BROWSER=1 to make this a failure)`);
}
// the flags this machine's notes ask for, and a fresh profile each launch
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader'];
const poison = process.env.TAPEGRAD_POISON === '1';

let server: Awaited<ReturnType<typeof serve>>;
const contexts: BrowserContext[] = [];
const profiles: string[] = [];

async function launch(extra: string[] = []): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'tapegrad-chromium-'));
  profiles.push(profile);
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, headless: true, args: [...FLAGS, ...extra], viewport: { width: 800, height: 900 } });
  contexts.push(ctx);
  return ctx;
}

/** Open the page (`plain` or `isolated`) and wait until MNIST is loaded and the devices are probed. */
async function open(ctx: BrowserContext, mode: 'plain' | 'isolated'): Promise<{ page: Page; errors: string[] }> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/${mode}/index.html${poison ? '?poison' : ''}`);
  await page.waitForFunction(() => ['ready', 'error'].includes((globalThis as { demo?: DemoState }).demo?.phase ?? ''), undefined, { timeout: 60_000 });
  expect(await demo(page).then((d) => d.error)).toBeUndefined();
  return { page, errors };
}

const demo = (page: Page) => page.evaluate(() => (globalThis as unknown as { demo: DemoState }).demo);

/** Train through the page's controls and return the finished run. */
async function train(page: Page, model: 'mlp' | 'cnn', device: 'cpu' | 'webgpu', steps: number): Promise<NonNullable<DemoState['run']>> {
  await page.selectOption('#model', model);
  await page.selectOption('#device', device);
  await page.fill('#steps', String(steps));
  await page.click('#train');
  await page.waitForFunction(() => ['done', 'error'].includes((globalThis as { demo?: DemoState }).demo?.phase ?? ''), undefined, { timeout: 240_000, polling: 250 });
  const d = await demo(page);
  expect(d.error).toBeUndefined();
  const run = d.run!;
  expect([run.model, run.device]).toEqual([model, device]);
  return run;
}

/** The loss falls (the mean of the last 5 readings against the first step's) and live tensors stay flat. */
function expectLearned(run: NonNullable<DemoState['run']>, lossRatio: number, accuracy: number): void {
  const losses = run.losses.map(([, l]) => l);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(run.losses[0]![0]).toBe(1);
  expect(losses.slice(-5).reduce((a, b) => a + b, 0) / 5 / losses[0]!).toBeLessThan(lossRatio);
  expect(run.accuracies.at(-1)![1]).toBeGreaterThan(accuracy);
  // after the first step (which makes the optimizer's state) a step holds as many tensors as the last
  expect(new Set(run.liveTensors.slice(1).map(([, n]) => n)).size).toBe(1);
}

/** Pixels of each series' colour on the plot: it is drawn, both lines. */
async function expectPlot(page: Page): Promise<void> {
  const counts = await page.evaluate(([loss, acc]) => {
    const c = document.getElementById('plot') as HTMLCanvasElement;
    const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const count = (hex: string) => {
      const [r, g, b] = rgb(hex);
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i] === r && px[i + 1] === g && px[i + 2] === b) n++;
      return n;
    };
    return [count(loss!), count(acc!)];
  }, [LOSS_COLOR, ACCURACY_COLOR]);
  expect(counts[0]).toBeGreaterThan(100); // a line across the plot
  expect(counts[1]).toBeGreaterThanOrEqual(20); // at least one 5×5 dot
}

/** Draw a vertical stroke (a "1") on the pad with the mouse and return the page's prediction. */
async function drawOne(page: Page): Promise<DemoState['prediction']> {
  const box = (await page.locator('#pad').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.48, box.y + box.height * 0.85, { steps: 12 });
  await page.mouse.up();
  await page.waitForFunction(() => (globalThis as { demo?: DemoState }).demo?.prediction !== undefined);
  return (await demo(page)).prediction;
}

describe.skipIf(!haveChromium)('browser-mnist in headless Chromium', () => {
  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    const outDir = join(out, 'dist');
    await build({ root: here, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
    server = await serve(outDir);
  }, 120_000);
  afterAll(async () => {
    for (const ctx of contexts) await ctx.close();
    for (const p of profiles) rmSync(p, { recursive: true, force: true });
    await server?.close();
  });

  it('without cross-origin isolation: one CPU thread, no SharedArrayBuffer; the MLP learns, and classifies a drawn 1', async () => {
    const { page, errors } = await open(await launch(), 'plain');
    const { env } = await demo(page);
    expect(env).toMatchObject({ crossOriginIsolated: false, sharedMemoryAvailable: false, cpuThreads: 1 });
    expect(await page.evaluate(() => typeof SharedArrayBuffer)).toBe('undefined');
    // without --enable-unsafe-webgpu headless Chromium has navigator.gpu but no adapter: the
    // page falls back to the CPU and shows initWebGPU's advice, which is a browser's
    expect(env.webgpu).toBeUndefined();
    expect(env.webgpuError).toMatch(/navigator\.gpu found no WebGPU adapter/);
    expect(env.webgpuError).toMatch(/chrome:\/\/flags/);
    expect(env.webgpuError).not.toMatch(/apt-get/);
    expect(await page.locator('#device').inputValue()).toBe('cpu');
    const run = await train(page, 'mlp', 'cpu', 300);
    expectLearned(run, 0.4, 0.8);
    await expectPlot(page);
    const prediction = await drawOne(page);
    expect(prediction!.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(prediction!.digit).toBe(1);
    await page.screenshot({ path: join(out, 'plain-cpu-mlp.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 300_000);

  it('cross-origin isolated: the CPU backend on Web Workers over shared memory; the MLP and the CNN learn', async () => {
    const { page, errors } = await open(contexts[0] ?? (await launch()), 'isolated');
    const { env } = await demo(page);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(env).toMatchObject({ crossOriginIsolated: true, sharedMemoryAvailable: true, cpuThreads: Math.min(16, cores) });
    const mlp = await train(page, 'mlp', 'cpu', 300);
    expectLearned(mlp, 0.4, 0.8);
    // the workers computed blocks of the products (wherever there is more than one thread)
    expect((await demo(page)).env.workerBlocks > 0).toBe(env.cpuThreads > 1);
    await expectPlot(page);
    await page.screenshot({ path: join(out, 'isolated-cpu-mlp.png'), fullPage: true });
    const cnn = await train(page, 'cnn', 'cpu', 60);
    expectLearned(cnn, 0.8, 0.5);
    await page.screenshot({ path: join(out, 'isolated-cpu-cnn.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 300_000);

  it('WebGPU (--enable-unsafe-webgpu), without isolation: the MLP and the CNN learn on the GPU, step for step as on the CPU', async (test) => {
    // the page without SharedArrayBuffer: WebGPU training makes CPU tensors too (scalars, reads)
    const { page, errors } = await open(await launch(WEBGPU_FLAGS), 'plain');
    const { env } = await demo(page);
    if (!env.webgpu) {
      // said, never passed silently: a failure in CI (TAPEGRAD_REQUIRE_WEBGPU=1), a skip elsewhere
      const why = `headless Chromium gave no WebGPU adapter: ${env.webgpuError}`;
      if (process.env.TAPEGRAD_REQUIRE_WEBGPU === '1') expect.fail(why);
      console.warn(`browser WebGPU test skipped: ${why}`);
      test.skip(why);
    }
    expect(await page.locator('#device').inputValue()).toBe('webgpu'); // the page's default where there is an adapter
    // SwiftShader runs WebGPU on the CPU, slowly: few steps, each compared with the CPU's run of
    // the same model from the same seed on the same batches
    for (const [model, steps, ratio, accuracy] of [['mlp', 30, 0.4, 0.7], ['cnn', 5, 0.98, 0.1]] as const) {
      const cpu = await train(page, model, 'cpu', steps);
      const gpu = await train(page, model, 'webgpu', steps);
      expectLearned(gpu, ratio, accuracy);
      expect(gpu.losses.length).toBeGreaterThan(1);
      for (const [step, loss] of gpu.losses) expect(Math.abs(loss - cpu.losses[step - 1]![1]), `${model} loss at step ${step}`).toBeLessThan(1e-3 * (1 + loss));
      expect(Math.abs(gpu.accuracies.at(-1)![1] - cpu.accuracies.at(-1)![1])).toBeLessThanOrEqual(0.01);
      await expectPlot(page);
      await page.screenshot({ path: join(out, `webgpu-${model}.png`), fullPage: true });
    }
    expect(errors).toEqual([]);
  }, 600_000);
});
