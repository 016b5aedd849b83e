import { describe, expect, it } from 'vitest';
import { formatClock, linkify, secondsLeft, webUrl } from './format';

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

describe('webUrl', () => {
  it('lets web addresses through and nothing that could run script', () => {
    expect(webUrl('https://org.crm4.dynamics.com/main.aspx?id=1')).toBe('https://org.crm4.dynamics.com/main.aspx?id=1');
    expect(webUrl('http://127.0.0.1:8080/x')).toBe('http://127.0.0.1:8080/x');
    for (const bad of ['javascript:alert(1)', ' JavaScript:alert(1)', 'data:text/html,<script>1</script>', 'vbscript:x', '/relative', 'not a url', '', undefined]) {
      expect(webUrl(bad)).toBeUndefined();
    }
  });
});
