import type { MapStep } from '../../definition.js';
import { AttemptFailed, Parked } from '../errors.js';
import type { Frame } from '../execution.js';
import type { StepExecutor } from './executor.js';

const DEFAULT_MAP_CONCURRENCY = 4;

/** The sub-sequence runs once per item, `concurrency` at a time; the output is one last output per item. */
export const mapStep: StepExecutor<MapStep> = {
  async run(walker, step, state, frame) {
    let items = state.state.items as unknown[] | undefined;
    if (items === undefined) {
      const { maxMapItems } = walker.deps.limits;
      let value: unknown;
      try {
        value = await walker.evaluate(frame, step.items, state.key, 'items');
        if (value === null) value = [];
        if (!Array.isArray(value)) throw new AttemptFailed('invalid_items', `Step '${state.key}': items must evaluate to an array, not ${typeof value}.`, false);
        if (value.length > maxMapItems) {
          throw new AttemptFailed('map_too_large', `Step '${state.key}': items has ${value.length} entries, more than the ${maxMapItems} allowed (--max-map-items / KAIRO_MAX_MAP_ITEMS).`, false);
        }
      } catch (error) {
        throw await walker.failStep(state, error);
      }
      items = value;
      // The list is stored: later advances iterate the same items whatever the expression would say now.
      Object.assign(state, { status: 'running', startedAt: walker.now(), state: { items }, input: { count: items.length } });
      await walker.saveStep(state, { type: 'step.started', data: { items: items.length } });
    }
    const list = items;
    const results: Array<PromiseSettledResult<unknown>> = new Array(list.length);
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (next < list.length && !failed) {
        const index = next++;
        const iteration: Frame = { outputs: { ...frame.outputs }, item: list[index], index, prefix: `${frame.prefix}${step.id}[${index}].` };
        try {
          results[index] = { status: 'fulfilled', value: await walker.sequence(step.steps, iteration) };
        } catch (error) {
          results[index] = { status: 'rejected', reason: error };
          if (!(error instanceof Parked)) failed = true;
        }
      }
    };
    const concurrency = Math.min(step.concurrency ?? DEFAULT_MAP_CONCURRENCY, Math.max(list.length, 1));
    await Promise.all(Array.from({ length: concurrency }, worker));
    await walker.enclosing(state, () => walker.settle(results.filter((r) => r !== undefined)));
    return walker.succeed(state, results.map((r) => (r as PromiseFulfilledResult<unknown>).value));
  },
};
