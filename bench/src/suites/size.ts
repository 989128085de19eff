// What tapegrad costs to download: each published package as `pnpm pack` makes it, and a browser
// bundle that trains an MLP (src/bundles/), beside TensorFlow.js and jax-js doing the same.
// Bundles are made by esbuild for the browser, minified, as ES modules split the way a page loads
// them: "first load" is the entry and the chunks it imports statically; a chunk behind a dynamic
// import (tapegrad's WebGPU backend, jax-js's WebGPU and WebGL ones) counts in "all chunks" only.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { defineSuite, type Table } from '../harness.js';

const PACKAGES = ['tensor', 'autograd', 'backend-cpu', 'backend-webgpu', 'nn', 'data', 'tapegrad'];
const BUNDLES: [string, string][] = [
  ['tapegrad (tg.nn, tg.optim)', 'tapegrad-mlp.js'],
  ['tapegrad (tapegrad/nn, /nn/functional, /optim)', 'tapegrad-mlp-subpaths.js'],
  ['@tensorflow/tfjs 4.22', 'tfjs-mlp.js'],
  ['@tensorflow/tfjs-core + tfjs-backend-cpu 4.22', 'tfjs-core-mlp.js'],
  ['@jax-js/jax 0.1.25', 'jax-mlp.js'],
];
const root = fileURLToPath(new URL('../../../', import.meta.url));
const kB = (n: number) => (n / 1000).toFixed(1);
const gz = (b: Uint8Array | string) => gzipSync(b, { level: 9 }).length;

// pnpm as `pnpm bench` was started with, else the version the README names
function pnpm(args: string[], cwd: string): void {
  const exec = process.env.npm_execpath;
  if (exec?.includes('pnpm')) execFileSync(process.execPath, [exec, ...args], { cwd, stdio: 'ignore' });
  else execFileSync('npx', ['--yes', 'pnpm@9.15.9', ...args], { cwd, stdio: 'ignore' });
}

// A tar stream's file sizes: 512-byte headers, the size in octal at offset 124.
function unpackedBytes(tgz: string): number {
  const tar = gunzipSync(readFileSync(tgz));
  let total = 0;
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
    const size = parseInt(tar.subarray(at + 124, at + 136).toString().trim(), 8);
    total += size;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return total;
}

async function bundle(entry: string, outdir: string): Promise<{ first: number; all: number; firstMin: number; chunks: number }> {
  mkdirSync(outdir);
  const out = await build({
    absWorkingDir: outdir, // the metafile's paths are relative to it
    entryPoints: [fileURLToPath(new URL(`../bundles/${entry}`, import.meta.url))],
    bundle: true, platform: 'browser', format: 'esm', splitting: true, minify: true, metafile: true, outdir, logLevel: 'error',
  });
  const outputs = out.metafile.outputs;
  const first = new Set<string>();
  const load = (file: string): void => {
    if (first.has(file)) return;
    first.add(file);
    for (const i of outputs[file]!.imports) if (i.kind === 'import-statement' && outputs[i.path]) load(i.path);
  };
  const js = Object.keys(outputs).filter((f) => f.endsWith('.js'));
  load(js.find((f) => outputs[f]!.entryPoint)!);
  const size = (files: string[], f: (b: Buffer) => number) => files.reduce((n, file) => n + f(readFileSync(join(outdir, file))), 0);
  return { first: size([...first], gz), all: size(js, gz), firstMin: size([...first], (b) => b.length), chunks: js.length };
}

export default defineSuite({
  name: 'size',
  async run() {
    const tmp = mkdtempSync(join(tmpdir(), 'tapegrad-size-'));
    try {
      const packs: Table = {
        title: 'Published packages (pnpm pack; its prepack builds each from scratch)',
        columns: ['package', 'tarball kB', 'unpacked kB', 'files'],
        rows: [],
      };
      for (const p of PACKAGES) pnpm(['pack', '--pack-destination', tmp], join(root, 'packages', p));
      let tarTotal = 0, unpackedTotal = 0;
      for (const f of readdirSync(tmp).filter((f) => f.endsWith('.tgz')).sort()) {
        const tgz = join(tmp, f);
        const files = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).trim().split('\n').length;
        const [tar, unpacked] = [statSync(tgz).size, unpackedBytes(tgz)];
        tarTotal += tar;
        unpackedTotal += unpacked;
        packs.rows.push([f.replace(/-\d+\.\d+\.\d+\.tgz$/, ''), kB(tar), kB(unpacked), files]);
      }
      packs.rows.push(['all seven', kB(tarTotal), kB(unpackedTotal), undefined]);

      const bundles: Table = {
        title: 'A browser bundle that trains a 2-16-1 MLP with Adam (esbuild, minified, split; gzip -9)',
        columns: ['library', 'first load, gzip kB', 'first load, minified kB', 'all chunks, gzip kB', 'chunks'],
        rows: [],
        notes: [
          "first load: the entry and its static imports, what a page that trains on the CPU downloads; all chunks adds what",
          'loads on demand (tapegrad: the WebGPU backend, at initWebGPU()). Entries: bench/src/bundles/.',
          "esbuild keeps all of a namespace reached through another (tg.nn.Linear): tapegrad's subpath entries let it keep only what the page uses.",
        ],
      };
      for (const [name, entry] of BUNDLES) {
        const b = await bundle(entry, join(tmp, entry));
        bundles.rows.push([name, kB(b.first), kB(b.firstMin), kB(b.all), b.chunks]);
      }
      return [packs, bundles];
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  },
});
