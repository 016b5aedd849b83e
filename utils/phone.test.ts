import { describe, expect, it } from 'vitest';
import { normalizePhone } from './phone';

describe('normalizePhone', () => {
  it('reads the same Dutch mobile number in every usual way of writing it', () => {
    for (const written of ['+31 6 12345678', '0612345678', '(06) 1234-5678', '0031612345678', '+31612345678', '06-12 34 56 78', '+31 (0)6 1234 5678']) {
      expect(normalizePhone(written, 'NL'), written).toEqual({ ok: true, e164: '+31612345678' });
    }
  });

  it('uses the default region only for numbers without a country code', () => {
    expect(normalizePhone('0151 23456789', 'DE')).toEqual({ ok: true, e164: '+4915123456789' });
    expect(normalizePhone('+44 7700 900123', 'NL')).toEqual({ ok: true, e164: '+447700900123' });
  });

  it('says why a number cannot be used', () => {
    expect(normalizePhone('', 'NL')).toEqual({ ok: false, reason: 'No phone number.' });
    expect(normalizePhone('call me', 'NL')).toMatchObject({ ok: false, reason: expect.stringContaining('call me') });
    expect(normalizePhone('12', 'NL').ok).toBe(false);
  });
});
