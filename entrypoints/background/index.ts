/**
 * The service worker only wires: listeners first (synchronously, so events
 * that woke the worker are not missed), then the feed and the state keeper.
 */
import { browser, type Browser } from 'wxt/browser';
import { defineBackground } from 'wxt/utils/define-background';
import { closeSession, type FeedState, pendingOffers, pickContact, setIdentification } from './feed-state';
import { onMessage, sendMessage } from '../../utils/messages';
import { OFFSCREEN_PORT, PAGE_PORT, STATE_PORT } from '../../utils/ports';
import { present } from '../../utils/presentation';
import { BUILT_IN_CRM_MATCHES } from '../../utils/crm-sites';
import { loadCatalogue, setCatalogue, t } from '../../utils/i18n';
import { type EffectiveSettings } from '../../utils/settings';
import { loadEffectiveSettings, refreshPolicy, watchEffectiveSettings } from '../../utils/settings-store';
import { agentPresence, feedState, migrateLegacySettings } from '../../utils/storage-items';
import { mayRunOn, syncCrmSites } from './site-scripts';
import { planAttention } from './attention';
import { ChatMessageCommand, commandHandler, ConversationCommand, isExtensionPage, OfferCommand, PickContactCommand, RejectCommand } from './commands';
import { findDynamicsTabs, identifyCustomer, needsLookup } from './identify';
import { FeedConnection } from './feed-connection';
import type { ConnectionState } from '../../utils/connection';
import { Notifier } from './notifier';
import { OfferActions, openSidePanel, type PanelTarget } from './offer-actions';
import { injectIntoOpenTabs } from './reinject';
import { Ringer } from './ringer';
import { StateHub, type ViewSettings } from './state-hub';
import { StateKeeper } from './state-keeper';
import { toolbarLook } from './toolbar';

const WAKE_ALARM = 'deskbell-wake';
const WAKE_PERIOD_MIN = 1;
const DEADLINE_ALARM = 'deskbell-deadline';

/** Keyboard shortcuts (manifest `commands`), handled in the worker from any tab. */
export const COMMANDS = { accept: 'accept-newest', reject: 'reject-newest', panel: 'open-panel' } as const;

