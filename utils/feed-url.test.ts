import { describe, expect, it } from 'vitest';
import { checkFeedUrl, checkFeedUrls, MAX_FEED_URLS } from './feed-url';

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

describe('checkFeedUrls', () => {
  it('reads the nodes of one feed in order, separated by new lines, spaces or commas, each once', () => {
    expect(checkFeedUrls('wss://a.example/feed\n wss://b.example/feed, wss://a.example/feed  ws://127.0.0.1:1/feed\n')).toEqual({
      ok: true,
      urls: ['wss://a.example/feed', 'wss://b.example/feed', 'ws://127.0.0.1:1/feed'],
    });
    expect(checkFeedUrls('wss://a.example/feed')).toEqual({ ok: true, urls: ['wss://a.example/feed'] });
  });

  it('names the node that is wrong, and refuses an empty list or too many nodes', () => {
    expect(checkFeedUrls('wss://a.example/feed ws://b.example/feed')).toEqual({ ok: false, error: expect.stringMatching(/^ws:\/\/b\.example\/feed: .*localhost/) });
    expect(checkFeedUrls('ws://b.example/feed')).toEqual({ ok: false, error: expect.stringMatching(/^Unencrypted/) });
    expect(checkFeedUrls(' \n, ')).toEqual({ ok: false, error: expect.stringContaining('Enter') });
    const many = Array.from({ length: MAX_FEED_URLS + 1 }, (_, i) => `wss://n${i}.example/feed`).join('\n');
    expect(checkFeedUrls(many)).toEqual({ ok: false, error: `A feed has at most ${MAX_FEED_URLS} nodes.` });
  });
});
