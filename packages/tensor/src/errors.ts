/**
 * Every error tapegrad throws is a TapegradError. Messages name the op, the argument, the
 * shapes and what was expected, e.g. `add: shapes [2,3] and [4] cannot be broadcast`.
 */
export class TapegradError extends Error {
  override name = 'TapegradError';
}
/** Shapes that do not fit together: broadcasting, matmul, reshape, cat. */
export class ShapeError extends TapegradError {
  override name = 'ShapeError';
}
/** A dtype the op does not accept. */
export class DTypeError extends TapegradError {
  override name = 'DTypeError';
}
/** Inputs on different devices, or an op or read the device cannot do. */
export class DeviceError extends TapegradError {
  override name = 'DeviceError';
}
/** An index or dim out of range. */
export class IndexError extends TapegradError {
  override name = 'IndexError';
}
/** Any other bad argument value. */
export class ValueError extends TapegradError {
  override name = 'ValueError';
}
