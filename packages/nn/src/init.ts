import { ValueError, defaultGenerator, fmt, rand, randn, tidy, type Generator, type Tensor } from '@tapegrad/tensor';
import { noGrad } from '@tapegrad/autograd';

// In-place initialisers, as torch.nn.init (whose names end in `_`): each fills `t` under
// noGrad and returns it. Random ones draw from `generator` (default: the global one, seeded
// with manualSeed), so a seeded run builds the same model every time.

/** Options of the random initialisers. */
export interface RandomInitOptions {
  /** The generator to draw from (default: the global one, which manualSeed seeds). */
  generator?: Generator;
}
/** The nonlinearities {@link calculateGain} knows, torch's names in camelCase. */
export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu' | 'selu';
/** Which fan a Kaiming initialiser scales by: 'fanIn' keeps the forward pass's variance, 'fanOut' the backward's. */
export type FanMode = 'fanIn' | 'fanOut';

function fill(t: Tensor, make: () => Tensor): Tensor {
  noGrad(() => tidy(() => void t.copy_(make())));
  return t;
}
function randomOpts(t: Tensor, o: RandomInitOptions) {
  return { generator: o.generator ?? defaultGenerator, dtype: t.dtype, device: t.device };
}

/**
 * Fan-in and fan-out of a weight: [out, in, ...kernel] gives in·k and out·k (k = kernel size), as
 * torch's _calculate_fan_in_and_fan_out. Fewer than 2 dims throws a ValueError.
 */
export function calculateFanInAndFanOut(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.ndim < 2) throw new ValueError(`init: fan in and fan out cannot be computed for a tensor with fewer than 2 dims; got shape ${fmt(t.shape)}`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/**
 * The recommended gain for a nonlinearity (torch.nn.init.calculate_gain): 1 for linear, conv and
 * sigmoid, 5/3 for tanh, √2 for relu, √(2 / (1 + slope²)) for leakyRelu (`param` the slope,
 * default 0.01), 3/4 for selu. An unknown name throws a ValueError.
 */
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

/** Fill `t` in place from U(a, b) (torch.nn.init.uniform_); a > b throws a ValueError. */
export function uniform(t: Tensor, a = 0, b = 1, options: RandomInitOptions = {}): Tensor {
  if (!(b >= a)) throw new ValueError(`init.uniform: expected a <= b; got a=${a}, b=${b}`);
  return fill(t, () => rand(t.shape, randomOpts(t, options)).mul(b - a).add(a));
}
/** Fill `t` in place from N(mean, std²) (torch.nn.init.normal_); std < 0 throws a ValueError. */
export function normal(t: Tensor, mean = 0, std = 1, options: RandomInitOptions = {}): Tensor {
  if (!(std >= 0)) throw new ValueError(`init.normal: std must be >= 0; got ${std}`);
  return fill(t, () => randn(t.shape, randomOpts(t, options)).mul(std).add(mean));
}
/** Fill `t` in place with `value` (torch.nn.init.constant_). */
export function constant(t: Tensor, value: number): Tensor {
  noGrad(() => t.fill_(value));
  return t;
}
/** Fill `t` in place with 0 (torch.nn.init.zeros_). */
export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}
/** Fill `t` in place with 1 (torch.nn.init.ones_). */
export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

/** Options of {@link kaimingUniform} and {@link kaimingNormal}. */
export interface KaimingOptions extends RandomInitOptions {
  /** The negative slope of the leaky ReLU that follows (used when nonlinearity is 'leakyRelu'). */
  a?: number;
  /** Default 'fanIn'. */
  mode?: FanMode;
  /** Default 'leakyRelu' (with `a` = 0 that is ReLU's gain √2), as PyTorch. */
  nonlinearity?: Nonlinearity;
}
function kaimingStd(t: Tensor, { a = 0, mode = 'fanIn', nonlinearity = 'leakyRelu' }: KaimingOptions): number {
  if (mode !== 'fanIn' && mode !== 'fanOut') throw new ValueError(`init.kaiming: mode must be 'fanIn' or 'fanOut'; got ${String(mode)}`);
  const fan = calculateFanInAndFanOut(t)[mode];
  return calculateGain(nonlinearity, a) / Math.sqrt(fan);
}
/**
 * Fill `t` in place from U(−bound, bound) with bound = gain·√(3 / fan) (He et al.; torch's
 * kaiming_uniform_); gain and fan come from `options` (default: ReLU's gain, fan-in).
 */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, options);
  return uniform(t, -bound, bound, options);
}
/** Fill `t` in place from N(0, std²) with std = gain / √fan (torch's kaiming_normal_); see {@link kaimingUniform}. */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd(t, options), options);
}

/** Options of {@link xavierUniform} and {@link xavierNormal}. */
export interface XavierOptions extends RandomInitOptions {
  /** Scale factor (default 1); see {@link calculateGain}. */
  gain?: number;
}
/** Fill `t` in place from U(−a, a) with a = gain·√(6 / (fanIn + fanOut)) (Glorot & Bengio; torch's xavier_uniform_). */
export function xavierUniform(t: Tensor, options: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const a = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -a, a, options);
}
/** Fill `t` in place from N(0, std²) with std = gain·√(2 / (fanIn + fanOut)) (torch's xavier_normal_). */
export function xavierNormal(t: Tensor, options: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return normal(t, 0, (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), options);
}
