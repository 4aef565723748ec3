/**
 * Every task of the compute pool, by name: the heavy work of each area, run by the worker
 * processes (src/compute-worker.ts) or, with `--compute-workers 0`, in the server process.
 */
import { chunkManyTask, chunkTask, parseManyTask, parseTask } from './context/document-tasks.js';
import { evaluateTask } from './workflows/expression-tasks.js';

export const computeTasks = { parse: parseTask, parseMany: parseManyTask, chunk: chunkTask, chunkMany: chunkManyTask, evaluate: evaluateTask };
