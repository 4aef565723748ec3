/**
 * The entry of the compute pool's worker processes (see src/compute/process-pool.ts): the heavy
 * work of every area, run away from the server's event loop.
 */
import { serveTasks } from './compute/process-pool.js';
import { chunkTask, parseTask } from './context/document-tasks.js';
import { evaluateTask } from './workflows/expression-tasks.js';

serveTasks({ parse: parseTask, chunk: chunkTask, evaluate: evaluateTask });
