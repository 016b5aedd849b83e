/**
 * Webhook signatures. Both checks compare in constant time and refuse a
 * missing header, so a forged request is told apart from a real one without
 * leaking how close it came.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
// The official library's own check: the URL variants it accepts (with and without the
// default port, the legacy query encoding) and both signing algorithms follow it exactly.
import { getSignatureAlgorithm, validateRequest } from 'twilio/lib/webhooks/webhooks.js';

/**
 * SMS (Twilio's scheme): base64 HMAC, keyed with the account's auth token,
 * over the public URL followed by each POST parameter name and value, sorted
 * by name; SHA-1 unless `X-Twilio-Webhooks-Signature-Settings` names
 * HMAC_SHA256.
 */
export function validSmsSignature(authToken: string, url: string, params: URLSearchParams, header: string | undefined, settings?: string): boolean {
  if (!header) return false;
  const fields: Record<string, string | string[]> = {};
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    fields[name] = values.length === 1 ? values[0]! : values;
  }
  const algorithm = getSignatureAlgorithm(settings);
  // An algorithm the library does not know fails the check; the library would also warn on the console.
  if (algorithm !== 'HMAC_SHA1' && algorithm !== 'HMAC_SHA256') return false;
  try {
    return validateRequest(authToken, header, url, fields, algorithm);
  } catch {
    return false;
  }
}

/** Messenger: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the app secret>`. */
export function messengerSignature(appSecret: string, rawBody: Buffer): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

export function validMessengerSignature(appSecret: string, rawBody: Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const x = Buffer.from(messengerSignature(appSecret, rawBody));
  const y = Buffer.from(header);
  return x.length === y.length && timingSafeEqual(x, y);
}
