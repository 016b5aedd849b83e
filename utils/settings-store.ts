/**
 * Effective settings as the worker and the pages see them: what was saved,
 * under enterprise policy (`storage.managed`), re-read whenever either
 * changes — a policy that arrives late applies without a reload.
 *
 * Chrome's first read of `storage.managed` after a browser start can take
 * seconds, so the last policy seen is kept in `storage.local` (trusted
 * contexts only) and applied at once; the live read replaces it when it comes.
 */
import { browser } from 'wxt/browser';
import { type EffectiveSettings, effectiveSettings } from './settings';
import { policyCache, savedSettings } from './storage-items';

export async function readPolicy(): Promise<Record<string, unknown>> {
  try {
    return (await browser.storage.managed.get(null)) as Record<string, unknown>;
  } catch {
    // No policy store on this platform, or no schema: nothing is managed.
    return {};
  }
}

/** Effective settings from what was saved and the last policy seen. */
export async function loadEffectiveSettings(): Promise<EffectiveSettings> {
  const [saved, policy] = await Promise.all([savedSettings.getValue(), policyCache.getValue()]);
  return effectiveSettings(saved, policy);
}

/** Reads the live policy and stores it if it changed (which notifies the watchers). */
export async function refreshPolicy(): Promise<void> {
  const [live, cached] = await Promise.all([readPolicy(), policyCache.getValue()]);
  if (JSON.stringify(live) !== JSON.stringify(cached)) await policyCache.setValue(live);
}

/** Calls back after every change of the saved settings or the policy. */
export function watchEffectiveSettings(onChange: () => void): () => void {
  const unwatchSaved = savedSettings.watch(onChange);
  const unwatchPolicy = policyCache.watch(onChange);
  // The managed area's own event, not `storage.onChanged`: that one would bring the worker every
  // `storage.session` write of the state (old and new value, copied by the browser process) on the
  // path of the next offer.
  const onManaged = () => void refreshPolicy();
  browser.storage.managed.onChanged.addListener(onManaged);
  return () => {
    unwatchSaved();
    unwatchPolicy();
    browser.storage.managed.onChanged.removeListener(onManaged);
  };
}
