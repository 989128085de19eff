import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources through this export condition, so
// tests and examples never run against a stale build.
const conditions = ['@tapegrad/source', 'import', 'module', 'node', 'default'];
export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@tapegrad/source'] } },
  test: { testTimeout: 60_000, pool: 'threads' },
});
