export * from './grad-scaler.js';
