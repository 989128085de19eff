import { defineConfig } from 'vitest/config';

// Not the shared config's two projects: this test drives a browser, whose JavaScript world is
// the page's, not the test runner's (the page is served with and without cross-origin isolation).
export default defineConfig({ test: { testTimeout: 300_000, hookTimeout: 120_000 } });
