import { ValueError } from '@tapegrad/tensor';

/** The device `TAPEGRAD_DEVICE` asks for (undefined when unset); any other value is an error. */
export function deviceFromEnv(): 'cpu' | 'webgpu' | undefined {
  const requested = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.TAPEGRAD_DEVICE;
  if (requested === undefined || requested === 'cpu' || requested === 'webgpu') return requested;
  throw new ValueError(`tapegrad: TAPEGRAD_DEVICE must be 'cpu' or 'webgpu'; got '${requested}'`);
}
