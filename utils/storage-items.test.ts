import { beforeEach, describe, expect, it } from 'vitest';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import { storage } from 'wxt/utils/storage';
import { migrateLegacySettings, savedSettings } from './storage-items';

describe('storage migrations', () => {
  beforeEach(() => fakeBrowser.reset());

  it('moves settings kept under the old keys into one settings object', async () => {
    await storage.setItem('local:feedSettings', { url: 'wss://feed.example/feed', token: 't' });
    await storage.setItem('local:theme', 'dark');
    expect(await migrateLegacySettings()).toBe(true);
    expect(await savedSettings.getValue()).toEqual({ feedUrl: 'wss://feed.example/feed', feedToken: 't', theme: 'dark' });
    expect(await storage.getItem('local:feedSettings')).toBeNull();
    expect(await storage.getItem('local:theme')).toBeNull();
  });

  it('lets what was saved in the new form win, and does nothing the second time', async () => {
    await storage.setItem('local:theme', 'dark');
    await savedSettings.setValue({ theme: 'light' });
    await migrateLegacySettings();
    expect(await savedSettings.getValue()).toEqual({ theme: 'light' });
    expect(await migrateLegacySettings()).toBe(false);
  });
});
