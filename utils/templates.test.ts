import { describe, expect, it } from 'vitest';
import { SCENARIOS } from './protocol/feed';
import { DEFAULT_TEMPLATES, templateFor } from './templates';

describe('templates', () => {
  it('has a default for every scenario: alerts for live customers, toasts for notices', () => {
    expect(Object.keys(DEFAULT_TEMPLATES).sort()).toEqual([...SCENARIOS].sort());
    for (const s of ['chat', 'sms', 'facebook', 'transfer', 'bot-escalation'] as const) expect(DEFAULT_TEMPLATES[s].kind).toBe('alert');
    for (const s of ['work-item', 'escalation'] as const) expect(DEFAULT_TEMPLATES[s].kind).toBe('toast');
  });

  it('applies valid overrides and ignores invalid ones', () => {
    expect(templateFor('chat', { chat: { acceptLabel: 'Take it', timeoutSec: 20 } })).toMatchObject({ acceptLabel: 'Take it', timeoutSec: 20, kind: 'alert' });
    expect(templateFor('chat', { chat: { timeoutSec: -4 } })).toEqual(DEFAULT_TEMPLATES.chat);
  });
});
