// `pnpm bench [-- [--quick] [suite names...]]`: runs every suite in src/suites/ (or the named
// ones) and prints markdown tables. tapegrad, TensorFlow.js and PyTorch are measured in the same
// run, because the machine is shared and only ratios taken together mean much.
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { copyBandwidth, epoch, fmt, printTable, time, torch, type Context, type Suite, type TfjsHandle } from './harness.js';

// Node 20 ships relaxed SIMD behind a flag (on by default from Node 22): turn it on before any
// WebAssembly compiles, so tapegrad measures its best kernel. The library itself only feature-tests.
if (Number(process.versions.node.split('.')[0]) < 22) setFlagsFromString('--experimental-wasm-relaxed-simd');

const args = process.argv.slice(2).filter((a) => a !== '--');
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));

const { cpuKernelInfo, cpuWorkersReady } = await import('@tapegrad/backend-cpu');
await cpuWorkersReady();

let tfjsLoaded: Promise<typeof import('@tensorflow/tfjs-core')> | undefined;
const tfjsInfo = new Map<string, string>();
async function tfjs(backend: 'cpu' | 'wasm'): Promise<TfjsHandle> {
  tfjsLoaded ??= (async () => {
    const tf = await import('@tensorflow/tfjs-core');
    // the umbrella's Node bundle registers the gradients (tfjs-core's own ESM build cannot load
    // under Node's resolver) and the cpu backend, on this same tfjs-core
    await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    return tf;
  })();
  const tf = await tfjsLoaded;
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs: backend '${backend}' failed to initialise`);
  await tf.ready();
  if (!tfjsInfo.has(backend)) {
    const env = tf.env();
    const simd = backend === 'wasm' && (await env.getAsync('WASM_HAS_SIMD_SUPPORT'));
    const threads = backend === 'wasm' && (await env.getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
    // tfjs-backend-wasm 4.22 turns threads off under Node (tfjs issue 3830), so it runs 1 thread here
    tfjsInfo.set(backend, backend === 'cpu' ? 'cpu (plain JS)' : `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'threads' : '1 thread'})`);
  }
  return { tf, description: tfjsInfo.get(backend)! };
}

const ctx: Context = { bandwidth: await copyBandwidth(), quick, time, epoch, torch, tfjs };

const info = cpuKernelInfo();
console.log(`# tapegrad benchmarks ${new Date().toISOString()}`);
console.log(`\n${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.versions.node}`);
console.log(`tapegrad CPU kernels: ${info.simd === 'off' ? 'TypeScript' : `WebAssembly ${info.simd === 'relaxed' ? 'relaxed SIMD' : 'SIMD128'}`}, ${info.threads} thread(s)`);
console.log(`copy bandwidth (TypedArray.set, 64 MB, read+write): ${fmt(ctx.bandwidth)} GB/s`);

const dir = new URL('./suites/', import.meta.url);
const files = readdirSync(dir).filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.endsWith('.d.ts')).sort();
let failed = 0;
for (const file of files) {
  const suite = (await import(new URL(file, dir).href)).default as Suite;
  if (!suite?.run) throw new Error(`bench: src/suites/${file} has no default export made with defineSuite()`);
  if (only.length && !only.includes(suite.name)) continue;
  console.log(`\n## ${suite.name}`);
  try {
    for (const t of await suite.run(ctx)) printTable(t);
  } catch (e) {
    failed++;
    console.error(`suite ${suite.name} failed:`, e);
  }
}
if (tfjsInfo.size) console.log(`\nTensorFlow.js 4.22: ${[...tfjsInfo.values()].join('; ')}`);
process.exitCode = failed ? 1 : 0;
