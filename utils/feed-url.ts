/**
 * Checks a feed URL as an admin types it: wss:// anywhere, ws:// only on this
 * machine, where nothing can listen in between.
 */
import { t } from './i18n';

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
