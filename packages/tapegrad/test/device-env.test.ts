import { expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// TAPEGRAD_DEVICE is read when Node imports 'tapegrad' (its `node` entry, src/node.ts), so each
// case runs in a fresh process. `require` gets src/node-require.ts, which cannot wait for WebGPU.
const pkg = fileURLToPath(new URL('..', import.meta.url));
function runWith(device: string, how: 'import' | 'require' = 'import'): string {
  const script = how === 'import'
    ? "import * as tg from 'tapegrad'; const t = tg.tensor([1, 2]).exp(); console.log(t.device, (await t.data())[1].toFixed(4));"
    : "const tg = require('tapegrad'); const t = tg.tensor([1, 2]).exp(); console.log(t.device, t.dataSync()[1].toFixed(4));";
  return execFileSync(process.execPath, ['--conditions=@tapegrad/source', '--import', 'tsx', `--input-type=${how === 'import' ? 'module' : 'commonjs'}`, '-e', script], {
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
it('require: TAPEGRAD_DEVICE=cpu works, and webgpu is refused with what to do instead (require cannot wait for it)', () => {
  expect(runWith('cpu', 'require')).toBe('cpu 7.3891');
  expect(() => runWith('tpu', 'require')).toThrow(/TAPEGRAD_DEVICE must be 'cpu' or 'webgpu'; got 'tpu'/);
  expect(() => runWith('webgpu', 'require')).toThrow(/TAPEGRAD_DEVICE=webgpu needs an asynchronous set-up that require\('tapegrad'\) cannot wait for; use import \(ESM\)/);
});
