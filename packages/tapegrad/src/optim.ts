/**
 * `tapegrad/optim`: what `tg.optim` holds (optimizers, schedulers, gradient clipping), as a
 * module of its own (`import * as optim from 'tapegrad/optim'`); see `tapegrad/nn`.
 * @module tapegrad/optim
 */
import '@tapegrad/backend-cpu';

export * from '@tapegrad/nn/optim';
