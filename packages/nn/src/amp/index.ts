export * from './grad-scaler.js';
// torch.amp.autocast beside torch.amp.GradScaler; the same function as the top-level `autocast`
export { autocast, isAutocastEnabled, type AutocastOptions } from '@tapegrad/tensor';
