/**
 * Every key Deskbell keeps, defined once. `local:` survives browser restarts
 * (settings); `session:` lives as long as the browser and is readable only by
 * the extension's own pages and worker, not by content scripts (state that
 * matters while the worker sleeps).
 */
import { storage } from 'wxt/utils/storage';
import type { ConnectionState } from './feed-client';
import { EMPTY_STATE, type FeedState } from './feed-state';
import type { Presence } from './protocol/feed';
import type { TemplateOverrides } from './templates';

declare const __DESKBELL_DEFAULT_FEED_URL__: string;
declare const __DESKBELL_DEFAULT_FEED_TOKEN__: string;

export interface FeedSettings {
  /** wss:// URL of the conversation feed (ws:// only for localhost). */
  url: string;
  /** The agent's token for the feed. */
  token: string;
}

export const feedSettings = storage.defineItem<FeedSettings>('local:feedSettings', {
  version: 1,
  fallback: { url: __DESKBELL_DEFAULT_FEED_URL__, token: __DESKBELL_DEFAULT_FEED_TOKEN__ },
});

export type ThemeSetting = 'dark' | 'light' | 'system';

export const theme = storage.defineItem<ThemeSetting>('local:theme', { version: 1, fallback: 'system' });

/** The admin's changes to the default templates, per scenario and field. */
export const templateOverrides = storage.defineItem<TemplateOverrides>('local:templates', { version: 1, fallback: {} });

export const agentPresence = storage.defineItem<Presence>('local:presence', { version: 1, fallback: 'available' });

/** Last feed seq the worker has handled; the next connection resumes from it. */
export const feedCursor = storage.defineItem<number>('session:feedCursor', { fallback: 0 });

export const feedState = storage.defineItem<FeedState>('session:feedState', { fallback: EMPTY_STATE });

export interface Diagnostics {
  connection: ConnectionState;
  invalidFrames: number;
  lastInvalidFrame?: string;
  duplicates: number;
  lastFeedError?: string;
  /** The last events handled, newest last: seq, type and the id they concern. */
  journal: { seq: number; type: string; id: string }[];
}

export const diagnostics = storage.defineItem<Diagnostics>('session:diagnostics', {
  fallback: { connection: { status: 'idle', attempt: 0, since: 0 }, invalidFrames: 0, duplicates: 0, journal: [] },
});
