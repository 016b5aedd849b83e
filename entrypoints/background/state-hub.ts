/**
 * Pushes the view to every open overlay and extension page over runtime
 * ports, so all CRM tabs follow a change within a frame. Each push is the
 * whole view (small), so a view that missed one is never left behind.
 */
import type { Browser } from 'wxt/browser';
import { EMPTY_STATE, type FeedState, pendingOffers } from '../../utils/feed-state';
import type { StateSnapshot } from '../../utils/snapshot';
import type { ThemeSetting } from '../../utils/storage-items';
import { templateFor, type TemplateOverrides } from '../../utils/templates';

export interface ViewSettings {
  theme: ThemeSetting;
  templates: TemplateOverrides;
}

export function toSnapshot(state: FeedState, settings: ViewSettings): StateSnapshot {
  return {
    theme: settings.theme,
    offers: pendingOffers(state).map((o) => {
      const template = templateFor(o.conversation.scenario, settings.templates);
      return {
        offerId: o.offerId,
        conversation: o.conversation,
        deadline: o.deadline,
        receivedAt: o.receivedAt,
        template,
      };
    }),
    sessions: Object.values(state.sessions).map((s) => ({
      conversationId: s.conversationId,
      customerName: s.conversation.customer.name,
      ended: !!s.endedBy,
      messages: s.transcript.length,
    })),
  };
}

export class StateHub {
  readonly #ports = new Set<Browser.runtime.Port>();
  #state: FeedState = EMPTY_STATE;
  #settings: ViewSettings = { theme: 'system', templates: {} };

  add(port: Browser.runtime.Port): void {
    this.#ports.add(port);
    port.onDisconnect.addListener(() => this.#ports.delete(port));
    this.#post(port, toSnapshot(this.#state, this.#settings));
  }

  setState(state: FeedState): void {
    this.#state = state;
    this.#publish();
  }

  setSettings(settings: ViewSettings): void {
    this.#settings = settings;
    this.#publish();
  }

  #publish(): void {
    const snapshot = toSnapshot(this.#state, this.#settings);
    for (const port of this.#ports) this.#post(port, snapshot);
  }

  #post(port: Browser.runtime.Port, snapshot: StateSnapshot): void {
    try {
      port.postMessage(snapshot);
    } catch {
      this.#ports.delete(port);
    }
  }
}
