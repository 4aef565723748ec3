/** One recorded model call. */
interface Outcome {
  at: number;
  ok: boolean;
  retryable: boolean;
  latencyMs: number;
}

export interface ModelHealthOptions {
  /** Outcomes kept per model. Default 20. */
  windowSize?: number;
  /** Outcomes older than this are forgotten. Default 5 minutes. */
  windowMs?: number;
  /** Consecutive retryable failures that open the circuit. Default 3. */
  tripAfter?: number;
  /** How long an open circuit keeps a model at the back of the line. Default 30 s. */
  cooldownMs?: number;
}

/** What the router reads about one model. */
export interface HealthSnapshot {
  /** Outcomes in the window. */
  samples: number;
  /** Failure rate in the window: retryable failures count 1, others ½ (often the request's fault). */
  errorRate: number;
  /** Retryable failures since the last success. */
  failureStreak: number;
  /** True while the model failed `tripAfter` times in a row and the cooldown has not passed. */
  circuitOpen: boolean;
  /** Mean latency of successful calls in the window, when there are any. */
  meanLatencyMs: number | undefined;
}

const HEALTHY: HealthSnapshot = { samples: 0, errorRate: 0, failureStreak: 0, circuitOpen: false, meanLatencyMs: undefined };

/**
 * Recent outcomes per model over a sliding window (the last N calls within T). A run of
 * retryable failures opens a circuit for a cooldown; after it the model is tried again
 * (half-open) and one success closes it. In-process: each node learns from its own calls.
 */
export class ModelHealth {
  private readonly windowSize: number;
  private readonly windowMs: number;
  private readonly tripAfter: number;
  private readonly cooldownMs: number;
  private readonly outcomes = new Map<string, Outcome[]>();

  constructor(
    private readonly now: () => number,
    options: ModelHealthOptions = {},
  ) {
    this.windowSize = Math.max(1, options.windowSize ?? 20);
    this.windowMs = Math.max(1, options.windowMs ?? 5 * 60_000);
    this.tripAfter = Math.max(1, options.tripAfter ?? 3);
    this.cooldownMs = Math.max(0, options.cooldownMs ?? 30_000);
  }

  record(model: string, outcome: { ok: boolean; latencyMs: number; retryable?: boolean }): void {
    const list = this.outcomes.get(model) ?? [];
    const latencyMs = Number.isFinite(outcome.latencyMs) && outcome.latencyMs >= 0 ? outcome.latencyMs : 0;
    // A failure of unknown kind is treated as transient (network, timeout), like most are.
    list.push({ at: this.now(), ok: outcome.ok, retryable: !outcome.ok && outcome.retryable !== false, latencyMs });
    if (list.length > this.windowSize) list.splice(0, list.length - this.windowSize);
    this.outcomes.set(model, list);
  }

  snapshot(model: string): HealthSnapshot {
    const now = this.now();
    const list = (this.outcomes.get(model) ?? []).filter((outcome) => now - outcome.at <= this.windowMs);
    if (list.length === 0) return HEALTHY;
    let failures = 0;
    let latencySum = 0;
    let successes = 0;
    for (const outcome of list) {
      if (outcome.ok) {
        successes += 1;
        latencySum += outcome.latencyMs;
      } else {
        failures += outcome.retryable ? 1 : 0.5;
      }
    }
    let failureStreak = 0;
    for (let i = list.length - 1; i >= 0 && !list[i]!.ok; i--) if (list[i]!.retryable) failureStreak += 1;
    const lastAt = list[list.length - 1]!.at;
    return {
      samples: list.length,
      errorRate: failures / list.length,
      failureStreak,
      circuitOpen: failureStreak >= this.tripAfter && now - lastAt < this.cooldownMs,
      meanLatencyMs: successes > 0 ? latencySum / successes : undefined,
    };
  }
}
