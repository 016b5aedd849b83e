/**
 * The feed connection as every part of the extension sees it: the worker's
 * feed client reports it, the toolbar, popup, side panel and options page
 * show it.
 */
export type ConnectionStatus = 'idle' | 'connecting' | 'open' | 'waiting' | 'refused';

export interface ConnectionState {
  status: ConnectionStatus;
  /** Failed attempts since the last successful welcome. */
  attempt: number;
  /** When the next attempt starts (waiting, refused); none when it waits for the worker's wake alarm. */
  retryAt?: number;
  agentId?: string;
  agentName?: string;
  lastError?: string;
  /** The feed node the client is on (open), or tries next: shown in diagnostics only. */
  node?: string;
  /** When the status last changed. */
  since: number;
}

/**
 * Offline, as the agent should be told: not connected, and not just starting
 * (a first attempt, or the moment between two clients when the settings
 * change, is not a problem yet).
 */
export function isOffline(connection: ConnectionState | null | undefined): boolean {
  if (!connection || connection.status === 'open') return false;
  if (connection.status === 'connecting') return connection.attempt > 0;
  if (connection.status === 'idle') return !!connection.lastError;
  return true;
}
