import type { ModelCatalogue } from './ports.js';

/** The provider of a model: the catalogue's, else the prefix of its id (`openai/gpt-4o` → `openai`). */
export function providerOf(catalogue: ModelCatalogue, model: string): string {
  return catalogue.get(model)?.provider ?? model.split('/')[0]!;
}
