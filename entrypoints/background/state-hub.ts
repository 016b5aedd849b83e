/**
 * Pushes the view to every open overlay and extension page over runtime
 * ports, so all CRM tabs follow a change within a frame. Each push is the
 * whole view, so a view that missed one is never left behind. Overlays get
 * offers only; extension pages also get whole sessions and the connection.
 */
import type { Browser } from 'wxt/browser';
import type { ConnectionState } from '../../utils/connection';
import type { SignInView } from '../../utils/oidc';
import type { Identification } from '../../utils/crm/types';
import { hop, HOPS_ON } from '../../utils/hops';
import { cardsOnScreen, EMPTY_STATE, type FeedState, pendingOffers } from './feed-state';
import { readOverlayMessage, type ToOverlay, type ToPage } from '../../utils/ports';
import type { CardView, PageSnapshot, StateSnapshot } from '../../utils/snapshot';
import type { ThemeSetting } from '../../utils/storage-items';
import type { TemplateOverrides } from '../../utils/templates';

export interface ViewSettings {
  theme: ThemeSetting;
  templates: TemplateOverrides;
  strings?: Record<string, string>;
  sitesMissingPermission: string[];
}

/**
 * What a card says about the customer's CRM record: the contact and its link,
 * or how many candidates; never the account, cases, or the candidates'
 * addresses, which stay in the extension's own pages.
 */
function forPage(identification: Identification | undefined): Identification | undefined {
  if (identification?.status === 'matched') {
    const { details: _details, detailsError: _error, ...rest } = identification;
    const { id, name, recordUrl } = rest.contact;
    return { ...rest, contact: { id, name, ...(recordUrl ? { recordUrl } : {}) } };
  }
  if (identification?.status === 'ambiguous') return { ...identification, candidates: identification.candidates.map(({ id, name }) => ({ id, name })) };
  return identification;
}

/** The overlay's view: each card as the worker decided it shows, nothing else. */
export function toSnapshot(state: FeedState, settings: ViewSettings): StateSnapshot {
  const cards = cardsOnScreen(state).map(({ presentation, ...card }): CardView => {
    const identification = forPage(state.identifications[card.conversation.id]);
    return { ...card, template: presentation.template, ...(identification ? { identification } : {}) };
  });
  return {
    theme: settings.theme,
    ...(settings.strings ? { strings: settings.strings } : {}),
    // Cards only: what customers said in open sessions never goes to a CRM page's renderer.
    cards,
    skewMs: state.skewMs,
  };
}

/** A frame: views go out no more often than this while the state keeps changing. */
const PUSH_EVERY_MS = 16;

export class StateHub {
  readonly #ports = new Map<Browser.runtime.Port, 'overlay' | 'page'>();
  /** Overlays whose page is visible, reported by each overlay. */
  readonly #visible = new Set<Browser.runtime.Port>();

