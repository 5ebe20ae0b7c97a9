export * from './registry.repo.js';
export * from './builtins.js';
