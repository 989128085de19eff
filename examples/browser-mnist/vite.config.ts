import { defaultClientConditions, defineConfig } from 'vite';
import { mnistAssets } from './mnist-assets.ts';

// Cross-origin isolation (these two headers) gives the page SharedArrayBuffer, and with it the
// CPU backend's worker threads; without them tapegrad runs on one thread. `vite` and
// `vite preview` send them; see README.md for other servers.
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  // relative asset URLs: the built page works from any path (the browser test serves it twice)
  base: './',
  // the workspace packages' TypeScript sources, as everywhere in this repository
  resolve: { conditions: ['@tapegrad/source', ...defaultClientConditions] },
  server: { headers: isolation },
  preview: { headers: isolation },
  plugins: [mnistAssets()],
});
