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

export interface ToolbarApi {
  setBadgeText(details: { text: string }): Promise<void> | void;
  setBadgeBackgroundColor(details: { color: string }): Promise<void> | void;
  setTitle(details: { title: string }): Promise<void> | void;
}

/** Paints the toolbar button, and only when what it shows changes. */
export class ToolbarPainter {
  #shown = '';

  constructor(
    private readonly action: ToolbarApi,
    /** The tooltip: the extension's name, and the connection's status and problem when offline. */
    private readonly title: (connection: ConnectionState | null, problem: string | null) => string,
  ) {}

  paint(pending: number, connection: ConnectionState | null): void {
    const look = toolbarLook(pending, connection);
    const title = this.title(connection, look.problem);
    const key = JSON.stringify([look, title]);
    if (key === this.#shown) return;
    this.#shown = key;
    void this.action.setBadgeText({ text: look.text });
    void this.action.setBadgeBackgroundColor({ color: look.color });
    void this.action.setTitle({ title });
  }
}
