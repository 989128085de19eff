/**
 * `tapegrad/nn`: what `tg.nn` holds, as a module of its own. `import * as nn from 'tapegrad/nn'`
 * lets every bundler drop the layers a page does not use; esbuild keeps all of a namespace that
 * is reached through another (`tg.nn.Linear`), so a page bundled by it is smaller this way.
 * @module tapegrad/nn
 */
// the CPU device, as the main entry registers it, for a program that imports only this
import '@tapegrad/backend-cpu';

export * from '@tapegrad/nn';
