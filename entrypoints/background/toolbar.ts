/**
 * The toolbar button tells the agent, without opening anything, how many
 * offers wait and whether the feed is reachable: a dead feed must not look
 * like a quiet one.
 */
import type { ConnectionState } from '../../utils/feed-client';

export interface ToolbarLook {
  text: string;
  color: string;
  /** The status part of the tooltip, after the extension's name; empty when connected. */
  problem: string | null;
}

export const ONLINE_COLOR = '#2563eb';
export const OFFLINE_COLOR = '#b45309';

/**
 * Offline: not connected, and not just starting (a first attempt, or the
 * moment between two clients when the settings change, is not a problem yet).
 */
export function isOffline(connection: ConnectionState | null): boolean {
  if (!connection || connection.status === 'open') return false;
  if (connection.status === 'connecting') return connection.attempt > 0;
  if (connection.status === 'idle') return !!connection.lastError;
  return true;
}

export function toolbarLook(pending: number, connection: ConnectionState | null): ToolbarLook {
  const offline = isOffline(connection);
  const count = pending === 0 ? '' : pending > 99 ? '99+' : String(pending);
  return {
    text: count || (offline ? '!' : ''),
    color: offline ? OFFLINE_COLOR : ONLINE_COLOR,
    problem: offline ? (connection!.lastError ?? '') : null,
  };
}
