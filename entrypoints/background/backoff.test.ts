import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  const policy = { baseMs: 500, capMs: 30_000 };

  it('grows exponentially up to the cap', () => {
    const top = (attempt: number) => backoffDelay(attempt, policy, () => 0.999999);
    expect(top(0)).toBe(499);
    expect(top(1)).toBe(999);
    expect(top(3)).toBe(3999);
    expect(top(6)).toBe(29_999);
    expect(top(50)).toBe(29_999);
  });

  it('spreads delays across the whole window (full jitter)', () => {
    expect(backoffDelay(4, policy, () => 0)).toBe(0);
    expect(backoffDelay(4, policy, () => 0.5)).toBe(4000);
  });

  it('keeps 50 consecutive failures within the cap and jittered', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const delays = Array.from({ length: 50 }, (_, i) => backoffDelay(i, policy, random));
    expect(Math.max(...delays)).toBeLessThan(policy.capMs);
    expect(new Set(delays).size).toBeGreaterThan(45);
  });
});
