/**
 * Phone numbers as people write them, in E.164. libphonenumber-js knows each
 * country's rules (trunk prefixes, international prefixes like 00), which a
 * hand-written normaliser would get wrong for someone.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';
import { t } from './i18n';

export type PhoneCheck = { ok: true; e164: string } | { ok: false; reason: string };

/** "+31 6 12345678", "0612345678", "(06) 1234-5678", "0031612345678" → "+31612345678" (region NL). */
export function normalizePhone(input: string, defaultRegion: string): PhoneCheck {
  const text = input.trim();
  if (!text) return { ok: false, reason: t('phone_empty') };
  // "00" is the international prefix in most of the world; libphonenumber reads it only
  // when it knows the caller's region uses it, so write it as "+" first.
  const prepared = text.replace(/^\s*00(?=\d)/, '+');
  const parsed = parsePhoneNumberFromString(prepared, defaultRegion as CountryCode);
  if (!parsed || !parsed.isPossible()) return { ok: false, reason: t('phone_unreadable', text) };
  return { ok: true, e164: parsed.number };
}
