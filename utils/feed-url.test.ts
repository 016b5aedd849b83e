import { describe, expect, it } from 'vitest';
import { checkFeedUrl } from './feed-url';

describe('checkFeedUrl', () => {
  it('accepts wss anywhere and ws on this machine only', () => {
    expect(checkFeedUrl(' wss://feed.example.com/feed ')).toEqual({ ok: true, url: 'wss://feed.example.com/feed' });
    expect(checkFeedUrl('ws://127.0.0.1:8787/feed').ok).toBe(true);
    expect(checkFeedUrl('ws://localhost/feed').ok).toBe(true);
    expect(checkFeedUrl('ws://[::1]:1/feed').ok).toBe(true);
  });

  it('refuses plain ws to another host, other schemes and junk with a reason', () => {
    expect(checkFeedUrl('ws://feed.example.com/feed')).toEqual({ ok: false, error: expect.stringContaining('localhost') });
    expect(checkFeedUrl('https://feed.example.com')).toEqual({ ok: false, error: expect.stringContaining('wss://') });
    expect(checkFeedUrl('not a url')).toEqual({ ok: false, error: expect.stringContaining('not a URL') });
    expect(checkFeedUrl('')).toEqual({ ok: false, error: expect.stringContaining('Enter') });
  });
});
