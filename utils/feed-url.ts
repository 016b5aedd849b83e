/**
 * Checks a feed URL as an admin types it: wss:// anywhere, ws:// only on this
 * machine, where nothing can listen in between. The setting may name several
 * nodes of one feed, tried in order when one is lost (failover).
 */
import { t } from './i18n';

/** At most this many nodes in the feed URL setting. */
export const MAX_FEED_URLS = 10;

export type FeedUrlCheck = { ok: true; url: string } | { ok: false; error: string };

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** This machine: where a plain-text connection has nobody in between to listen (the feed, a sign-in provider under test). */
export function isLoopbackHost(hostname: string): boolean {
  return LOCAL_HOSTS.has(hostname);
}

export function checkFeedUrl(input: string): FeedUrlCheck {
  const text = input.trim();
  if (!text) return { ok: false, error: t('url_empty') };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, error: t('url_not_url', text) };
  }
  if (url.protocol === 'wss:') return { ok: true, url: url.href };
  if (url.protocol === 'ws:') {
    return isLoopbackHost(url.hostname)
      ? { ok: true, url: url.href }
      : { ok: false, error: t('url_ws_remote') };
  }
  return { ok: false, error: t('url_scheme', `${url.protocol}//`) };
}

export type FeedUrlsCheck = { ok: true; urls: string[] } | { ok: false; error: string };

/**
 * The feed URL setting: one URL, or the nodes of one feed separated by spaces,
 * commas or new lines, in the order they are tried. Each is checked as
 * `checkFeedUrl` does; the same node twice counts once.
 */
export function checkFeedUrls(input: string): FeedUrlsCheck {
  const parts = input.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) return { ok: false, error: t('url_empty') };
  const urls: string[] = [];
  for (const part of parts) {
    const check = checkFeedUrl(part);
    if (!check.ok) return parts.length > 1 ? { ok: false, error: `${part}: ${check.error}` } : check;
    if (!urls.includes(check.url)) urls.push(check.url);
  }
  if (urls.length > MAX_FEED_URLS) return { ok: false, error: t('url_too_many', MAX_FEED_URLS) };
  return { ok: true, urls };
}
