// Whether an upstream HTTP status is worth sending the same request again for: one rule for
// outbound fetches (workflow http steps) and the model simulator.

/**
 * 408 (the receiver timed out), 429 (rate-limited) and every 5xx: the same request may succeed
 * later. Any other 4xx is the receiver refusing this request, and sending it again cannot help;
 * that includes a 409, which from an arbitrary receiver says the request conflicts with its state.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The AI SDK's rule for model provider calls (the default of `APICallError.isRetryable`), which
 * also retries a 409. The simulator follows it so that its failures are retried exactly as a real
 * provider's would be.
 */
export function isRetryableProviderStatus(status: number): boolean {
  return status === 409 || isRetryableStatus(status);
}
