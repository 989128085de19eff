import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through this export condition, so
// tests and examples never run against a stale build.
const conditions = ['@tapegrad/source', 'import', 'module', 'node', 'default'];
const settle = fileURLToPath(new URL('./vitest.settle.ts', import.meta.url));
const base = defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@tapegrad/source'] } },
  // 120 s: a timeout here catches a hang, not slowness. On a 2-core CI machine under load single
  // tests of child processes, tsc runs or float64 gradchecks took 50-74 s (one failed at 60 s).
  test: { testTimeout: 120_000, pool: 'threads' },
});
/** One run of each test file, as Node gives it: for tests whose subject is not the CPU backend's memory (WebGPU, child processes, the packed tarballs). */
export const nodeOnly = mergeConfig(base, defineConfig({ test: { setupFiles: [settle] } }));

// Every test file runs twice: as Node gives it, and without SharedArrayBuffer, as a web page
// without cross-origin isolation gives it (the CPU backend then has no shared memory and no
// worker threads). `vitest run --project node` runs the first only.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      projects: [
        { extends: true, test: { name: 'node', setupFiles: [settle] } },
        {
          extends: true,
          test: {
            name: 'no-sab',
            setupFiles: [fileURLToPath(new URL('./vitest.no-shared-memory.ts', import.meta.url)), settle],
            // files whose every test runs in a child process (which has SharedArrayBuffer) or only
            // reads the sources (TypeDoc): the first project runs them
            exclude: [...configDefaults.exclude, '**/api-docs.test.ts', '**/device-env.test.ts', '**/poison-env.test.ts', '**/memory.test.ts'],
          },
        },
      ],
    },
  }),
);
