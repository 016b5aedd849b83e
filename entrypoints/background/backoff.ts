/** Reconnect delays: capped exponential backoff with full jitter. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export const FEED_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };

/**
 * Delay before reconnect attempt `attempt` (0 for the first retry): uniform in
 * [0, min(cap, base·2^attempt)). Full jitter spreads a fleet of agents that
 * lost the same server, so they do not all come back in the same instant.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = FEED_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
