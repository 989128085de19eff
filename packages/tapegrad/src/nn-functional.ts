/**
 * `tapegrad/nn/functional`: what `tg.nn.functional` holds, as a module of its own
 * (`import * as F from 'tapegrad/nn/functional'`, as `torch.nn.functional as F`); see `tapegrad/nn`.
 * @module tapegrad/nn/functional
 */
import '@tapegrad/backend-cpu';

export * from '@tapegrad/nn/functional';
