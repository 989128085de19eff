import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through this export condition, so
// tests and examples never run against a stale build.
const conditions = ['@tapegrad/source', 'import', 'module', 'node', 'default'];
export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@tapegrad/source'] } },
  test: {
    testTimeout: 60_000,
    pool: 'threads',
    // Every test file runs twice: as Node gives it, and without SharedArrayBuffer, as a web page
    // without cross-origin isolation gives it (the CPU backend then has no shared memory and no
    // worker threads). `vitest run --project node` runs the first only.
    projects: [
      { extends: true, test: { name: 'node' } },
      { extends: true, test: { name: 'no-sab', setupFiles: [fileURLToPath(new URL('./vitest.no-shared-memory.ts', import.meta.url))] } },
    ],
  },
});
