/**
 * What a provider channel allows a reply, for the composer to say before the
 * agent sends: how many SMS segments a text costs (GSM-7 or UCS-2), and
 * whether Messenger's 24-hour window is still open. The feed server refuses
 * the same things; saying them here spares the agent a failed message.
 */
import { CHANNEL_TEXT_LIMITS, type Message, MESSENGER_WINDOW_MS } from '../protocol/feed';

/** The GSM 03.38 basic character set (one septet each), without the escape. */
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
/** Characters of the extension table: an escape and a septet, two in all. */
const GSM_EXTENDED = new Set('^{}\\[~]|€\f');

export interface SmsCount {
  encoding: 'GSM-7' | 'UCS-2';
  /** Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes. */
  units: number;
  segments: number;
  /** What one segment holds: 160/153 septets, or 70/67 code units, for one or several. */
  perSegment: number;
}

/** How a carrier splits this text: one character outside GSM-7 makes the whole message UCS-2. */
export function smsSegments(text: string): SmsCount {
  let septets = 0;
  let gsm = true;
  for (const ch of text) {
    if (GSM_BASIC.has(ch)) septets += 1;
    else if (GSM_EXTENDED.has(ch)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  const [units, single, multi] = gsm ? [septets, 160, 153] : [text.length, 70, 67];
  const segments = units === 0 ? 0 : units <= single ? 1 : Math.ceil(units / multi);
  return { encoding: gsm ? 'GSM-7' : 'UCS-2', units, segments, perSegment: segments > 1 ? multi : single };
}

/** When Messenger's standard window for replies ends: 24 hours after the customer last wrote (feed time). */
export function replyWindowEnd(transcript: readonly Message[], since: number): number {
  let last = since;
  for (let i = transcript.length - 1; i >= 0; i--) {
    const m = transcript[i]!;
    if (m.from === 'customer') {
      last = Math.max(last, m.at);
      break;
    }
  }
  return last + MESSENGER_WINDOW_MS;
}

export type ComposerRule =
  | { kind: 'none' }
  | { kind: 'sms'; count: SmsCount; limit: number; tooLong: boolean }
  | { kind: 'messenger'; windowEndsAt: number; closed: boolean; closingSoon: boolean; limit: number; tooLong: boolean };

/** What the composer says under a draft on this channel, at feed time `now`. */
export function composerRule(channel: string, draft: string, transcript: readonly Message[], waitingSince: number, now: number): ComposerRule {
  if (channel === 'sms') {
    return { kind: 'sms', count: smsSegments(draft), limit: CHANNEL_TEXT_LIMITS.sms, tooLong: draft.length > CHANNEL_TEXT_LIMITS.sms };
  }
  if (channel === 'facebook') {
    const windowEndsAt = replyWindowEnd(transcript, waitingSince);
    return {
      kind: 'messenger',
      windowEndsAt,
      closed: now >= windowEndsAt,
      closingSoon: now < windowEndsAt && windowEndsAt - now < 60 * 60_000,
      limit: CHANNEL_TEXT_LIMITS.facebook,
      tooLong: draft.length > CHANNEL_TEXT_LIMITS.facebook,
    };
  }
  return { kind: 'none' };
}
