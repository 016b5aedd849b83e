import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_SETTINGS, type EffectiveSettings, type Settings } from '../../utils/settings';
import { SettingsApplier, type SettingsApplierDeps } from './settings-applier';

function setup() {
  let settings: Settings = { ...DEFAULT_SETTINGS, feedUrl: 'wss://feed.example.com/feed', feedToken: 't1', crmSites: ['https://crm.example.com/*'] };
  const log: string[] = [];
  const gates: (() => void)[] = [];
  const deps: SettingsApplierDeps = {
    load: async (): Promise<EffectiveSettings> => ({ settings, locked: [], ignored: [] }),
    syncSites: async (sites) => {
      log.push(`sync start ${sites.join(',')}`);
      await new Promise<void>((resolve) => gates.push(resolve));
      log.push('sync end');
      return { active: [...sites], missingPermission: [] };
    },
    loadCatalogue: async (language) => ({ extName: `Deskbell (${language})` }),
    restartFeed: (s) => void log.push(`feed ${s.feedUrl} ${s.feedToken}${s.signInIssuer ? ` ${s.signInIssuer}` : ''}`),
    applied: (view) => void log.push(`applied ${view.theme} ${view.strings ? 'strings' : 'browser'}`),
  };
  return { applier: new SettingsApplier(deps), log, gates, set: (change: Partial<Settings>) => (settings = { ...settings, ...change }) };
}

describe('SettingsApplier', () => {
  it('runs one application at a time, so two changes never register the sites twice over each other', async () => {
    const t = setup();
    const first = t.applier.apply();
    await vi.waitFor(() => expect(t.gates).toHaveLength(1));
    // A second change while the first is still registering sites: it waits its turn.
    t.set({ theme: 'dark' });
    const second = t.applier.apply();
    await new Promise((r) => setTimeout(r, 10));
    expect(t.gates).toHaveLength(1);
    t.gates.shift()!();
    await vi.waitFor(() => expect(t.gates).toHaveLength(1));
    t.gates.shift()!();
    await Promise.all([first, second]);
    expect(t.log).toEqual([
      'feed wss://feed.example.com/feed t1',
      'sync start https://crm.example.com/*',
      'sync end',
      'applied system browser',
      'sync start https://crm.example.com/*',
      'sync end',
      'applied dark browser',
    ]);
  });

  it('restarts the feed only when its URL, token or sign-in provider changed, and loads the chosen language', async () => {
    const t = setup();
    const run = async () => {
      const done = t.applier.apply();
      await vi.waitFor(() => expect(t.gates).toHaveLength(1));
      t.gates.shift()!();
      await done;
    };
    await run();
    t.set({ language: 'nl' });
    await run();
    t.set({ feedToken: 't2' });
    await run();
    t.set({ signInIssuer: 'https://login.example.com' });
    await run();
    expect(t.log.filter((l) => l.startsWith('feed'))).toEqual(['feed wss://feed.example.com/feed t1', 'feed wss://feed.example.com/feed t2', 'feed wss://feed.example.com/feed t2 https://login.example.com']);
    expect(t.log.filter((l) => l.startsWith('applied'))).toEqual(['applied system browser', 'applied system strings', 'applied system strings', 'applied system strings']);
    expect(t.applier.current?.feedToken).toBe('t2');
  });
});