  constructor(private readonly onVisibility: () => void = () => {}) {}
  #state: FeedState = EMPTY_STATE;
  #settings: ViewSettings = { theme: 'system', templates: {}, sitesMissingPermission: [] };
  #connection: ConnectionState | null = null;
  #signIn: SignInView | null = null;
  /** When the last view with the state went out, and the push waiting for the next frame. */
  #lastPush = -Infinity;
  /** What the last push took the worker (building and posting the views), in ms. */
  #pushCost = 0;
  #pushTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Takes a port as soon as it connects, so none of its messages is missed,
   * and pushes the view once `admitted` says yes (the state is loaded, the
   * page may have the overlay); a port refused is sent away.
   */
  add(port: Browser.runtime.Port, kind: 'overlay' | 'page', admitted: Promise<boolean> = Promise.resolve(true)): void {
    let visible = false;
    let gone = false;
    port.onDisconnect.addListener(() => {
      gone = true;
      this.#forget(port);
    });
    if (kind === 'overlay') {
      port.onMessage.addListener((message: unknown) => {
        // The only thing an overlay says; anything else from the page's renderer is ignored.
        const read = readOverlayMessage(message);
        if (!read) return;
        visible = read.visible;
        if (this.#ports.has(port)) this.#setVisible(port, visible);
      });
    }
    void admitted.then((ok) => {
      if (gone) return;
      if (!ok) return sendAway(port);
      this.#ports.set(port, kind);
      this.#setVisible(port, visible);
      const view = toSnapshot(this.#state, this.#settings);
      this.#post(port, kind === 'page' ? this.#page(view) : view);
    });
  }

  #forget(port: Browser.runtime.Port): void {
    this.#ports.delete(port);
    if (this.#visible.delete(port)) this.onVisibility();
  }

  #setVisible(port: Browser.runtime.Port, visible: boolean): void {
    if (visible === this.#visible.has(port)) return;
    if (visible) this.#visible.add(port);
    else this.#visible.delete(port);
    this.onVisibility();
  }

  /** Sends away the overlays on pages Deskbell may no longer run on: each removes itself. */
  async dropOverlays(mayStay: (url: string | undefined) => Promise<boolean>): Promise<void> {
    const overlays = [...this.#ports].filter(([, kind]) => kind === 'overlay').map(([port]) => port);
    const stay = await Promise.all(overlays.map((port) => mayStay(port.sender?.url)));
    overlays.forEach((port, i) => {
      if (stay[i]) return;
      this.#forget(port);
      sendAway(port);
    });
  }

  /** Asks every overlay to show the reasons of this offer's Reject (a reject from elsewhere needs one). */
  chooseReason(offerId: string): void {
    for (const [port, kind] of this.#ports) if (kind === 'overlay') post(port, { type: 'chooseReason', offerId });
  }

  /** Moves the keyboard focus to the newest card in this tab's overlay (the focus shortcut). */
  focusCards(tabId: number | undefined): void {
    for (const [port, kind] of this.#ports) if (kind === 'overlay' && port.sender?.tab?.id === tabId) post(port, { type: 'focusCards' });
  }

  /** True while any CRM tab with the overlay is visible to the agent. */
  crmTabInView(): boolean {
    const focused = this.#focusedWindow;
    if (focused === undefined) return this.#visible.size > 0;
    return [...this.#visible].some((port) => port.sender?.tab?.windowId === focused);
  }

  /**
   * The browser window that has the focus (`windows.onFocusChanged`), or none
   * (-1: the agent is in another application). A visible tab in a window
   * behind another, or in a browser that lost the focus, is not in view:
   * Chromium on Linux reports every window visible, so visibility alone
   * cannot tell. Unknown until Chrome first says.
   */
  #focusedWindow: number | undefined;
  setFocusedWindow(windowId: number): void {
    if (windowId === this.#focusedWindow) return;
    this.#focusedWindow = windowId;
    this.onVisibility();
  }

  /** The tab of an overlay, preferring one in view: where to take the agent back to. */
  crmTab(): { tabId: number; windowId: number } | undefined {
    const ports = [...this.#visible, ...this.#ports.keys()].filter((p) => this.#ports.get(p) === 'overlay' && p.sender?.tab?.id !== undefined);
    const tab = ports[0]?.sender?.tab;
    return tab ? { tabId: tab.id!, windowId: tab.windowId } : undefined;
  }

  /**
   * A change goes out at once; while changes keep coming (a burst of a
   * thousand offers), at most one view a frame, with the newest state, and
   * never so often that sending views takes more than a tenth of the time:
   * a view of a thousand cards is a large message for every tab.
   */
  setState(state: FeedState): void {
    this.#state = state;
    if (this.#pushTimer !== undefined) return;
    const wait = this.#lastPush + Math.max(PUSH_EVERY_MS, 10 * this.#pushCost) - performance.now();
    if (wait <= 0) return this.#publish();
    this.#pushTimer = setTimeout(() => {
      this.#pushTimer = undefined;
      this.#publish();
    }, wait);
  }

  setSettings(settings: ViewSettings): void {
    this.#settings = settings;
    this.#publish();
  }

  setSignIn(signIn: SignInView | null): void {
    this.#signIn = signIn;
    this.#publish('page');
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
      writeBacks: Object.fromEntries(Object.entries(this.#state.writeBacks ?? {}).map(([id, job]) => [id, { crm: job.org.crm, status: job.status, attempts: job.attempts, nextAt: job.nextAt, ...(job.error ? { error: job.error } : {}) }])),
      connection: this.#connection,
      signIn: this.#signIn,
      sitesMissingPermission: this.#settings.sitesMissingPermission,
      pendingOffers: pendingOffers(this.#state).length,
      ...(this.#state.routing ? { routing: this.#state.routing } : {}),
      ...(this.#state.capacity ? { capacity: this.#state.capacity } : {}),
      ...(this.#state.focus ? { focus: this.#state.focus } : {}),
    };
  }

  #publish(only?: 'overlay' | 'page'): void {
    const start = performance.now();
    const view = toSnapshot(this.#state, this.#settings);
    let page: PageSnapshot | undefined;
    for (const [port, kind] of this.#ports) {
      if (only && kind !== only) continue;
      this.#post(port, kind === 'page' ? (page ??= this.#page(view)) : view);
    }
    if (only !== 'page') {
      this.#lastPush = performance.now();
      this.#pushCost = this.#lastPush - start;
    }
    if (HOPS_ON && only !== 'page') for (const card of view.cards) hop('posted', card.id);
  }

  #post(port: Browser.runtime.Port, view: StateSnapshot | PageSnapshot): void {
    if (!post(port, { type: 'view', view } as ToOverlay | ToPage)) this.#ports.delete(port);
  }
}

/** Posts a typed message; false when the port is gone. */
function post(port: Browser.runtime.Port, message: ToOverlay | ToPage): boolean {
  try {
    port.postMessage(message);
    return true;
  } catch {
    return false;
  }
}

/** Tells an overlay to remove itself, and closes its port. */
export function sendAway(port: Browser.runtime.Port): void {
  try {
    post(port, { type: 'leave' });
    port.disconnect();
  } catch {
    // Gone already.
  }
}
