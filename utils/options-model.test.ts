import { describe, expect, it, vi } from 'vitest';
import { createOptionsModel, type OptionsClient } from './options-model';
import { DEFAULT_SETTINGS, effectiveSettings, type Settings } from './settings';

function fakeClient(saved: Partial<Settings> = {}, policy: Record<string, unknown> = {}, grant = true) {
  const store = { saved };
  const client: OptionsClient = {
    load: async () => ({ saved: store.saved, effective: effectiveSettings(store.saved, policy) }),
    save: vi.fn(async (s: Partial<Settings>) => void (store.saved = s)),
    requestSite: vi.fn(async () => grant),
    releaseSite: vi.fn(async () => {}),
  };
  return { client, store };
}

describe('options model', () => {
  it('saves a valid draft in one go', async () => {
    const f = fakeClient();
    const model = createOptionsModel(f.client);
    await model.reload();
    model.set('feedUrl', 'wss://feed.example.com/feed');
    model.set('theme', 'dark');
    expect(await model.save()).toBe(true);
    expect(f.store.saved).toMatchObject({ feedUrl: 'wss://feed.example.com/feed', theme: 'dark' });
    expect(model.state.value).toEqual({ kind: 'saved' });
  });

  it('saves nothing when any field is wrong, and names each one', async () => {
    const f = fakeClient({ theme: 'light' });
    const model = createOptionsModel(f.client);
    await model.reload();
    model.set('feedUrl', 'http://feed.example.com');
    model.set('defaultRegion', 'Netherlands');
    model.set('theme', 'dark');
    expect(await model.save()).toBe(false);
    expect(f.client.save).not.toHaveBeenCalled();
    expect(Object.keys(model.errors.value).sort()).toEqual(['defaultRegion', 'feedUrl']);
    expect(model.state.value).toEqual({ kind: 'invalid', count: 2 });
  });

  it('never writes a setting that policy locks', async () => {
    const f = fakeClient({ feedUrl: 'wss://mine.example/feed' }, { FeedUrl: 'wss://corp.example/feed' });
    const model = createOptionsModel(f.client);
    await model.reload();
    expect(model.draft.value.feedUrl).toBe('wss://corp.example/feed');
    expect(model.isLocked('feedUrl')).toBe(true);
    model.set('theme', 'dark');
    await model.save();
    expect(f.store.saved.feedUrl).toBe('wss://mine.example/feed');
  });

  it('adds a site only with a valid pattern and Chrome granting access', async () => {
    const f = fakeClient();
    const model = createOptionsModel(f.client);
    await model.reload();
    expect(await model.addSite('crm.example.com')).toBe(false);
    expect(model.siteError.value).toContain('https://crm.example.com/*');
    expect(await model.addSite('https://crm.example.com/*')).toBe(true);
    expect(f.store.saved.crmSites).toEqual(['https://crm.example.com/*']);
    await model.removeSite('https://crm.example.com/*');
    expect(f.store.saved.crmSites).toEqual([]);
    expect(f.client.releaseSite).toHaveBeenCalledWith('https://crm.example.com/*');

    const refused = fakeClient({}, {}, false);
    const other = createOptionsModel(refused.client);
    await other.reload();
    expect(await other.addSite('https://crm.example.com/*')).toBe(false);
    expect(other.siteError.value).toContain('did not grant');
    // Asking again for a site on the list (its access was revoked) changes no setting.
    expect(await other.grantSite('https://crm.example.com/*')).toBe(false);
    expect(refused.client.requestSite).toHaveBeenLastCalledWith('https://crm.example.com/*');
    expect(refused.store.saved.crmSites).toBeUndefined();
  });

  it('exports without the token and imports all-or-nothing', async () => {
    const f = fakeClient({ feedToken: 'secret', theme: 'dark' });
    const model = createOptionsModel(f.client);
    await model.reload();
    const exported = model.exportJson();
    expect(exported).not.toContain('secret');
    expect(await model.importJson('{"settings":{"theme":"neon"}}')).toBe(false);
    expect(f.store.saved.theme).toBe('dark');
    expect(await model.importJson('nope')).toBe(false);
    expect(await model.importJson(JSON.stringify({ settings: { ...DEFAULT_SETTINGS, theme: 'light', feedToken: undefined } }))).toBe(true);
    expect(f.store.saved).toMatchObject({ theme: 'light', feedToken: 'secret' });
  });
});
