import { describe, expect, it } from 'vitest';
import type { Message } from '../protocol/feed';
import { composerRule, smsSegments } from './channel-rules';

describe('smsSegments', () => {
  it('counts GSM-7 septets, with extension characters as two', () => {
    expect(smsSegments('')).toEqual({ encoding: 'GSM-7', units: 0, segments: 0, perSegment: 160 });
    expect(smsSegments('a'.repeat(160))).toMatchObject({ encoding: 'GSM-7', units: 160, segments: 1 });
    expect(smsSegments('a'.repeat(161))).toMatchObject({ segments: 2, perSegment: 153 });
    expect(smsSegments('€5 [ok]')).toMatchObject({ encoding: 'GSM-7', units: 10 });
    expect(smsSegments('a'.repeat(306))).toMatchObject({ segments: 2 });
    expect(smsSegments('a'.repeat(307))).toMatchObject({ segments: 3 });
  });

  it('one character outside GSM-7 makes it UCS-2: 70 code units, then 67 a segment', () => {
    expect(smsSegments('Thanks 🙂')).toMatchObject({ encoding: 'UCS-2', units: 9, segments: 1, perSegment: 70 });
    expect(smsSegments(`${'a'.repeat(70)}`)).toMatchObject({ encoding: 'GSM-7', segments: 1 });
    expect(smsSegments(`ł${'a'.repeat(70)}`)).toMatchObject({ encoding: 'UCS-2', units: 71, segments: 2, perSegment: 67 });
  });
});

describe('composerRule', () => {
  const msg = (from: Message['from'], at: number): Message => ({ id: `${from}-${at}`, conversationId: 'c', from, text: 'x', at });
  const hour = 3600_000;

  it('Messenger: the window runs 24 hours from the customer\'s last message, not the agent\'s', () => {
    const transcript = [msg('customer', 0), msg('agent', 5 * hour), msg('customer', 10 * hour), msg('agent', 20 * hour)];
    expect(composerRule('facebook', 'hi', transcript, 0, 33.5 * hour)).toMatchObject({ kind: 'messenger', windowEndsAt: 34 * hour, closed: false, closingSoon: true });
    expect(composerRule('facebook', 'hi', transcript, 0, 34 * hour)).toMatchObject({ closed: true });
    expect(composerRule('facebook', 'hi', transcript, 0, 12 * hour)).toMatchObject({ closed: false, closingSoon: false });
    expect(composerRule('facebook', 'x'.repeat(2001), transcript, 0, 12 * hour)).toMatchObject({ tooLong: true });
  });

  it('SMS: segments of the draft and the 1,600-character limit; web chat: nothing to say', () => {
    expect(composerRule('sms', 'a'.repeat(1601), [], 0, 0)).toMatchObject({ kind: 'sms', tooLong: true, count: { segments: 11 } });
    expect(composerRule('chat', 'anything', [], 0, 0)).toEqual({ kind: 'none' });
  });
});
