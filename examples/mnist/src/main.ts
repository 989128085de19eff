import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tg from 'tapegrad';
import { HELP, UsageError, parseOptions, type Options } from './cli.js';
import { makeModel } from './models.js';
import { plotSvg } from './plot.js';
import { Progress, formatSeconds } from './progress.js';
import { evaluate, train, type Split } from './train.js';

// The splits stay on the CPU (named: the default device may be webgpu) and train/evaluate move
// each batch to the model's device, as a PyTorch loop does: the 60,000 training images (188 MB of
// float32) are more than one WebGPU binding holds on many adapters (lavapipe: 128 MiB), and on
// lavapipe moving each batch cost no more than gathering it on the device (docs/performance.md).
async function loadSplit(split: 'train' | 'test', limit?: number): Promise<Split> {
  return tg.data.loadMnist({ split, normalize: true, limit, device: 'cpu' });
}

async function selectDevice(device: Options['device']): Promise<void> {
  if (device === 'webgpu') await tg.initWebGPU();
}

async function main(argv: string[]): Promise<number> {
  let o: Options;
  try {
    // TAPEGRAD_DEVICE=webgpu has made WebGPU the default device (tapegrad's Node entry)
    o = parseOptions(argv, tg.getDefaultDevice() === 'webgpu' ? 'webgpu' : 'cpu');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`mnist: ${e.message}\nRun with --help to see the options.\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(HELP);
    return 0;
  }
  await selectDevice(o.device);
  const test = await loadSplit('test');

  if (o.eval) {
    const model = makeModel(o.model).to(o.device);
    const state = await tg.load(o.eval);
    model.loadStateDict(state);
    const acc = await evaluate(model, test);
    console.log(`${o.eval}: test accuracy ${(acc * 100).toFixed(2)}% (${o.model}, 10,000 test images)`);
    return 0;
  }

  const trainSplit = await loadSplit('train', o.limit);
  const n = trainSplit.images.shape[0]!;
  console.log(`tapegrad MNIST: ${o.model}, ${o.optimizer} (one-cycle, peak lr ${o.lr}), batch ${o.batchSize}, ${o.epochs} epoch(s) of ${n.toLocaleString('en-US')} images on ${o.device}, seed ${o.seed}${o.amp ? `, amp (autocast ${o.device === 'webgpu' ? 'float16' : 'bfloat16'} + GradScaler)` : ''}`);
  const t0 = performance.now();
  let bar: Progress | undefined;
  const { model, history, compiled, scale } = await train({
    ...o,
    train: trainSplit,
    test,
    onStep: (s) => {
      bar ??= new Progress(process.stdout, `epoch ${s.epoch}/${o.epochs}`);
      bar.update(s.step, s.steps, s.loss, s.samplesPerSecond, s.etaSeconds);
    },
    onEpoch: (e) => {
      bar?.finish();
      bar = undefined;
      console.log(`epoch ${e.epoch}/${o.epochs}: train loss ${e.trainLoss.toFixed(4)}, test accuracy ${(e.testAccuracy * 100).toFixed(2)}% (${formatSeconds(e.seconds)})`);
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  if (compiled) {
    const g = compiled.graphs[0];
    console.log(
      `compiled step: ${compiled.replays} of ${compiled.calls} steps replayed (${compiled.traces} traced, ${compiled.eagerCalls} eager)` +
        (g ? `; ${g.kernels} kernels a step (${g.fused.length} of them fused), where eager ran ${g.eagerKernels}, dispatched ${g.eagerDispatches - g.eagerKernels} views and host writes besides and made ${g.eagerTensors} tensors` : '') +
        (compiled.disabled ? `; ran eagerly because ${compiled.disabled}` : ''),
    );
  }
  if (scale !== undefined) console.log(`GradScaler: final scale ${scale}`);
  const last = history.epochs[history.epochs.length - 1]!;

  await mkdir(o.out, { recursive: true });
  const checkpoint = join(o.out, 'model.safetensors');
  await tg.save(model.stateDict(), checkpoint, { metadata: { model: o.model, testAccuracy: String(last.testAccuracy) } });
  const title = `${o.model}, ${o.optimizer}, batch ${o.batchSize}: ${(last.testAccuracy * 100).toFixed(2)}% after ${o.epochs} epoch(s), ${formatSeconds(seconds)}`;
  await writeFile(join(o.out, 'plot.svg'), plotSvg(history, title));
  await writeFile(join(o.out, 'metrics.json'), JSON.stringify({ options: o, seconds, ...history }, null, 1));
  console.log(`test accuracy ${(last.testAccuracy * 100).toFixed(2)}% in ${formatSeconds(seconds)}; wrote ${checkpoint}, ${join(o.out, 'plot.svg')}, ${join(o.out, 'metrics.json')}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`mnist: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
