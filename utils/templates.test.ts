import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUTING, SCENARIOS } from '../protocol/feed';
import { effectiveSeconds, present } from './presentation';
import { DEFAULT_TEMPLATES, templateFor } from './templates';

describe('templates', () => {
  it('has a default for every scenario, suited to the default routing: offered ones ring and last as long as the feed allows', () => {
    expect(Object.keys(DEFAULT_TEMPLATES).sort()).toEqual([...SCENARIOS].sort());
    for (const s of SCENARIOS) {
      const offered = DEFAULT_ROUTING[s].mode === 'offer';
      expect(DEFAULT_TEMPLATES[s].sound, s).toBe(offered);
      expect(DEFAULT_TEMPLATES[s].timeoutSec, s).toBe(offered ? DEFAULT_ROUTING[s].offerTimeoutSec : 12);
    }
  });

  it('applies valid overrides, ignores invalid ones, and drops the old kind field', () => {
    expect(templateFor('chat', { chat: { acceptLabel: 'Take it', timeoutSec: 20 } })).toMatchObject({ acceptLabel: 'Take it', timeoutSec: 20 });
    expect(templateFor('chat', { chat: { timeoutSec: -4 } })).toEqual(DEFAULT_TEMPLATES.chat);
    expect(templateFor('chat', { chat: { kind: 'toast' } as never })).not.toHaveProperty('kind');
  });
});

describe('presentation', () => {
  it('takes the kind from the feed, never from the template; alerts ring until answered, toasts once', () => {
    const alert = present('work-item', 'alert', { 'work-item': { sound: true } }, 1000);
    expect(alert).toMatchObject({ kind: 'alert', showUntil: 1000 + 12_000, sound: { loop: true }, desktop: 'never' });
    const toast = present('chat', 'toast', {}, 1000);
    expect(toast).toMatchObject({ kind: 'toast', showUntil: 31_000, sound: { name: 'ring', loop: false } });
    expect(present('chat', 'alert', { chat: { volume: 0 } }, 0).sound).toBeNull();
  });

  it('says how long a card really stays up: the shorter of the template and the feed for offers', () => {
    const template = templateFor('chat', { chat: { timeoutSec: 60 } });
    expect(effectiveSeconds(template, { mode: 'offer', offerTimeoutSec: 30 })).toBe(30);
    expect(effectiveSeconds(templateFor('chat', { chat: { timeoutSec: 10 } }), { mode: 'offer', offerTimeoutSec: 30 })).toBe(10);
    expect(effectiveSeconds(template, { mode: 'assign', offerTimeoutSec: 30 })).toBe(60);
  });
});
