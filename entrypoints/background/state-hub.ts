/**
 * Pushes the view to every open overlay and extension page over runtime
 * ports, so all CRM tabs follow a change within a frame. Each push is the
 * whole view, so a view that missed one is never left behind. Overlays get
 * offers only; extension pages also get whole sessions and the connection.
 */
import type { Browser } from 'wxt/browser';
import type { ConnectionState } from '../../utils/feed-client';
import { EMPTY_STATE, type FeedState, pendingOffers } from '../../utils/feed-state';
import type { PageSnapshot, StateSnapshot } from '../../utils/snapshot';
import type { ThemeSetting } from '../../utils/storage-items';
import { templateFor, type TemplateOverrides } from '../../utils/templates';

export interface ViewSettings {
  theme: ThemeSetting;
  templates: TemplateOverrides;
  strings?: Record<string, string>;
  sitesMissingPermission: string[];
}

export function toSnapshot(state: FeedState, settings: ViewSettings): StateSnapshot {
  return {
    theme: settings.theme,
    ...(settings.strings ? { strings: settings.strings } : {}),
    offers: pendingOffers(state).map((o) => ({
      offerId: o.offerId,
      conversation: o.conversation,
      deadline: o.deadline,
      receivedAt: o.receivedAt,
      template: templateFor(o.conversation.scenario, settings.templates),
      ...(state.identifications[o.conversation.id] ? { identification: state.identifications[o.conversation.id] } : {}),
    })),
    sessions: Object.values(state.sessions).map((s) => ({
      conversationId: s.conversationId,
      customerName: s.conversation.customer.name,
      ended: !!s.endedBy,
      messages: s.transcript.length,
    })),
  };
}

export class StateHub {
  readonly #ports = new Map<Browser.runtime.Port, 'overlay' | 'page'>();
  #state: FeedState = EMPTY_STATE;
  #settings: ViewSettings = { theme: 'system', templates: {}, sitesMissingPermission: [] };
  #connection: ConnectionState | null = null;

  add(port: Browser.runtime.Port, kind: 'overlay' | 'page'): void {
    this.#ports.set(port, kind);
    port.onDisconnect.addListener(() => this.#ports.delete(port));
    const view = toSnapshot(this.#state, this.#settings);
    this.#post(port, kind === 'page' ? this.#page(view) : view);
  }

  setState(state: FeedState): void {
    this.#state = state;
    this.#publish();
  }

  setSettings(settings: ViewSettings): void {
    this.#settings = settings;
    this.#publish();
  }

  setConnection(connection: ConnectionState): void {
    this.#connection = connection;
    this.#publish('page');
  }

  #page(view: StateSnapshot): PageSnapshot {
    return {
      ...view,
      sessionDetails: Object.values(this.#state.sessions).sort((a, b) => a.acceptedAt - b.acceptedAt),
      identifications: this.#state.identifications,
      connection: this.#connection,
      sitesMissingPermission: this.#settings.sitesMissingPermission,
    };
  }

  #publish(only?: 'overlay' | 'page'): void {
    const view = toSnapshot(this.#state, this.#settings);
    let page: PageSnapshot | undefined;
    for (const [port, kind] of this.#ports) {
      if (only && kind !== only) continue;
      this.#post(port, kind === 'page' ? (page ??= this.#page(view)) : view);
    }
  }

  #post(port: Browser.runtime.Port, snapshot: StateSnapshot): void {
    try {
      port.postMessage(snapshot);
    } catch {
      this.#ports.delete(port);
    }
  }
}
