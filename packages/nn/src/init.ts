import { ValueError, defaultGenerator, fmt, rand, randn, tidy, type Generator, type Tensor } from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';

// In-place initialisers, as torch.nn.init (whose names end in `_`): each fills `t` under
// noGrad and returns it. Random ones draw from `generator` (default: the global one, seeded
// with manualSeed), so a seeded run builds the same model every time.

export interface RandomInitOptions {
  generator?: Generator;
}
export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu' | 'selu';
export type FanMode = 'fanIn' | 'fanOut';

function fill(t: Tensor, make: () => Tensor): Tensor {
  noGrad(() => tidy(() => void t.copy_(make())));
  return t;
}
function randomOpts(t: Tensor, o: RandomInitOptions) {
  return { generator: o.generator ?? defaultGenerator, dtype: t.dtype, device: t.device };
}

/** Fan-in and fan-out of a weight: [out, in, ...kernel] gives in·k and out·k (k = kernel size). */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new ValueError(`init: fan in and fan out cannot be computed for a tensor with fewer than 2 dims; got shape ${fmt(t.shape)}`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leakyRelu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu': return 3 / 4;
    default: throw new ValueError(`calculateGain: unknown nonlinearity '${String(nonlinearity)}'`);
  }
}

export function uniform(t: Tensor, a = 0, b = 1, options: RandomInitOptions = {}): Tensor {
  if (!(b >= a)) throw new ValueError(`init.uniform: expected a <= b; got a=${a}, b=${b}`);
  return fill(t, () => rand(t.shape, randomOpts(t, options)).mul(b - a).add(a));
}
export function normal(t: Tensor, mean = 0, std = 1, options: RandomInitOptions = {}): Tensor {
  if (!(std >= 0)) throw new ValueError(`init.normal: std must be >= 0; got ${std}`);
  return fill(t, () => randn(t.shape, randomOpts(t, options)).mul(std).add(mean));
}
export function constant(t: Tensor, value: number): Tensor {
  noGrad(() => t.fill_(value));
  return t;
}
export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}
export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

export interface KaimingOptions extends RandomInitOptions {
  /** The negative slope of the leaky ReLU that follows (used when nonlinearity is 'leakyRelu'). */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}
function kaimingStd(t: Tensor, { a = 0, mode = 'fanIn', nonlinearity = 'leakyRelu' }: KaimingOptions): number {
  if (mode !== 'fanIn' && mode !== 'fanOut') throw new ValueError(`init.kaiming: mode must be 'fanIn' or 'fanOut'; got ${String(mode)}`);
  const fan = calculateFanInAndFanOut(t)[mode];
  return calculateGain(nonlinearity, a) / Math.sqrt(fan);
}
/** U(−bound, bound) with bound = gain·√(3 / fan) (He et al.; torch's kaiming_uniform_). */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, options);
  return uniform(t, -bound, bound, options);
}
/** N(0, std²) with std = gain / √fan (torch's kaiming_normal_). */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd(t, options), options);
}

export interface XavierOptions extends RandomInitOptions {
  gain?: number;
}
/** U(−a, a) with a = gain·√(6 / (fanIn + fanOut)) (Glorot & Bengio; torch's xavier_uniform_). */
export function xavierUniform(t: Tensor, options: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const a = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -a, a, options);
}
/** N(0, std²) with std = gain·√(2 / (fanIn + fanOut)) (torch's xavier_normal_). */
export function xavierNormal(t: Tensor, options: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return normal(t, 0, (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), options);
}
