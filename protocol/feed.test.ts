import { describe, expect, it } from 'vitest';
import { MAX_CLIENT_FRAME_CHARS, parseClientFrame, parseServerFrame, type ServerFrame, serializeServerFrame } from './feed';

const message = (i: number) => ({ id: `m${i}`, conversationId: 'c1', from: 'customer' as const, text: `message ${i} `.padEnd(1000, '.'), at: i });
const accepted = (messages: number): ServerFrame => ({
  type: 'accepted',
  seq: 1,
  offerId: 'o1',
  conversation: { id: 'c1', scenario: 'chat', channel: 'chat', customer: { name: 'Maria' }, comment: 'hi', waitingSince: 0, status: 'active' },
  transcript: Array.from({ length: messages }, (_, i) => message(i + 1)),
});

describe('frame limits', () => {
  it('takes a long transcript from the server, and refuses a client frame over its limit', () => {
    const text = JSON.stringify(accepted(1000));
    expect(text.length).toBeGreaterThan(MAX_CLIENT_FRAME_CHARS);
    expect(parseServerFrame(text)).toMatchObject({ ok: true, frame: { type: 'accepted' } });
    const ping = JSON.stringify({ type: 'ping', t: 1, pad: 'x'.repeat(MAX_CLIENT_FRAME_CHARS) });
    expect(parseClientFrame(ping)).toMatchObject({ ok: false, error: expect.stringContaining('exceeds') });
  });

  it('trims a transcript too long for one frame to its newest messages, and leaves other frames be', () => {
    const frame = accepted(100);
    const { text, trimmed } = serializeServerFrame(frame, 50_000);
    expect(text.length).toBeLessThanOrEqual(50_000);
    expect(trimmed).toBeGreaterThan(0);
    const parsed = parseServerFrame(text);
    if (!parsed.ok || parsed.frame.type !== 'accepted') throw new Error('not an accepted frame');
    expect(parsed.frame.transcript).toHaveLength(100 - trimmed);
    expect(parsed.frame.transcript.at(-1)?.id).toBe('m100');
    expect(serializeServerFrame(frame)).toEqual({ text: JSON.stringify(frame), trimmed: 0 });
  });
});
