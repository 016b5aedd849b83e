/**
 * The service worker only wires: listeners first (synchronously, so events
 * that woke the worker are not missed), then the feed and the state keeper.
 */
import { browser, type Browser } from 'wxt/browser';
import { defineBackground } from 'wxt/utils/define-background';
import { pendingOffers, resolveOffer } from '../../utils/feed-state';
import { OfferCommand, onMessage, RejectCommand, STATE_PORT } from '../../utils/messages';
import { diagnostics, feedSettings, feedState } from '../../utils/storage-items';
import { FeedConnection } from './feed-connection';
import { commandHandler } from './commands';
import { StateHub } from './state-hub';
import { StateKeeper } from './state-keeper';

const WAKE_ALARM = 'deskbell-wake';
const DEADLINE_ALARM = 'deskbell-deadline';

export default defineBackground(() => {
  const hub = new StateHub();
  const keeper = new StateKeeper({
    load: () => feedState.getValue(),
    save: (state) => feedState.setValue(state),
    onChange: (state) => {
      hub.publish(state);
      void browser.action.setBadgeText({ text: badgeText(pendingOffers(state).length) });
    },
    scheduleWake: (at) => {
      if (at === undefined) void browser.alarms.clear(DEADLINE_ALARM);
      else void browser.alarms.create(DEADLINE_ALARM, { when: at });
    },
  });
  const feed = new FeedConnection(keeper);

  browser.runtime.onConnect.addListener((port: Browser.runtime.Port) => {
    if (port.name !== STATE_PORT) return;
    hub.add(port);
    void keeper.ready.then(() => hub.send(port, keeper.state));
  });

  // Wakes a stopped worker so it reconnects and expires offers on time; the
  // socket's heartbeat keeps a running worker alive between alarms.
  browser.alarms.onAlarm.addListener(() => feed.nudge());
  void browser.alarms.create(WAKE_ALARM, { periodInMinutes: 0.5 });

  feedSettings.watch(() => void feed.restart());

  onMessage('acceptOffer', commandHandler(OfferCommand, async ({ offerId }) => {
    await keeper.ready;
    const offer = keeper.state.offers[offerId];
    if (offer?.status !== 'offered') return { ok: false, error: 'This offer is no longer open.' };
    if (!feed.send({ type: 'accept', offerId })) return { ok: false, error: 'Not connected to the conversation feed.' };
    // The feed's `accepted` event opens the session; until then the offer is settled here.
    await keeper.update((s, now) => resolveOffer(s, offerId, 'accepted', now));
    return { ok: true };
  }));

  onMessage('rejectOffer', commandHandler(RejectCommand, async ({ offerId, reason }) => {
    await keeper.ready;
    const offer = keeper.state.offers[offerId];
    if (offer?.status !== 'offered') return { ok: false, error: 'This offer is no longer open.' };
    if (!feed.send({ type: 'reject', offerId, ...(reason ? { reason } : {}) })) {
      return { ok: false, error: 'Not connected to the conversation feed.' };
    }
    await keeper.update((s, now) => resolveOffer(s, offerId, 'rejected', now));
    return { ok: true };
  }));

  onMessage('getDiagnostics', () => diagnostics.getValue());

  void feed.restart();
});

function badgeText(count: number): string {
  if (count === 0) return '';
  return count > 99 ? '99+' : String(count);
}
