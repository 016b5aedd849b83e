/**
 * Pushes the state to every open overlay and extension page over runtime
 * ports, so all CRM tabs follow a change within a frame. Each push is the
 * whole view (small), so a view that missed one is never left behind.
 */
import type { Browser } from 'wxt/browser';
import { type FeedState, pendingOffers } from '../../utils/feed-state';
import type { StateSnapshot } from '../../utils/snapshot';

export function toSnapshot(state: FeedState): StateSnapshot {
  return {
    offers: pendingOffers(state).map((o) => ({ offerId: o.offerId, conversation: o.conversation, deadline: o.deadline, receivedAt: o.receivedAt })),
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

  add(port: Browser.runtime.Port): void {
    this.#ports.add(port);
    port.onDisconnect.addListener(() => this.#ports.delete(port));
  }

  send(port: Browser.runtime.Port, state: FeedState): void {
    try {
      port.postMessage(toSnapshot(state));
    } catch {
      this.#ports.delete(port);
    }
  }

  publish(state: FeedState): void {
    const snapshot = toSnapshot(state);
    for (const port of this.#ports) {
      try {
        port.postMessage(snapshot);
      } catch {
        this.#ports.delete(port);
      }
    }
  }
}
