import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tg from 'tapegrad';
import { HELP, UsageError, parseOptions, type Options } from './cli.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { loadCorpus } from './corpus.js';
import { countParameters } from './models.js';
import { plotSvg } from './plot.js';
import { Progress, formatSeconds } from './progress.js';
import { sample } from './sample.js';
import { train } from './train.js';

const bits = (nats: number) => (nats / Math.LN2).toFixed(2);

async function printSample(model: Parameters<typeof sample>[0], vocab: Parameters<typeof sample>[1], o: Options): Promise<void> {
  const text = await sample(model, vocab, { prompt: o.prompt, length: o.length, temperature: o.temperature, topK: o.topK, seed: o.seed });
  console.log(`\nsample (temperature ${o.temperature}${o.topK ? `, top-k ${o.topK}` : ''}, seed ${o.seed}):\n${o.prompt}${text}`);
}

async function main(argv: string[]): Promise<number> {
  let o: Options;
  try {
    // TAPEGRAD_DEVICE=webgpu has made WebGPU the default device (tapegrad's Node entry)
    o = parseOptions(argv, tg.getDefaultDevice() === 'webgpu' ? 'webgpu' : 'cpu');
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`charlm: ${e.message}\nRun with --help to see the options.\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (o.device === 'webgpu') await tg.initWebGPU();

  if (o.sample) {
    const { model, vocab, metadata } = await loadCheckpoint(o.sample, o.device);
    console.log(`${o.sample}: ${model.config.model}, ${countParameters(model).toLocaleString('en-US')} parameters, validation loss ${metadata.valLoss ?? '?'} nats/char`);
    await printSample(model, vocab, o);
    return 0;
  }

  const corpus = loadCorpus({ trainChars: o.trainChars });
  const config = { model: o.model, context: o.context, dim: o.dim, layers: o.layers, heads: o.heads };
  console.log(
    `tapegrad charlm: ${o.model} (dim ${o.dim}, ${o.layers} layer(s)${o.model === 'transformer' ? `, ${o.heads} heads` : ''}), ` +
      `Brown corpus: ${corpus.train.length.toLocaleString('en-US')} training and ${corpus.val.length.toLocaleString('en-US')} validation characters, ${corpus.vocab.size} distinct`,
  );
  console.log(`AdamW (peak lr ${o.lr}, weight decay ${o.weightDecay}), ${o.warmup} warm-up steps then cosine, clip ${o.clip}; ${o.steps} steps of ${o.batchSize} x ${o.context} characters on ${o.device}, seed ${o.seed}`);
  const bar = new Progress(process.stdout);
  const result = await train({
    config, corpus, steps: o.steps, batchSize: o.batchSize, lr: o.lr, warmup: o.warmup, weightDecay: o.weightDecay, clip: o.clip,
    seed: o.seed, device: o.device, evalEvery: o.evalEvery,
    onStep: (s) => bar.update(s.step, s.steps, s.loss, s.tokensPerSecond, s.etaSeconds),
    onEval: (e) => bar.log(`step ${e.step}: validation loss ${e.valLoss.toFixed(3)}`),
  });
  bar.finish();
  const { model, history, valLoss, baseline } = result;

  await mkdir(o.out, { recursive: true });
  const checkpoint = join(o.out, 'model.safetensors');
  await saveCheckpoint(checkpoint, model, corpus.vocab, { valLoss: valLoss.toFixed(4), baseline: baseline.toFixed(4) });
  const title = `${o.model}, ${o.steps} steps: validation ${valLoss.toFixed(3)} vs unigram ${baseline.toFixed(3)} nats/char`;
  await writeFile(join(o.out, 'loss.svg'), plotSvg(history, baseline, title));
  await writeFile(join(o.out, 'metrics.json'), JSON.stringify({ options: o, parameters: countParameters(model), valLoss, baseline, trainSeconds: result.trainSeconds, tokensPerSecond: result.tokensPerSecond, ...history }, null, 1));
  console.log(`unigram baseline:  ${baseline.toFixed(3)} nats/char (${bits(baseline)} bits)`);
  console.log(`validation loss:   ${valLoss.toFixed(3)} nats/char (${bits(valLoss)} bits), ${countParameters(model).toLocaleString('en-US')} parameters`);
  console.log(`trained in ${formatSeconds(result.trainSeconds)}, ${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tokens/s; wrote ${checkpoint}, ${join(o.out, 'loss.svg')}, ${join(o.out, 'metrics.json')}`);
  await printSample(model, corpus.vocab, o);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`charlm: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
