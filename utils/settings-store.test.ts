import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import { loadEffectiveSettings, watchEffectiveSettings } from './settings-store';

describe('watchEffectiveSettings', () => {
  beforeEach(() => fakeBrowser.reset());

  it('applies a policy that changes while the browser runs', async () => {
    const onChange = vi.fn();
    const stop = watchEffectiveSettings(onChange);
    await fakeBrowser.storage.managed.set({ Theme: 'dark' });
    await vi.waitFor(() => expect(onChange).toHaveBeenCalled());
    const { settings, locked } = await loadEffectiveSettings();
    expect(settings.theme).toBe('dark');
    expect(locked).toContain('theme');
    stop();
  });

  it('is not told of storage.session writes: the state written on every offer never comes back to the worker', async () => {
    const onChange = vi.fn();
    const stop = watchEffectiveSettings(onChange);
    // storage.onChanged would carry every area's writes (old and new value) to the listener's context.
    expect(fakeBrowser.storage.onChanged.hasListeners()).toBe(false);
    await fakeBrowser.storage.session.set({ feedState: { offers: {} } });
    expect(onChange).not.toHaveBeenCalled();
    stop();
    expect(fakeBrowser.storage.managed.onChanged.hasListeners()).toBe(false);
  });
});
