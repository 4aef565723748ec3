/** A step failed for good: the run fails and names it. */
export class StepFailed extends Error {
  constructor(readonly key: string, readonly code: string, message: string) {
    super(message);
  }
}

/** A step cannot go on before `wakeAt` (null: until something outside resumes it). */
export class Parked {
  constructor(readonly wakeAt: number | null) {}
}

/** A failure of one attempt; retryable ones are tried again under the step's retry policy. */
export class AttemptFailed extends Error {
  constructor(readonly code: string, message: string, readonly retryable: boolean) {
    super(message);
  }
}
