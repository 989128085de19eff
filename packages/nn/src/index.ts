/**
 * Neural networks on tapegrad tensors, after torch.nn: modules (layers, losses, containers) and
 * their functional forms, weight initialisers, optimizers with learning-rate schedulers, and
 * dynamic loss scaling (`amp.GradScaler`).
 * @packageDocumentation
 * @module @tapegrad/nn
 */

/** The function forms of the layers, activations and losses (torch.nn.functional). */
export * as functional from './functional/index.js';
export * from './losses/modules.js';
export type { Reduction } from './losses/reduction.js';
export type { ClassLossAttrs } from './losses/class-targets.js';
export * from './ops/index.js';
export * from './modules/index.js';
/** Weight initialisers that fill a tensor in place (torch.nn.init). */
export * as init from './init.js';
/** Optimizers, learning-rate schedulers and gradient clipping (torch.optim). */
export * as optim from './optim/index.js';
/** Mixed precision (torch.amp): `autocast` regions and dynamic loss scaling with GradScaler. */
export * as amp from './amp/index.js';
