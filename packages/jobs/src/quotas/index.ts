export * from './spec.js';
export * from './store.js';
