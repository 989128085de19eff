// src/wasm/kernels.generated.ts is assembled from wasm/*.wat and not committed: install
// (prepare), build and turbo's test tasks regenerate it, but a script that runs an example from
// source with plain node does not. After a pull that changed a .wat, `pnpm mnist` ran the new
// TypeScript against the old modules and trained on a loss of -Infinity. The root scripts that
// start an example now bring the modules up to date first.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

it('every root script that starts an example from source first brings the WebAssembly modules up to date', () => {
  const root = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
  const starts = Object.entries(root.scripts).filter(([, cmd]) => / start\b/.test(cmd));
  expect(starts.map(([name]) => name).sort()).toEqual(['example', 'example:browser', 'example:charlm', 'example:custom-op', 'mnist']);
  for (const [name, cmd] of starts) expect(cmd, name).toMatch(/^node packages\/backend-cpu\/scripts\/build-wasm\.mjs && /);
});
