/**
 * Puts the overlay on the page so the page cannot get at it:
 * - a plain <div> host (a custom-element name could be claimed by the page),
 *   styled inline with !important, which beats any page stylesheet;
 * - a closed shadow root, styled by a constructed stylesheet, which a strict
 *   page CSP does not block;
 * - re-attached if the page removes it; removed when a newer version of the
 *   extension takes over (ctx invalidated).
 */
import { render } from 'preact';
import { browser } from 'wxt/browser';
import { Overlay, overlayAnnouncer } from '../../components/Overlay';
import overlayCss from '../../components/overlay.css?inline';
import themeCss from '../../components/theme.css?inline';
import { setCatalogue } from '../../utils/i18n';
import { fetchInOrgTab } from '../../utils/crm/dynamics365-page';
import { onMessage, sendMessage } from '../../utils/messages';
import { createOverlayModel } from '../../utils/overlay-model';
import { type FromOverlay, type Handlers, onPortMessage, STATE_PORT, type ToOverlay } from '../../utils/ports';
import type { StateSnapshot } from '../../utils/snapshot';
import { hop, HOPS_ON } from '../../utils/hops';
import { resolveTheme, systemPrefersDark } from '../../utils/theme';
import { Lifetime } from './lifetime';
import { keepInView } from './placement';

/** Build-time constant (wxt.config.ts): true only in the accessibility audit build. */
declare const __DESKBELL_AUDIT_BUILD__: boolean;

const HOST_ATTR = 'data-deskbell-overlay';
const css = themeCss + overlayCss;

const HOST_STYLE: [string, string][] = [
  ['all', 'initial'],
  ['display', 'block'],
  ['position', 'fixed'],
  ['top', '0'],
  ['right', '0'],
  ['width', '0'],
  ['height', '0'],
  ['overflow', 'visible'],
  ['z-index', '2147483647'],
  ['visibility', 'visible'],
  ['opacity', '1'],
  ['transform', 'none'],
  ['filter', 'none'],
  ['pointer-events', 'none'],
];

/**
 * Set while an overlay of this version runs in this frame: the worker may
 * inject the script again (a same-document navigation, an update, a site
 * added twice), and the worker's probe reads it (background/reinject.ts).
 */
const RUNNING = Symbol.for('deskbell.overlay');
type Running = { [RUNNING]?: Lifetime };

export function mountOverlay(): void {
  const running = globalThis as Running;
  if (running[RUNNING]?.alive) return;
  const ctx = new Lifetime();
  running[RUNNING] = ctx;

  // A previous version's overlay (extension reloaded or updated) gives way.
  for (const stale of document.querySelectorAll(`[${HOST_ATTR}]`)) stale.remove();

  const host = document.createElement('div');
  host.setAttribute(HOST_ATTR, '');
  for (const [prop, value] of HOST_STYLE) host.style.setProperty(prop, value, 'important');
  // Closed: the page cannot reach in. Only the audit build (tests only) opens it, so axe can read it.
  const shadow = host.attachShadow({ mode: typeof __DESKBELL_AUDIT_BUILD__ !== 'undefined' && __DESKBELL_AUDIT_BUILD__ ? 'open' : 'closed' });
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
  } catch {
    const style = document.createElement('style');
    style.textContent = css;
    shadow.append(style);
  }
  const container = document.createElement('div');
  shadow.append(container);
  document.documentElement.append(host);

  // In the top layer, above modal dialogs and fullscreen elements, and put back if removed.
  const placement = keepInView(host, () => onVisibility());

  const model = createOverlayModel({
    accept: (offerId) => sendMessage('acceptOffer', { offerId }),
    reject: (offerId, reason) => sendMessage('rejectOffer', { offerId, ...(reason ? { reason } : {}) }),
    open: (conversationId) => sendMessage('openSession', { conversationId }),
    dismiss: (conversationId) => sendMessage('dismissNotice', { conversationId }),
  }, Date.now, overlayAnnouncer);

  // In view: the tab is shown and the cards can be on top (not under a fullscreen video).
  const visibility = (): FromOverlay => ({ type: 'visibility', visible: document.visibilityState === 'visible' && placement.inView });
  const shown = () => document.visibilityState === 'visible';
  /** The newest view from the worker while the tab is hidden: rendered when it is shown, not before. */
  let deferred: StateSnapshot | undefined;
  const onVisibility = () => {
    port?.postMessage(visibility());
    if (!shown()) return;
    if (deferred) show(deferred);
    else schedule();
  };
  document.addEventListener('visibilitychange', onVisibility);

  const systemDark = systemPrefersDark();

  function App() {
    return <Overlay model={model} theme={resolveTheme(model.snapshot.value?.theme, systemDark.value)} />;
  }
  render(<App />, container);

  function show(view: StateSnapshot): void {
    deferred = undefined;
    setCatalogue(view.strings);
    model.receive(view);
    schedule();
  }

  /**
   * The clock the cards read (countdown, wait time) moves only while cards
   * are on screen in a shown tab, once a second, on the second the countdown
   * changes, and at a card's end; the countdown bar steps with it. A hidden
   * tab, or one without cards, runs no timer at all.
   */
  let cancelTick: (() => void) | undefined;
  function schedule(): void {
    cancelTick?.();
    cancelTick = undefined;
    const cards = model.snapshot.value?.cards ?? [];
    if (!shown() || cards.length === 0) return;
    const now = Date.now();
    const next = Math.min(1000, ...cards.map((c) => (c.showUntil > now ? (c.showUntil - now) % 1000 || 1000 : 1000)));
    cancelTick = ctx.setTimeout(() => {
      model.tick();
      placement.place(); // in case the page outlasted the moves above
      schedule();
    }, next + 1);
  }

  const fromWorker: Handlers<ToOverlay> = {
    view: ({ view }) => {
      if (HOPS_ON) for (const card of view.cards) hop('arrived', card.id);
      if (shown()) show(view);
      else deferred = view;
    },
    // Deskbell has no access to this site any more (the agent revoked it): leave the page.
    leave: () => ctx.end(),
    chooseReason: ({ offerId }) => model.chooseReason(offerId),
    focusCards: () => model.requestFocus(),
  };

  let port: ReturnType<typeof browser.runtime.connect> | undefined;
  const connect = () => {
    if (!ctx.alive) return;
    try {
      port = browser.runtime.connect({ name: STATE_PORT });
    } catch {
      return ctx.end(); // The extension is gone.
    }
    // The worker sends desktop notifications only when no CRM tab is in view.
    port.postMessage(visibility());
    port.onMessage.addListener((message) => onPortMessage(fromWorker, message));
    // The worker was stopped or restarted: reconnecting wakes it, and it pushes the state again.
    port.onDisconnect.addListener(() => {
      port = undefined;
      ctx.setTimeout(connect, 300);
    });
  };
  connect();

  // The worker asks a Dynamics 365 tab for Web API requests with the agent's own session.
  const stopLookups = onMessage('crmRequest', ({ data, sender }) => {
    if (sender.id !== browser.runtime.id || sender.tab) return { error: 'Refused: not from Deskbell.' };
    return fetchInOrgTab(data);
  });

  ctx.onEnd(() => {
    stopLookups();
    placement.stop();
    document.removeEventListener('visibilitychange', onVisibility);
    port?.disconnect();
    render(null, container);
    host.remove();
  });
}
