/**
 * The toolbar button tells the agent, without opening anything, how many
 * offers wait and whether the feed is reachable: a dead feed must not look
 * like a quiet one.
 */
import { type ConnectionState, isOffline } from '../../utils/connection';

export interface ToolbarLook {
  text: string;
  color: string;
  /** Offline: the reason for the tooltip ('' when none is known); null when connected. */
  problem: string | null;
}

export const ONLINE_COLOR = '#2563eb';
export const OFFLINE_COLOR = '#b45309';

export function toolbarLook(pending: number, connection: ConnectionState | null): ToolbarLook {
  const offline = isOffline(connection);
  const count = pending === 0 ? '' : pending > 99 ? '99+' : String(pending);
  return {
    text: count || (offline ? '!' : ''),
    color: offline ? OFFLINE_COLOR : ONLINE_COLOR,
    problem: offline ? (connection!.lastError ?? '') : null,
  };
}
