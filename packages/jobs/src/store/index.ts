// Every statement on the jobs table lives here, by what it does: creating jobs, moving them through
// their states (the worker's claims and outcomes, the api's cancel), and the api's reads.
export * from './create.js';
export * from './transitions.js';
export * from './reads.js';
