import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import '@tapegrad/backend-cpu';
import { tensor } from '@tapegrad/tensor';
import { FormatError, load, save } from '../src/index.js';

// save() replaces a checkpoint atomically (temporary file, fsync, rename): whatever happens
// mid-save, the target holds the previous checkpoint or the complete new one.

const pkg = fileURLToPath(new URL('..', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/save-child.ts', import.meta.url));
const node = [process.execPath, '--conditions=@tapegrad/source', '--import', 'tsx', child];
const folders: string[] = [];
const folder = () => folders[folders.push(mkdtempSync(join(tmpdir(), 'tapegrad-save-'))) - 1]!;
afterAll(() => folders.forEach((f) => rmSync(f, { recursive: true, force: true })));

describe('save replaces a checkpoint atomically', () => {
  it.skipIf(process.platform === 'win32')('a save whose write fails midway (file too large for ulimit -f, as on a full disk) leaves the old file byte-identical and no temporary file', async () => {
    const dir = folder();
    const path = join(dir, 'model.safetensors');
    await save({ w: tensor([1, 2, 3]) }, path);
    const old = readFileSync(path);
    // a 4 MB checkpoint where a file may grow to 256 KB: the write fails with EFBIG partway
    const r = spawnSync('bash', ['-c', 'ulimit -f 256 && exec "$@"', 'bash', ...node, 'once', path, String(2 ** 20)], { cwd: pkg, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`save: could not write '${path}' (EFBIG: file too large, write); the previous file, if any, is unchanged`);
    expect(readFileSync(path).equals(old)).toBe(true);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
  });

  it('a save whose rename fails (the target is a folder) removes its temporary file and names the path', async () => {
    const dir = folder();
    const path = join(dir, 'model.safetensors');
    mkdirSync(path);
    await expect(save({ w: tensor([1, 2, 3]) }, path)).rejects.toThrow(new RegExp(`^save: could not write '${path}' \\(E(ISDIR|EXIST|NOTEMPTY|PERM)`));
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect(readdirSync(path)).toEqual([]);
  });

  // (child processes, which have SharedArrayBuffer: once, not in the suite's no-sab project)
  it.skipIf(typeof SharedArrayBuffer === 'undefined')('a process killed (SIGKILL) mid-save never leaves a torn checkpoint: load reads the old or the new one whole', async () => {
    const dir = folder();
    const path = join(dir, 'model.safetensors');
    const n = 2 ** 22; // 16 MB, so that a save spends a while writing
    // Each child saves w[i] = i and w[i] = -i in turn; it is killed once the folder shows a save
    // in progress (a file beside the target, or the target not at its full size), then 0-5 ms on.
    for (const delay of [0, 2, 5]) {
      const p = spawn(node[0]!, [...node.slice(1), 'loop', path, String(n)], { cwd: pkg, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((r) => p.on('exit', r));
      await new Promise<void>((resolve, reject) => {
        p.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        p.on('exit', (code) => reject(new Error(`the saving child exited (${code}) before it was ready`)));
      });
      const full = statSync(path).size;
      const saving = () => readdirSync(dir).length > 1 || statSync(path, { throwIfNoEntry: false })?.size !== full;
      for (const t0 = Date.now(); !saving(); ) {
        if (Date.now() - t0 > 10_000) throw new Error('no save in progress seen in 10 s');
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setTimeout(r, delay));
      p.kill('SIGKILL');
      await exited;
      const { w } = await load(path);
      const v = w!.dataSync();
      w!.dispose();
      expect(v.length).toBe(n);
      const sign = v[1] === 1 ? 1 : -1;
      let bad = -1;
      for (let i = 0; i < n && bad < 0; i++) if (v[i] !== sign * i) bad = i;
      expect(bad, `killed ${delay} ms into a save: element ${bad} is ${v[bad]}`).toBe(-1);
    }
  });
});

describe('load of a torn file', () => {
  it('every truncation of a checkpoint is a FormatError naming the file', async () => {
    const dir = folder();
    const path = join(dir, 'cut.safetensors');
    await save({ a: tensor([[1, 2], [3, 4]]), b: tensor([5, 6, 7], { dtype: 'int32' }) }, path);
    const size = readFileSync(path).length;
    for (let cut = 0; cut < size; cut++) {
      truncateSync(path, cut);
      await expect(load(path), `cut at ${cut} of ${size} bytes`).rejects.toThrow(FormatError);
      await expect(load(path)).rejects.toThrow(`safetensors: ${path}: `);
    }
  });
});
