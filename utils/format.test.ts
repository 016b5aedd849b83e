import { describe, expect, it } from 'vitest';
import { formatClock, secondsLeft } from './format';

describe('format', () => {
  it('formats clocks', () => {
    expect(formatClock(0)).toBe('0:00');
    expect(formatClock(7_900)).toBe('0:07');
    expect(formatClock(72_000)).toBe('1:12');
    expect(formatClock(3_723_000)).toBe('1:02:03');
    expect(formatClock(-5_000)).toBe('0:00');
  });

  it('counts seconds left up to the deadline', () => {
    expect(secondsLeft(10_000, 0)).toBe(10);
    expect(secondsLeft(10_000, 9_001)).toBe(1);
    expect(secondsLeft(10_000, 10_000)).toBe(0);
    expect(secondsLeft(10_000, 12_000)).toBe(0);
  });
});
