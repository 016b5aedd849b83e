/**
 * The service worker only wires: listeners first (synchronously, so events
 * that woke the worker are not missed), then the feed and the state keeper.
 */
import { browser, type Browser } from 'wxt/browser';
import { defineBackground } from 'wxt/utils/define-background';
import { pendingOffers, resolveOffer } from '../../utils/feed-state';
import { onMessage, STATE_PORT } from '../../utils/messages';
import { diagnostics, feedSettings, feedState, templateOverrides, theme } from '../../utils/storage-items';
import { templateFor } from '../../utils/templates';
import { commandHandler, OfferCommand, RejectCommand } from './commands';
import { FeedConnection } from './feed-connection';
import { injectIntoOpenTabs } from './reinject';
import { StateHub, type ViewSettings } from './state-hub';
import { StateKeeper } from './state-keeper';

const WAKE_ALARM = 'deskbell-wake';
const DEADLINE_ALARM = 'deskbell-deadline';

export default defineBackground(() => {
  const hub = new StateHub();
  let settings: ViewSettings = { theme: 'system', templates: {} };
  const keeper = new StateKeeper({
    load: () => feedState.getValue(),
    save: (state) => feedState.setValue(state),
    onChange: (state) => {
      hub.setState(state);
      void browser.action.setBadgeText({ text: badgeText(pendingOffers(state).length) });
    },
    scheduleWake: (at) => {
      if (at === undefined) void browser.alarms.clear(DEADLINE_ALARM);
      else void browser.alarms.create(DEADLINE_ALARM, { when: at });
    },
  });
  // An alert's template may keep it up for less than the feed allows; a toast's time is only how long it shows.
  const feed = new FeedConnection(keeper, (c) => {
    const template = templateFor(c.scenario, settings.templates);
    return template.kind === 'alert' ? template.timeoutSec * 1000 : Infinity;
  });

  const settingsReady = loadSettings();
  browser.runtime.onInstalled.addListener(({ reason }) => {
    if (reason === 'install' || reason === 'update') void injectIntoOpenTabs();
  });

  browser.runtime.onConnect.addListener((port: Browser.runtime.Port) => {
    if (port.name !== STATE_PORT) return;
    // The first push waits for the stored state, so a woken worker never shows an empty view.
    void Promise.all([keeper.ready, settingsReady]).then(() => hub.add(port));
  });

  // Wakes a stopped worker so it reconnects and expires offers on time; the
  // socket's heartbeat keeps a running worker alive between alarms.
  browser.alarms.onAlarm.addListener(() => feed.nudge());
  void browser.alarms.create(WAKE_ALARM, { periodInMinutes: 0.5 });

  feedSettings.watch(() => void feed.restart());
  theme.watch(() => void loadSettings());
  templateOverrides.watch(() => void loadSettings());

  onMessage('acceptOffer', commandHandler(OfferCommand, async ({ offerId }) => {
    await keeper.ready;
    const offer = keeper.state.offers[offerId];
    if (offer?.status !== 'offered') return { ok: false, error: 'This conversation is no longer offered to you.' };
    if (!feed.send({ type: 'accept', offerId })) return { ok: false, error: 'Not connected to the conversation feed.' };
    // The feed's `accepted` event opens the session; until then the offer is settled here.
    await keeper.update((s, now) => resolveOffer(s, offerId, 'accepted', now));
    return { ok: true };
  }));

  onMessage('rejectOffer', commandHandler(RejectCommand, async ({ offerId, reason }) => {
    await keeper.ready;
    const offer = keeper.state.offers[offerId];
    if (offer?.status !== 'offered') return { ok: false, error: 'This conversation is no longer offered to you.' };
    if (!templateFor(offer.conversation.scenario, settings.templates).rejectAllowed) {
      return { ok: false, error: 'Rejecting is not allowed for this kind of conversation.' };
    }
    if (!feed.send({ type: 'reject', offerId, ...(reason ? { reason } : {}) })) {
      return { ok: false, error: 'Not connected to the conversation feed.' };
    }
    await keeper.update((s, now) => resolveOffer(s, offerId, 'rejected', now));
    return { ok: true };
  }));

  onMessage('getDiagnostics', () => diagnostics.getValue());

  void feed.restart();

  async function loadSettings(): Promise<void> {
    const [t, templates] = await Promise.all([theme.getValue(), templateOverrides.getValue()]);
    settings = { theme: t, templates };
    hub.setSettings(settings);
  }
});

function badgeText(count: number): string {
  if (count === 0) return '';
  return count > 99 ? '99+' : String(count);
}
