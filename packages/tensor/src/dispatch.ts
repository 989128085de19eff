import { getBackend } from './backend.js';
import { DeviceError, TapegradError } from './errors.js';
import { getKernel, getOp } from './registry.js';
import { autogradHooks, Storage, Tensor } from './tensor.js';
import { contiguousStrides, numel } from './shape.js';

/**
 * The one path every op takes: validate and infer (or compute the view), check devices, pick
 * the kernel of the inputs' backend, allocate the outputs, run, and let autograd record.
 */
export function dispatch(name: string, inputs: readonly Tensor[], attrs: unknown = {}): Tensor[] {
  const op = getOp(name);
  for (const t of inputs) t.assertLive(name);
  const device = inputs[0]?.device;
  for (const t of inputs) {
    if (t.device !== device) {
      throw new DeviceError(`${name}: expected all inputs on one device, but got inputs on '${device}' and '${t.device}'`);
    }
  }
  let outputs: Tensor[];
  if (op.view) {
    const input = inputs[0]!;
    const v = op.view(input, attrs);
    outputs = [new Tensor(input.storage.retain(), v.shape, v.strides, v.offset, input.dtype)];
  } else {
    const specs = op.infer!(inputs, attrs);
    if (device === undefined) throw new TapegradError(`${name}: an op needs at least one tensor input`);
    const backend = getBackend(device);
    const kernel = getKernel(name, device);
    // a kernel that writes all of its outputs gets them unfilled: zero-filling costs a pass over memory
    const zero = !backend.fillsOutputs?.(kernel);
    outputs = specs.map((s) => new Tensor(Storage.alloc(device, s.dtype, numel(s.shape), zero), s.shape, contiguousStrides(s.shape), 0, s.dtype));
    try {
      backend.run(kernel, inputs.map((t) => t.kernelView()), outputs.map((t) => t.kernelView()), attrs, name);
    } catch (e) {
      for (const o of outputs) o.dispose();
      throw e;
    }
  }
  const hooks = autogradHooks();
  if (hooks && op.differentiable !== false && hooks.isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    hooks.record(name, inputs, outputs, attrs);
  }
  return outputs;
}

/** dispatch for single-output ops. */
export function run(name: string, inputs: readonly Tensor[], attrs: unknown = {}): Tensor {
  return dispatch(name, inputs, attrs)[0]!;
}
