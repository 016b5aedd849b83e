import { describe, expect, it } from 'vitest';
import { checkMatchPattern, DEFAULT_SETTINGS, effectiveSettings, parsePolicy, validateSettings } from './settings';

describe('settings', () => {
  it('accepts the defaults and a complete valid form', () => {
    expect(validateSettings(DEFAULT_SETTINGS)).toEqual({ ok: true, settings: DEFAULT_SETTINGS });
    const form = { ...DEFAULT_SETTINGS, feedUrl: 'wss://feed.example.com/feed', crmSites: ['https://crm.example.com/*'], templates: { chat: { timeoutSec: 20 } } };
    expect(validateSettings(form).ok).toBe(true);
    // A feed with several nodes: one per line, kept as the admin wrote it.
    const nodes = { ...form, feedUrl: 'wss://node-1.example.com/feed\nwss://node-2.example.com/feed' };
    expect(validateSettings(nodes)).toEqual({ ok: true, settings: nodes });
    const policy = parsePolicy({ FeedUrl: 'wss://node-1.example.com/feed wss://node-2.example.com/feed' });
    expect(policy).toEqual({ values: { feedUrl: 'wss://node-1.example.com/feed wss://node-2.example.com/feed' }, ignored: [] });
    const bad = validateSettings({ ...form, feedUrl: 'wss://node-1.example.com/feed\nhttps://node-2.example.com/feed' });
    expect(bad).toEqual({ ok: false, errors: { feedUrl: 'https://node-2.example.com/feed: The feed URL must start with wss:// (got https://).' } });
  });

  it('reports every bad field with a message that says what to do', () => {
    const result = validateSettings({
      ...DEFAULT_SETTINGS,
      feedUrl: 'ws://feed.example.com/feed',
      crmSites: ['https://ok.example.com/*', 'crm.example.com'],
      defaultRegion: 'nl',
      templates: { chat: { timeoutSec: 1 } },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.feedUrl).toContain('localhost');
    expect(result.errors['crmSites.1']).toContain('https://crm.example.com/*');
    expect(result.errors.defaultRegion).toContain('two-letter');
    expect(result.errors['templates.chat.timeoutSec']).toBeDefined();
  });

  it('checks site patterns', () => {
    expect(checkMatchPattern('https://*.crm4.dynamics.com/*')).toBeNull();
    expect(checkMatchPattern('http://127.0.0.1/*')).toBeNull();
    expect(checkMatchPattern('https://crm.example.com:8443/*')).toContain('port');
    expect(checkMatchPattern('ftp://x/*')).not.toBeNull();
  });

  it('applies valid policy values, locks them, and ignores invalid ones with a reason', () => {
    const policy = parsePolicy({ FeedUrl: 'wss://feed.corp.example/feed', Theme: 'purple', CrmSites: ['https://crm.corp.example/*'], Unknown: 1 });
    expect(policy.values).toEqual({ feedUrl: 'wss://feed.corp.example/feed', crmSites: ['https://crm.corp.example/*'] });
    expect(policy.ignored).toEqual([
      { policy: 'Theme', reason: 'Theme must be dark, light or system.' },
      { policy: 'Unknown', reason: 'Deskbell has no such policy.' },
    ]);
    const effective = effectiveSettings({ ...DEFAULT_SETTINGS, theme: 'dark', feedUrl: 'wss://mine.example/feed' }, { FeedUrl: 'wss://feed.corp.example/feed', Theme: 'purple' });
    expect(effective.settings.feedUrl).toBe('wss://feed.corp.example/feed');
    expect(effective.settings.theme).toBe('dark');
    expect(effective.locked).toEqual(['feedUrl']);
  });

  it('keeps the good fields of a damaged saved object', () => {
    const effective = effectiveSettings({ theme: 'light', language: 'klingon', feedUrl: 42 }, {});
    expect(effective.settings).toMatchObject({ theme: 'light', language: 'auto', feedUrl: DEFAULT_SETTINGS.feedUrl });
  });
});
