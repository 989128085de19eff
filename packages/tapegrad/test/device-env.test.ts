import { expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// TAPEGRAD_DEVICE is read when 'tapegrad' is imported, so each case runs in a fresh process.
const pkg = fileURLToPath(new URL('..', import.meta.url));
function runWith(device: string): string {
  const script = "import * as tg from 'tapegrad'; const t = tg.tensor([1, 2]).exp(); console.log(t.device, (await t.data())[1].toFixed(4));";
  return execFileSync(process.execPath, ['--conditions=@tapegrad/source', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: pkg,
    env: { ...process.env, TAPEGRAD_DEVICE: device },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

it('TAPEGRAD_DEVICE=cpu keeps the CPU default', () => {
  expect(runWith('cpu')).toBe('cpu 7.3891');
});
it('TAPEGRAD_DEVICE with an unknown name fails at import, naming the value', () => {
  expect(() => runWith('tpu')).toThrow(/TAPEGRAD_DEVICE must be 'cpu' or 'webgpu'; got 'tpu'/);
});
it('TAPEGRAD_DEVICE=webgpu initialises WebGPU and makes it the default device', (ctx) => {
  let out: string;
  try {
    out = runWith('webgpu');
  } catch (e) {
    const message = String((e as { stderr?: string }).stderr ?? e);
    if (process.env.TAPEGRAD_REQUIRE_WEBGPU !== '1' && /no WebGPU adapter|adapter/i.test(message)) {
      return ctx.skip('no WebGPU adapter on this machine (see packages/backend-webgpu/README.md for the software adapter)');
    }
    throw e;
  }
  expect(out).toBe('webgpu 7.3891');
});
