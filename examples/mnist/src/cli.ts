import { parseArgs } from 'node:util';
import type { ModelName } from './models.js';

export interface Options {
  model: ModelName;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: 'sgd' | 'adam';
  device: 'cpu' | 'webgpu';
  seed: number;
  out: string;
  eval?: string;
  /** Train on the first N training images only (for quick runs). */
  limit?: number;
  /** Compile the training step (trace once, replay). */
  compile: boolean;
  /** Mixed precision: the forward under autocast, the loss scaled by a GradScaler. */
  amp: boolean;
  help: boolean;
}

export const DEFAULT_LR = { sgd: 0.1, adam: 0.002 } as const;

export const HELP = `Train a classifier on MNIST with tapegrad and report its test accuracy.

Usage: pnpm mnist [options]

Options:
  --model mlp|cnn        mlp: 784-128-10; cnn: two 3x3 conv layers with pooling and a linear head (default mlp)
  --epochs N             passes over the 60,000 training images (default 3)
  --batch-size N         images per step (default 64)
  --lr X                 peak learning rate of the one-cycle schedule (default ${DEFAULT_LR.adam} for adam, ${DEFAULT_LR.sgd} for sgd)
  --optimizer sgd|adam   SGD with momentum 0.9, or Adam (default adam)
  --device cpu|webgpu    where to train (default cpu, or webgpu with TAPEGRAD_DEVICE=webgpu)
  --seed N               seeds initialisation, shuffling and dropout (default 0)
  --out DIR              where to write model.safetensors, metrics.json and plot.svg (default out)
  --eval CHECKPOINT      evaluate a saved model.safetensors on the test set instead of training
  --limit N              train on the first N training images only
  --compile              compile the training step: traced on its first calls, then replayed
  --amp                  mixed precision: the forward under autocast (float16 on webgpu, bfloat16 on
                         cpu, where half is storage only: slower, not faster) and a GradScaler
  --help                 show this help
`;

/** A bad command line: main prints the message and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

function choice<T extends string>(flag: string, v: string | undefined, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}; got '${v}'`);
  return v as T;
}
function integer(flag: string, v: string | undefined, dflt: number | undefined, min: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min}; got '${v}'`);
  return n;
}

/** `defaultDevice`: the device without --device (tapegrad's default, which TAPEGRAD_DEVICE sets). */
export function parseOptions(argv: string[], defaultDevice: Options['device'] = 'cpu'): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string' }, epochs: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' },
        optimizer: { type: 'string' }, device: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
        eval: { type: 'string' }, limit: { type: 'string' }, compile: { type: 'boolean' }, amp: { type: 'boolean' }, help: { type: 'boolean' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const s = (k: string) => values[k] as string | undefined;
  const optimizer = choice('optimizer', s('optimizer'), ['sgd', 'adam'] as const, 'adam');
  let lr: number = DEFAULT_LR[optimizer];
  if (s('lr') !== undefined) {
    lr = Number(s('lr'));
    if (!(Number.isFinite(lr) && lr > 0) || s('lr')!.trim() === '') throw new UsageError(`--lr must be a positive number; got '${s('lr')}'`);
  }
  const out = s('out') ?? 'out';
  if (out === '') throw new UsageError('--out must name a folder');
  return {
    model: choice('model', s('model'), ['mlp', 'cnn'] as const, 'mlp'),
    epochs: integer('epochs', s('epochs'), 3, 1)!,
    batchSize: integer('batch-size', s('batch-size'), 64, 1)!,
    lr,
    optimizer,
    device: choice('device', s('device'), ['cpu', 'webgpu'] as const, defaultDevice),
    seed: integer('seed', s('seed'), 0, 0)!,
    out,
    eval: s('eval'),
    limit: integer('limit', s('limit'), undefined, 1),
    compile: values.compile === true,
    amp: values.amp === true,
    help: values.help === true,
  };
}
