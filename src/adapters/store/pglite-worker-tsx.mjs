// Starts pglite-worker.ts when Courier runs from its TypeScript sources (tsx:
// `npm start`, the tests). On Node 20 a worker thread does not inherit tsx's
// module hooks, so they are registered here first. Compiled builds start
// pglite-worker.js directly and never load this file.
import { register } from 'tsx/esm/api';

register();
await import('./pglite-worker.ts');
