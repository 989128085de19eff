import type { NodeFiles } from './files.js';

/** Outside Node (package.json's `#node` import): no file system; see files.ts. */
export const nodeFiles: NodeFiles | undefined = undefined;
