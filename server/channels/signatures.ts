/**
 * Webhook signatures. Both checks compare in constant time and refuse a
 * missing header, so a forged request is told apart from a real one without
 * leaking how close it came.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The common SMS-provider scheme: base64 HMAC-SHA1, keyed with the account's
 * auth token, over the full public URL followed by each POST parameter name
 * and value, sorted by name.
 */
export function smsSignature(authToken: string, url: string, params: URLSearchParams): string {
  const names = [...new Set(params.keys())].sort();
  const data = url + names.map((name) => params.getAll(name).map((value) => name + value).join('')).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

export function validSmsSignature(authToken: string, url: string, params: URLSearchParams, header: string | undefined): boolean {
  return !!header && same(smsSignature(authToken, url, params), header);
}

/** Messenger: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the app secret>`. */
export function messengerSignature(appSecret: string, rawBody: Buffer): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

export function validMessengerSignature(appSecret: string, rawBody: Buffer, header: string | undefined): boolean {
  return !!header && same(messengerSignature(appSecret, rawBody), header);
}
