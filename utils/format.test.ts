import { describe, expect, it } from 'vitest';
import { formatClock, linkify, secondsLeft } from './format';

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

describe('linkify', () => {
  it('turns http(s) URLs into links and leaves everything else as text', () => {
    expect(linkify('See https://example.com/track?id=1. Thanks')).toEqual([
      { text: 'See ' },
      { text: 'https://example.com/track?id=1', href: 'https://example.com/track?id=1' },
      { text: '. Thanks' },
    ]);
    expect(linkify('javascript:alert(1) and data:text/html,x')).toEqual([{ text: 'javascript:alert(1) and data:text/html,x' }]);
    expect(linkify('')).toEqual([]);
  });
});
