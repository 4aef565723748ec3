import { KairoError } from '../../src/errors.js';
import { errorAnswer } from '../../src/http/error-status.js';

/** What a refused call throws, as a client would see it: the error's code and the HTTP status it is answered with. */
export async function refusal(promise: Promise<unknown>): Promise<{ code: string; status: number }> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to be refused');
    },
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof KairoError)) throw error;
  return { code: error.code, status: errorAnswer(error, 'req_test').status };
}
