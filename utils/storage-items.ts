/**
 * Every key Deskbell keeps, defined once. `local:` survives browser restarts
 * (settings); `session:` lives as long as the browser and is readable only by
 * the extension's own pages and worker, not by content scripts (state that
 * matters while the worker sleeps).
 */
import { storage } from 'wxt/utils/storage';
import type { ConnectionState } from './connection';
import { EMPTY_STATE, type FeedState } from './state';
import type { SoundState } from './messages';
import type { Presence } from '../protocol/feed';
import type { Settings } from './settings';
import type { StoredSignIn } from './oidc';

export type ThemeSetting = Settings['theme'];

/**
 * What the admin saved on the options page. Read through
 * `effectiveSettings`, which checks each field and applies policy on top.
 */
export const savedSettings = storage.defineItem<Partial<Settings>>('local:settings', { version: 1, fallback: {} });

/** The last enterprise policy read from storage.managed (see settings-store.ts for why). */
export const policyCache = storage.defineItem<Record<string, unknown>>('local:policyCache', { version: 1, fallback: {} });

export const agentPresence = storage.defineItem<Presence>('local:presence', { version: 1, fallback: 'available' });

/** Last feed seq the worker has handled; the next connection resumes from it. */
export const feedCursor = storage.defineItem<number>('session:feedCursor', { fallback: 0 });

export const feedState = storage.defineItem<FeedState>('session:feedState', { fallback: EMPTY_STATE });

export interface Diagnostics {
  connection: ConnectionState;
  invalidFrames: number;
  lastInvalidFrame?: string;
  duplicates: number;
  /** Times the feed client gave up resuming past an event it could not read, and why the last time. */
  freshStarts?: number;
  lastFreshStart?: string;
  lastFeedError?: string;
  /** The last events handled, newest last: seq, type and the id they concern. */
  journal: { seq: number; type: string; id: string }[];
  /** What the offscreen document last said about the ringtone. */
  sound?: SoundState;
  /** When the worker last applied the settings (templates, sites, language): what a new offer is decided with from then on. */
  settingsAppliedAt?: number;
  /** The last time the offer state could not be stored whole (storage.session full). */
  lastStorageError?: string;
}

/** The agent's sign-in (tokens): storage.session, so trusted contexts only, in memory, gone with the browser. */
export const signInTokens = storage.defineItem<StoredSignIn | null>('session:signIn', { fallback: null });
/** The next sign-in asks for the password again (the agent signed out): session, so a new browser starts afresh. */
export const signInAskLogin = storage.defineItem<boolean>('session:signInAskLogin', { fallback: false });

export const diagnostics = storage.defineItem<Diagnostics>('session:diagnostics', {
  fallback: { connection: { status: 'idle', attempt: 0, since: 0 }, invalidFrames: 0, duplicates: 0, journal: [] },
});

/**
 * Builds before settings were one object kept the feed, theme and templates
 * under keys of their own. Moves them into `settings` once and removes them.
 */
export async function migrateLegacySettings(): Promise<boolean> {
  const [feed, theme, templates, saved] = await Promise.all([
    storage.getItem<{ url?: string; token?: string }>('local:feedSettings'),
    storage.getItem<Settings['theme']>('local:theme'),
    storage.getItem<Settings['templates']>('local:templates'),
    savedSettings.getValue(),
  ]);
  if (feed === null && theme === null && templates === null) return false;
  await savedSettings.setValue({
    ...(feed?.url !== undefined ? { feedUrl: feed.url } : {}),
    ...(feed?.token !== undefined ? { feedToken: feed.token } : {}),
    ...(theme !== null ? { theme } : {}),
    ...(templates !== null ? { templates } : {}),
    ...saved,
  });
  await storage.removeItems(['local:feedSettings', 'local:theme', 'local:templates']);
  return true;
}
