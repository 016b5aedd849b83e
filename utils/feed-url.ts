/**
 * Checks a feed URL as an admin types it: wss:// anywhere, ws:// only on this
 * machine, where nothing can listen in between.
 */
export type FeedUrlCheck = { ok: true; url: string } | { ok: false; error: string };

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function checkFeedUrl(input: string): FeedUrlCheck {
  const text = input.trim();
  if (!text) return { ok: false, error: 'Enter the feed URL, for example wss://feed.example.com/feed.' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, error: `"${text}" is not a URL.` };
  }
  if (url.protocol === 'wss:') return { ok: true, url: url.href };
  if (url.protocol === 'ws:') {
    return LOCAL_HOSTS.has(url.hostname)
      ? { ok: true, url: url.href }
      : { ok: false, error: 'Unencrypted ws:// is allowed only for localhost; use wss://.' };
  }
  return { ok: false, error: `The feed URL must start with wss:// (got ${url.protocol}//).` };
}
