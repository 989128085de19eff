import { expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// TAPEGRAD_POISON is read when the tensor core loads, so each case runs in a fresh process: a
// tensor is disposed and its storage read through the typed array that outlived it.
const pkg = fileURLToPath(new URL('..', import.meta.url));
function runWith(value: string | undefined): string {
  const script = `import * as tg from 'tapegrad';
    const read = (dtype) => { const t = tg.arange(0, 300, 1, { dtype }); const stale = t.kernelView().handle; t.dispose(); return stale[7]; };
    console.log(tg.poisonMode(), read('float32'), read('int32'));`;
  const env = { ...process.env, TAPEGRAD_POISON: value };
  if (value === undefined) delete env.TAPEGRAD_POISON;
  return execFileSync(process.execPath, ['--conditions=@tapegrad/source', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: pkg,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

it('TAPEGRAD_POISON=1 turns poison mode on: freed storage reads NaN, or the int32 sentinel', () => {
  expect(runWith('1')).toBe('true NaN 2147475117');
});
it('without TAPEGRAD_POISON, or with 0, freed storage keeps its values', () => {
  expect(runWith(undefined)).toBe('false 7 7');
  expect(runWith('0')).toBe('false 7 7');
});
it('TAPEGRAD_POISON with another value fails at import, naming the value', () => {
  expect(() => runWith('yes')).toThrow(/TAPEGRAD_POISON must be '1' \(poison mode on\) or '0' \(off\); got 'yes'/);
});
