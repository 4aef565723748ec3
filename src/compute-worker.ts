/**
 * The entry of the compute pool's worker processes (see src/compute/process-pool.ts): the heavy
 * work of every area, run away from the server's event loop.
 */
import { serveTasks } from './compute/process-pool.js';
import { computeTasks } from './compute-tasks.js';

serveTasks(computeTasks);
