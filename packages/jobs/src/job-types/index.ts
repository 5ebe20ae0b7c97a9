export * from './registry.repo.js';
export * from './builtins.js';
export * from './schema.js';
export * from './spec.js';