export default defineBackground(() => {
  const hub = new StateHub(() => attend());
  const notifier = new Notifier();
  const ringer = new Ringer((sound) => feed.noteDiagnostics({ sound }));
  let settings: ViewSettings = { theme: 'system', templates: {}, sitesMissingPermission: [] };
  let applied: EffectiveSettings | undefined;
  const keeper = new StateKeeper({
    load: () => feedState.getValue(),
    save: (state) => feedState.setValue(state),
    onView: (state) => hub.setState(state),
    onChange: (state) => {
      paintToolbar();
      identifyNewCustomers(state);
      actions.autoAcceptNew();
      actions.tellTimeouts();
      attend();
    },
    onSaveError: (error, compacted) =>
      feed.noteDiagnostics({
        lastStorageError: `${new Date().toISOString()} ${compacted ? 'stored with only the latest messages of each conversation' : 'kept in memory only'}: ${String(error)}`,
      }),
    scheduleWake: (at) => {
      if (at === undefined) void browser.alarms.clear(DEADLINE_ALARM);
      else void browser.alarms.create(DEADLINE_ALARM, { when: at });
    },
  });
  // How each new offer or assignment shows is decided once, on arrival, from the templates in force then.
  const feed = new FeedConnection(
    keeper,
    (scenario, kind, now) => present(scenario, kind, settings.templates, now),
    (next) => {
      connection = next;
      hub.setConnection(next);
      paintToolbar();
    },
    () => actions.tellTimeouts(),
  );
  const actions = new OfferActions(keeper, feed);

  /** The toolbar button: offers waiting, and whether the feed is reachable (changed only when it changes). */
  let connection: ConnectionState | null = null;
  let toolbar = '';
  function paintToolbar(): void {
    const look = toolbarLook(pendingOffers(keeper.state).length, connection);
    const key = JSON.stringify(look);
    if (key === toolbar) return;
    toolbar = key;
    void browser.action.setBadgeText({ text: look.text });
    void browser.action.setBadgeBackgroundColor({ color: look.color });
    const status = look.problem === null || !connection ? '' : ` · ${t(`connection_${connection.status}`)}${look.problem ? `: ${look.problem}` : ''}`;
    void browser.action.setTitle({ title: t('extName') + status });
  }

  /** Brings desktop notifications and the ringtone in line with the offers waiting. */
  function attend(): void {
    const plan = planAttention(keeper.state, hub.crmTabInView(), Date.now());
    void notifier.apply(plan.notifications);
    void ringer.apply(plan.sound);
  }

  browser.runtime.onInstalled.addListener(({ reason }) => {
    if (reason === 'install' || reason === 'update') {
      void settingsReady.then(() => injectIntoOpenTabs([...BUILT_IN_CRM_MATCHES, ...(applied?.settings.crmSites ?? [])]));
    }
  });

  restrictLocalStorage();
  const settingsReady = migrateLegacySettings().then(applySettings);
  void settingsReady.then(refreshPolicy);
  const extensionOrigin = browser.runtime.getURL('/');
  const pagesOnly = { extensionOrigin };
  browser.runtime.onConnect.addListener((port: Browser.runtime.Port) => {
    if (port.name === OFFSCREEN_PORT && isExtensionPage(port.sender ?? {}, extensionOrigin)) return ringer.attach(port);
    const kind = port.name === STATE_PORT ? 'overlay' : port.name === PAGE_PORT ? 'page' : undefined;
    // Whole sessions go to the extension's own pages only, never to a content script.
    if (!kind || (kind === 'page' && !isExtensionPage(port.sender ?? {}, extensionOrigin))) return port.disconnect();
    // The first push waits for the stored state and the settings, so a woken worker never shows an empty view.
    // An overlay on a site Deskbell no longer has access to is sent away.
    const allowed = kind === 'page' || mayRunOn(port.sender?.url);
    hub.add(port, kind, Promise.all([keeper.ready, settingsReady, allowed]).then(([, , ok]) => ok));
  });

  // While the feed is connected, its heartbeat keeps the worker running. When
  // the feed is down, Chrome stops the idle worker; this alarm wakes it once a
  // minute to try again (a CRM tab's overlay wakes it sooner). It must stay
  // longer than Chrome's 30 s idle timeout, or it would keep the worker alive.
  browser.alarms.onAlarm.addListener(() => feed.nudge());
  void browser.alarms.get(WAKE_ALARM).then((alarm) => {
    // Created once: created again at every start, it would never fire for a worker that restarts more often.
    if (alarm?.periodInMinutes !== WAKE_PERIOD_MIN) void browser.alarms.create(WAKE_ALARM, { periodInMinutes: WAKE_PERIOD_MIN });
  });

  watchEffectiveSettings(() => void applySettings());
  agentPresence.watch((presence) => feed.setPresence(presence));
  // A revoked or newly granted host permission changes which CRM sites can run.
  browser.permissions.onAdded.addListener(() => void applySettings());
  browser.permissions.onRemoved.addListener(() => {
    void applySettings();
    void hub.dropOverlays(mayRunOn);
  });

  onMessage('acceptOffer', commandHandler(OfferCommand, ({ offerId }, sender) => {
    // Before any await: the click that sent this message still counts as a user gesture.
    openSidePanel(panelTarget(sender.tab));
    return actions.accept(offerId);
  }));

  onMessage('rejectOffer', commandHandler(RejectCommand, ({ offerId, reason }) => actions.reject(offerId, reason)));

  onMessage('openSession', commandHandler(ConversationCommand, ({ conversationId }, sender) => {
    openSidePanel(panelTarget(sender.tab));
    return actions.open(conversationId);
  }));

  onMessage('dismissNotice', commandHandler(ConversationCommand, ({ conversationId }) => actions.dismiss(conversationId)));

  /** Back to the CRM tab, where the cards are. */
  function showCrmTab(): void {
    const tab = hub.crmTab();
    if (!tab) return;
    void browser.tabs.update(tab.tabId, { active: true });
    void browser.windows.update(tab.windowId, { focused: true });
  }

  browser.notifications.onClicked.addListener((id) => {
    const plan = notifier.planOf(id);
    // A toast's notification opens its session, as the toast does; an alert's goes to the alert.
    if (plan && !plan.alert) {
      openSidePanel(panelTarget(hub.crmTab()));
      void actions.open(plan.conversationId);
    } else showCrmTab();
    void browser.notifications.clear(id);
  });

  browser.notifications.onButtonClicked.addListener((id, button) => {
    const plan = notifier.planOf(id);
    if (!plan?.offerId) return;
    if (button === 0) {
      openSidePanel(panelTarget(hub.crmTab()));
      void actions.accept(plan.offerId);
    } else void rejectOrAskReason(plan.offerId);
  });

  /** Rejects from outside the card; when the template wants a reason, the card shows its reasons instead. */
  async function rejectOrAskReason(offerId: string): Promise<void> {
    const result = await actions.reject(offerId);
    if (result.ok || !result.needsReason) return;
    showCrmTab();
    hub.chooseReason(offerId);
  }

  browser.commands.onCommand.addListener((command, tab) => {
    if (command === COMMANDS.panel) return openSidePanel(panelTarget(tab));
    const offerId = actions.newest();
    if (!offerId) return;
    if (command === COMMANDS.accept) {
      openSidePanel(panelTarget(tab));
      void actions.accept(offerId);
    } else if (command === COMMANDS.reject) void rejectOrAskReason(offerId);
  });

  onMessage('sendChatMessage', commandHandler(ChatMessageCommand, async ({ conversationId, clientMsgId, text }) => {
    await keeper.ready;
    const session = keeper.state.sessions[conversationId];
    if (!session) return { ok: false, error: t('error_not_open') };
    if (session.endedBy) return { ok: false, error: t('error_ended') };
    return feed.send({ type: 'send', conversationId, clientMsgId, text }) ? { ok: true } : { ok: false, error: t('error_not_connected') };
  }, pagesOnly));

  onMessage('endConversation', commandHandler(ConversationCommand, async ({ conversationId }) => {
    await keeper.ready;
    const session = keeper.state.sessions[conversationId];
    if (!session) return { ok: false, error: t('error_not_open') };
    if (session.endedBy) return { ok: true };
    return feed.send({ type: 'end', conversationId }) ? { ok: true } : { ok: false, error: t('error_not_connected') };
  }, pagesOnly));

  onMessage('closeSession', commandHandler(ConversationCommand, async ({ conversationId }) => {
    await keeper.ready;
    if (!keeper.state.sessions[conversationId]?.endedBy) return { ok: false, error: t('error_end_first') };
    await keeper.update((s) => closeSession(s, conversationId));
    return { ok: true };
  }, pagesOnly));

  onMessage('pickContact', commandHandler(PickContactCommand, async ({ conversationId, contactId }) => {
    await keeper.ready;
    const next = await keeper.update((s) => pickContact(s, conversationId, contactId));
    return next.identifications[conversationId]?.status === 'matched' ? { ok: true } : { ok: false, error: t('error_not_a_match') };
  }, pagesOnly));

  /**
   * Starts a CRM lookup for each conversation that has a number to look up
   * and no answer yet; a lookup cut short by a worker restart starts again.
   */
  const lookups = new Set<string>();
  function identifyNewCustomers(state: FeedState): void {
    const conversations = [...pendingOffers(state).map((o) => o.conversation), ...Object.values(state.sessions).map((s) => s.conversation)];
    for (const c of conversations) {
      const known = state.identifications[c.id];
      if (lookups.has(c.id) || !needsLookup(c) || (known && known.status !== 'pending')) continue;
      lookups.add(c.id);
      void (async () => {
        if (!known) await keeper.update((s) => setIdentification(s, c.id, { status: 'pending', phone: c.customer.phone! }));
        const result = await identifyCustomer(c, {
          region: applied?.settings.defaultRegion ?? 'NL',
          findOrgTabs: findDynamicsTabs,
          askTab: (tabId, tails) => sendMessage('findContacts', { tails }, tabId),
        });
        await keeper.update((s) => (s.identifications[c.id] ? setIdentification(s, c.id, result) : s));
        lookups.delete(c.id);
      })();
    }
  }

  /** Reads the effective settings (saved under policy) and applies what changed. */
  async function applySettings(): Promise<void> {
    const next = await loadEffectiveSettings();
    const prev = applied?.settings;
    applied = next;
    const s = next.settings;
    if (!prev || prev.feedUrl !== s.feedUrl || prev.feedToken !== s.feedToken) void feed.restart(s.feedUrl, s.feedToken);
    const [sites, strings] = await Promise.all([
      syncCrmSites(s.crmSites).catch((error: unknown) => {
        console.warn('[deskbell] could not register the CRM sites:', error);
        return { active: [], missingPermission: s.crmSites };
      }),
      s.language === 'auto' ? undefined : loadCatalogue(s.language).catch(() => undefined),
    ]);
    settings = { theme: s.theme, templates: s.templates, sitesMissingPermission: sites.missingPermission, ...(strings ? { strings } : {}) };
    // What the worker itself says (errors, notifications, the toolbar) follows the language too.
    setCatalogue(strings);
    hub.setSettings(settings);
    // Offers that arrived before the settings were loaded auto-accept now if their template says so.
    actions.autoAcceptNew();
    attend();
  }
});

/**
 * Settings (the feed token among them) live in storage.local, which content
 * scripts may read and write by default. Only the extension's own pages and
 * worker get it from here on; a browser that cannot restrict it says so.
 */
function restrictLocalStorage(): void {
  const local = browser.storage.local as unknown as { setAccessLevel?: (o: { accessLevel: string }) => Promise<void> };
  local.setAccessLevel?.({ accessLevel: 'TRUSTED_CONTEXTS' }).catch((error: unknown) => {
    console.warn('[deskbell] this browser lets content scripts read storage.local:', error);
  });
}

/** Where to open the side panel for an action in this tab. */
function panelTarget(tab: { id?: number; windowId?: number; tabId?: number } | undefined): PanelTarget {
  const tabId = tab?.tabId ?? tab?.id;
  if (tabId !== undefined) return { tabId };
  return tab?.windowId !== undefined ? { windowId: tab.windowId } : undefined;
}

